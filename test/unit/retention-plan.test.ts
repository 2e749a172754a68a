import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatStamp, type Tier } from '../../lib/catalog/names';
import { planRetention, type InventoryItem, type RetentionPolicy } from '../../lib/retention/plan';

const POLICY: RetentionPolicy = { daily: 7, weekly: 4, monthly: 12, walDays: 7, snapshotDays: 7 };
const DAY = 86_400_000;
const T0 = Date.parse('2025-01-01T00:00:00Z');
const iso = (ms: number): string => new Date(ms).toISOString();
const segment = (n: number): string => `00000001${Math.floor(n / 256).toString(16).toUpperCase().padStart(8, '0')}${(n % 256).toString(16).toUpperCase().padStart(8, '0')}`;

describe('planRetention: table of reasons', () => {
  const now = new Date('2025-03-01T05:00:00Z');
  const daily = (day: number, good = true): InventoryItem => {
    const at = Date.parse('2025-03-01T02:00:00Z') - day * DAY;
    return { key: `daily/db_daily_${formatStamp(new Date(at))}.sql.zst.gpg`, kind: 'logical', tier: 'daily', finishedAt: iso(at), stamp: formatStamp(new Date(at)), good };
  };

  it('keeps the newest 7 daily backups and removes older ones, with reasons', () => {
    const items = Array.from({ length: 10 }, (_, d) => daily(d));
    const plan = planRetention(items, POLICY, now);
    expect(plan.keep.map((d) => d.reason)).toEqual(Array(7).fill('within the newest 7 daily backups'));
    expect(plan.remove).toEqual([7, 8, 9].map((d) => ({ key: daily(d).key, kind: 'logical', reason: 'older than the newest 7 daily backups' })));
  });

  it('keeps the newest good backup even when the 7 newer ones failed verification', () => {
    const items = [...Array.from({ length: 7 }, (_, d) => daily(d, false)), daily(7, true), daily(8, true)];
    const plan = planRetention(items, POLICY, now);
    expect(plan.keep.find((d) => d.key === daily(7).key)?.reason).toBe('newest good daily backup (the 7 newer ones failed verification)');
    expect(plan.remove.map((d) => d.key)).toEqual([daily(8).key]);
  });

  it('keeps globals with their database backup only', () => {
    const kept = daily(0);
    const gone = daily(9);
    const globals = (d: InventoryItem): InventoryItem => ({ key: `daily/globals_${d.stamp}.sql.zst.gpg`, kind: 'globals', tier: 'daily', stamp: d.stamp, finishedAt: d.finishedAt });
    const plan = planRetention([...Array.from({ length: 10 }, (_, d) => daily(d)), globals(kept), globals(gone)], POLICY, now);
    expect(plan.keep.find((d) => d.key === globals(kept).key)?.reason).toBe('belongs to a kept database backup');
    expect(plan.remove.find((d) => d.key === globals(gone).key)?.reason).toBe('its database backup is not kept');
  });

  it('keeps base backups of the PITR window, the one before it, and the WAL they need', () => {
    const base = (day: number, startSeg: number): InventoryItem => ({ key: `base/${day}/base.tar.zst.gpg`, kind: 'base', finishedAt: iso(now.getTime() - day * DAY), startWal: segment(startSeg) });
    const wal = (n: number, day: number): InventoryItem => ({ key: `wal-archive/${segment(n)}`, kind: 'wal', segment: segment(n), finishedAt: iso(now.getTime() - day * DAY) });
    const items = [base(2, 100), base(9, 30), base(12, 10), wal(5, 13), wal(10, 12), wal(29, 9.5), wal(30, 9), wal(100, 2), { key: 'wal-archive/00000002.history', kind: 'wal' as const, segment: '00000002.history', finishedAt: iso(T0) }];
    const plan = planRetention(items, POLICY, now);
    const reason = (key: string): string | undefined => [...plan.keep, ...plan.remove].find((d) => d.key === key)?.reason;
    expect(reason('base/2/base.tar.zst.gpg')).toBe('inside the 7-day PITR window');
    expect(reason('base/9/base.tar.zst.gpg')).toBe('newest base backup before the 7-day PITR window: recovery to its start needs it');
    expect(reason('base/12/base.tar.zst.gpg')).toBe('before the 7-day PITR window and not needed to reach it');
    expect(reason(`wal-archive/${segment(30)}`)).toBe(`needed by a kept base backup (from ${segment(30)})`);
    expect(reason(`wal-archive/${segment(29)}`)).toBe('older than 7 days and before every kept base backup');
    expect(reason(`wal-archive/${segment(10)}`)).toBe('older than 7 days and before every kept base backup');
    expect(reason('wal-archive/00000002.history')).toBe('timeline history (always kept)');
  });

  it('keeps the newest snapshot of each bucket and a day-old orphan, removes old ones', () => {
    const snap = (bucket: string, day: number): InventoryItem => ({ key: `snapshots/${bucket}_${day}.tar.gz.gpg`, kind: 'snapshot', group: bucket, finishedAt: iso(now.getTime() - day * DAY) });
    const plan = planRetention(
      [snap('a', 30), snap('a', 40), snap('b', 1), snap('b', 8), { key: 'daily/x.partial-leftover', kind: 'orphan', finishedAt: iso(now.getTime() - 2 * DAY) }, { key: 'daily/y', kind: 'orphan', finishedAt: iso(now.getTime() - 3600_000) }],
      POLICY,
      now,
    );
    expect(plan.keep.map((d) => d.key).sort()).toEqual(['daily/y', 'snapshots/a_30.tar.gz.gpg', 'snapshots/b_1.tar.gz.gpg']);
    expect(plan.remove.map((d) => d.reason)).toEqual(['older than 7 days', 'older than 7 days', 'artifact without metadata (an interrupted run), older than a day']);
  });
});

/** xorshift32: a deterministic stream of failures from one seed. */
function random(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

describe('planRetention over 400 simulated days of runs with random failures', () => {
  it('keeps every invariant every day', { timeout: 120_000 }, () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.double({ min: 0, max: 0.5, noNaN: true }), fc.double({ min: 0, max: 0.95, noNaN: true }), (seed, failureRate, badRate) => {
        const rnd = random(seed);
        let inventory: InventoryItem[] = [];
        let walCounter = 0;
        for (let day = 0; day < 400; day++) {
          const midnight = T0 + day * DAY;
          // WAL archived every hour.
          for (let h = 0; h < 24; h++) {
            const name = segment(walCounter++);
            inventory.push({ key: `wal-archive/${name}`, kind: 'wal', segment: name, finishedAt: iso(midnight + h * 3600_000) });
          }
          // 00:30 base backup, 02:00 daily, Sunday 03:00 weekly, 1st 04:00 monthly: each may fail (no
          // artifact, failureRate) or be made and then fail verification (good: false, badRate).
          const date = new Date(midnight);
          if (rnd() >= failureRate) {
            inventory.push({ key: `base/${day}/base.tar.zst.gpg`, kind: 'base', finishedAt: iso(midnight + 1800_000), startWal: segment(walCounter - 24), good: rnd() >= badRate });
          }
          const runs: [Tier, number][] = [['daily', 2]];
          if (date.getUTCDay() === 0) runs.push(['weekly', 3]);
          if (date.getUTCDate() === 1) runs.push(['monthly', 4]);
          for (const [tier, hour] of runs) {
            if (rnd() < failureRate) continue;
            const at = midnight + hour * 3600_000;
            const stamp = formatStamp(new Date(at));
            inventory.push({ key: `${tier}/db_${tier}_${stamp}.sql.zst.gpg`, kind: 'logical', tier, stamp, finishedAt: iso(at), good: rnd() >= badRate });
            inventory.push({ key: `${tier}/globals_${stamp}.sql.zst.gpg`, kind: 'globals', tier, stamp, finishedAt: iso(at) });
          }
          // 05:00 prune.
          const now = new Date(midnight + 5 * 3600_000);
          const windowStart = now.getTime() - POLICY.walDays * DAY;
          const before = inventory;
          const plan = planRetention(before, POLICY, now);
          const removed = new Set(plan.remove.map((d) => d.key));
          // Every item gets exactly one decision.
          if (plan.keep.length + plan.remove.length !== before.length) expect(plan.keep.length + plan.remove.length).toBe(before.length);
          inventory = before.filter((i) => !removed.has(i.key));

          const violations: string[] = [];
          const fail = (what: string): void => void violations.push(`day ${day}: ${what}`);
          for (const tier of ['daily', 'weekly', 'monthly'] as const) {
            const all = before.filter((i) => i.kind === 'logical' && i.tier === tier).sort((a, b) => b.finishedAt.localeCompare(a.finishedAt));
            const newestGood = all.find((i) => i.good !== false);
            if (newestGood && removed.has(newestGood.key)) fail(`newest good ${tier} removed`);
            const kept = all.filter((i) => !removed.has(i.key));
            if (kept.length > POLICY[tier] + 1) fail(`${kept.length} ${tier} kept`);
            if (all.slice(0, POLICY[tier]).some((i) => removed.has(i.key))) fail(`one of the newest ${POLICY[tier]} ${tier} removed`);
            const keptStamps = new Set(kept.map((k) => k.stamp));
            if (inventory.some((x) => x.kind === 'globals' && x.tier === tier && !keptStamps.has(x.stamp))) fail(`${tier} globals kept without their backup`);
          }
          // WAL a kept base backup needs is kept: from its start segment to the newest.
          const keptBases = inventory.filter((i) => i.kind === 'base');
          const oldestNeeded = keptBases.map((b) => b.startWal!).sort()[0];
          if (oldestNeeded && before.some((i) => i.kind === 'wal' && i.segment! >= oldestNeeded && removed.has(i.key))) fail('WAL needed by a kept base removed');
          // The start of the PITR window stays reachable whenever a good base that old existed.
          const hadAnchor = before.some((i) => i.kind === 'base' && i.good !== false && Date.parse(i.finishedAt) < windowStart);
          if (hadAnchor && !keptBases.some((b) => b.good !== false && Date.parse(b.finishedAt) < windowStart)) fail('PITR window start unreachable');
          expect(violations).toEqual([]);
        }
        // Bounded: what is left is what the rules keep, not 400 days of everything. WAL stays only
        // when a kept base needs it or it is inside the window; logical backups within count + 1.
        const lastWindowStart = T0 + 399 * DAY + 5 * 3600_000 - POLICY.walDays * DAY;
        const oldestNeeded = inventory.filter((i) => i.kind === 'base').map((b) => b.startWal!).sort()[0] ?? 'Z';
        expect(inventory.filter((i) => i.kind === 'wal' && i.segment! < oldestNeeded && Date.parse(i.finishedAt) < lastWindowStart)).toEqual([]);
        expect(inventory.filter((i) => i.kind === 'logical').length).toBeLessThanOrEqual(POLICY.daily + POLICY.weekly + POLICY.monthly + 3);
      }),
      { numRuns: 12, examples: [[1, 0, 0.830056848935783]] },
    );
  });
});
