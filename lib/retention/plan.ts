/**
 * The retention planner: a pure function over a catalog that says, for every item, keep or remove
 * and why. One location (local disk or S3) at a time; the policy differs only in the WAL window.
 *
 * Invariants (checked by a property test over 400 simulated days):
 *  - the newest good backup of every tier is kept, whatever the counts say;
 *  - every WAL file a kept base backup needs for point-in-time recovery (from its start segment on)
 *    is kept, and a base backup old enough to reach back to the start of the PITR window is kept;
 *  - nothing is removed because it failed: failed items are only ever removed for age or count;
 *  - a configuration archive is kept while a kept "unchanged" record names it (its files are there).
 */
import type { Tier } from '../catalog/names';

export interface RetentionPolicy {
  daily: number;
  weekly: number;
  monthly: number;
  /** PITR window in days: base backups and WAL needed to recover to any time inside it. */
  walDays: number;
  snapshotDays: number;
}

export interface InventoryItem {
  key: string;
  kind: 'logical' | 'globals' | 'base' | 'wal' | 'snapshot' | 'orphan' | 'config' | 'config-unchanged';
  /** When it was made (for WAL: archived; for orphans: file time). ISO 8601. */
  finishedAt: string;
  tier?: Tier;
  /** `YYYYMMDD-HHMMSS` of logical and globals backups (pairs them). */
  stamp?: string;
  /** false when its last verification failed. */
  good?: boolean;
  /** Base backups: the first WAL segment they need. WAL: the file name. */
  startWal?: string;
  segment?: string;
  /** Snapshots: the bucket. */
  group?: string;
  /** Unchanged configuration records: the key of the archive holding their files. */
  sameAs?: string;
}

export interface Decision {
  key: string;
  kind: InventoryItem['kind'];
  reason: string;
}

export interface RetentionPlan {
  keep: Decision[];
  remove: Decision[];
}

const DAY_MS = 86_400_000;
/** An artifact without metadata younger than this may still be being written. */
export const ORPHAN_GRACE_MS = DAY_MS;

const newestFirst = (a: InventoryItem, b: InventoryItem): number => b.finishedAt.localeCompare(a.finishedAt);

export function planRetention(items: readonly InventoryItem[], policy: RetentionPolicy, now: Date): RetentionPlan {
  const plan: RetentionPlan = { keep: [], remove: [] };
  const keep = (i: InventoryItem, reason: string): void => void plan.keep.push({ key: i.key, kind: i.kind, reason });
  const remove = (i: InventoryItem, reason: string): void => void plan.remove.push({ key: i.key, kind: i.kind, reason });
  const windowStart = now.getTime() - policy.walDays * DAY_MS;

  // 1. Logical backups: the newest N of each tier, and always the newest good one.
  const keptStamps = new Set<string>();
  for (const tier of ['daily', 'weekly', 'monthly'] as const) {
    const count = policy[tier];
    const list = items.filter((i) => i.kind === 'logical' && i.tier === tier).sort(newestFirst);
    const newestGood = list.find((i) => i.good !== false);
    list.forEach((item, index) => {
      if (index < count) keep(item, `within the newest ${count} ${tier} backups`);
      else if (item === newestGood) keep(item, `newest good ${tier} backup (the ${count} newer ones failed verification)`);
      else return remove(item, `older than the newest ${count} ${tier} backups`);
      if (item.stamp) keptStamps.add(`${tier}/${item.stamp}`);
    });
  }

  // 2. Globals go with the database backup of the same tier and stamp.
  for (const item of items.filter((i) => i.kind === 'globals')) {
    if (keptStamps.has(`${item.tier}/${item.stamp}`)) keep(item, 'belongs to a kept database backup');
    else remove(item, 'its database backup is not kept');
  }

  // 3. Base backups: those inside the PITR window, the newest one before it (so the window's start
  //    is reachable), and always the newest good one.
  const bases = items.filter((i) => i.kind === 'base').sort(newestFirst);
  const newestGoodBase = bases.find((b) => b.good !== false);
  const anchor = bases.find((b) => Date.parse(b.finishedAt) < windowStart && b.good !== false);
  const keptBases: InventoryItem[] = [];
  for (const base of bases) {
    if (Date.parse(base.finishedAt) >= windowStart) keep(base, `inside the ${policy.walDays}-day PITR window`);
    else if (base === anchor) keep(base, `newest base backup before the ${policy.walDays}-day PITR window: recovery to its start needs it`);
    else if (base === newestGoodBase) keep(base, 'newest good base backup');
    else {
      remove(base, `before the ${policy.walDays}-day PITR window and not needed to reach it`);
      continue;
    }
    keptBases.push(base);
  }

  // 4. WAL: everything a kept base backup needs; otherwise kept for the window, then removed.
  const oldestNeeded = keptBases.map((b) => b.startWal).filter((s): s is string => Boolean(s)).sort()[0];
  for (const wal of items.filter((i) => i.kind === 'wal')) {
    const name = wal.segment ?? wal.key.split('/').pop() ?? '';
    if (name.endsWith('.history')) keep(wal, 'timeline history (always kept)');
    else if (oldestNeeded && name.slice(0, 24) >= oldestNeeded) keep(wal, `needed by a kept base backup (from ${oldestNeeded})`);
    else if (Date.parse(wal.finishedAt) >= windowStart) keep(wal, `archived within ${policy.walDays} days`);
    else remove(wal, `older than ${policy.walDays} days and before every kept base backup`);
  }

  // 5. MinIO snapshots: the window, and always the newest of each bucket.
  const snapshots = items.filter((i) => i.kind === 'snapshot').sort(newestFirst);
  const newestPerBucket = new Set<string>();
  for (const snap of snapshots) {
    const group = snap.group ?? snap.key;
    if (!newestPerBucket.has(group)) {
      newestPerBucket.add(group);
      keep(snap, `newest snapshot of ${group}`);
    } else if (now.getTime() - Date.parse(snap.finishedAt) < policy.snapshotDays * DAY_MS) keep(snap, `within ${policy.snapshotDays} days`);
    else remove(snap, `older than ${policy.snapshotDays} days`);
  }

  // 6. Configuration backups (archives and unchanged records, one per run): GFS over the runs.
  planConfigBackups(items, policy, keep, remove);

  // 7. Artifacts without metadata (interrupted runs) are not backups; removed after a grace period.
  for (const orphan of items.filter((i) => i.kind === 'orphan')) {
    if (now.getTime() - Date.parse(orphan.finishedAt) >= ORPHAN_GRACE_MS) remove(orphan, 'artifact without metadata (an interrupted run), older than a day');
    else keep(orphan, 'artifact without metadata, younger than a day (may still be being written)');
  }
  return plan;
}

/** ISO week of a UTC date as `YYYY-Www` (weeks start on Monday; the year is the week's Thursday's). */
export function isoWeek(date: Date): string {
  const d = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
  d.setUTCDate(d.getUTCDate() + 3 - ((d.getUTCDay() + 6) % 7));
  const firstThursday = new Date(Date.UTC(d.getUTCFullYear(), 0, 4));
  const week = 1 + Math.round(((d.getTime() - firstThursday.getTime()) / DAY_MS - 3 + ((firstThursday.getUTCDay() + 6) % 7)) / 7);
  return `${d.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}

/**
 * Configuration backups run daily and are kept like the daily tier, thinned grandfather-father-son
 * with the same counts: the newest `daily` runs, the newest run of each of the newest `weekly` ISO
 * weeks and of each of the newest `monthly` calendar months (UTC), and always the newest good
 * archive. A run is an archive or an unchanged record; an archive a kept record names is kept too.
 */
function planConfigBackups(items: readonly InventoryItem[], policy: RetentionPolicy, keep: (i: InventoryItem, reason: string) => void, remove: (i: InventoryItem, reason: string) => void): void {
  const runs = items.filter((i) => i.kind === 'config' || i.kind === 'config-unchanged').sort(newestFirst);
  const reasons = new Map<InventoryItem, string>();
  runs.slice(0, policy.daily).forEach((run) => reasons.set(run, `within the newest ${policy.daily} configuration backups (daily)`));
  for (const [count, period, of] of [[policy.weekly, 'week', (d: Date) => isoWeek(d)], [policy.monthly, 'month', (d: Date) => d.toISOString().slice(0, 7)]] as const) {
    const seen = new Set<string>();
    for (const run of runs) {
      const p = of(new Date(run.finishedAt));
      if (seen.has(p)) continue;
      seen.add(p);
      if (seen.size > count) break;
      if (!reasons.has(run)) reasons.set(run, `newest configuration backup of ${period} ${p} (the newest ${count} ${period}s are kept)`);
    }
  }
  const newestGood = runs.find((r) => r.kind === 'config' && r.good !== false);
  if (newestGood && !reasons.has(newestGood)) reasons.set(newestGood, 'newest good configuration archive');
  // Archives whose files kept records stand for.
  for (const run of runs) {
    if (run.kind !== 'config-unchanged' || !reasons.has(run) || !run.sameAs) continue;
    const archive = runs.find((a) => a.kind === 'config' && a.key === run.sameAs);
    if (archive && !reasons.has(archive)) reasons.set(archive, `holds the files of the kept unchanged record ${run.key}`);
  }
  for (const run of runs) {
    const reason = reasons.get(run);
    if (reason) keep(run, reason);
    else remove(run, `older than the newest ${policy.daily} configuration backups and not the newest of a kept week or month`);
  }
}
