/**
 * Pure tests of point-in-time recovery planning (lib/pitr/plan.ts) and of reading the recovering
 * server's log (lib/pitr/recovery-log.ts): target times in zones with daylight saving time,
 * malformed and future times, base backup choice, WAL continuity verdicts, segment arithmetic.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BaseMetadata } from '../../lib/catalog/metadata';
import { BackupNotFound, InputInvalid, OperationRefused } from '../../lib/errors';
import {
  assertRecoverable, choosePitrPlan, expandRun, instantsForWallTime, nextSegmentName, parseSegmentName, parseTargetTime, segmentName, segmentRuns, timelineOfWalFile,
  type ArchivedWalFile, type PitrTarget,
} from '../../lib/pitr/plan';
import { asIsoUtc } from '../../lib/pitr/cluster';
import { describeStop, parseRecoveryLog } from '../../lib/pitr/recovery-log';
import { walSegmentName } from '../../lib/postgres/basebackup';

const NOW = new Date('2025-12-01T00:00:00Z');

function refusal(fn: () => unknown): InputInvalid {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(InputInvalid);
    return error as InputInvalid;
  }
  throw new Error('expected InputInvalid');
}

describe('parseTargetTime', () => {
  it.each([
    // input, zone, expected UTC
    ['2025-10-17 14:30:00+00', 'Europe/Berlin', '2025-10-17T14:30:00.000000Z'],
    ['2025-10-17T14:30Z', 'America/New_York', '2025-10-17T14:30:00.000000Z'],
    ['2025-10-17 14:30:00 UTC', 'Asia/Tokyo', '2025-10-17T14:30:00.000000Z'],
    ['2025-10-17 14:30:00.123456 +02:00', 'UTC', '2025-10-17T12:30:00.123456Z'],
    ['2025-10-17 14:30:00,5-0530', 'UTC', '2025-10-17T20:00:00.500000Z'],
    ['2025-10-17 14:30:00+0545', 'UTC', '2025-10-17T08:45:00.000000Z'],
    ['  2025-10-17 14:30  ', 'UTC', '2025-10-17T14:30:00.000000Z'],
    ['2024-02-29 12:00:00', 'UTC', '2024-02-29T12:00:00.000000Z'],
    // Without an offset: the configured zone, summer and winter time.
    ['2025-07-01 12:00', 'Europe/Berlin', '2025-07-01T10:00:00.000000Z'],
    ['2025-01-15 12:00', 'Europe/Berlin', '2025-01-15T11:00:00.000000Z'],
    ['2025-07-01 12:00:00.000001', 'America/New_York', '2025-07-01T16:00:00.000001Z'],
    // Just around the changes: the last second before and the first time after.
    ['2025-03-30 01:59:59', 'Europe/Berlin', '2025-03-30T00:59:59.000000Z'],
    ['2025-03-30 03:00:00', 'Europe/Berlin', '2025-03-30T01:00:00.000000Z'],
    ['2025-10-26 01:59:59', 'Europe/Berlin', '2025-10-25T23:59:59.000000Z'],
    ['2025-10-26 03:00:00', 'Europe/Berlin', '2025-10-26T02:00:00.000000Z'],
    // An ambiguous local time is fine once the offset says which.
    ['2025-10-26 02:30:00+02', 'Europe/Berlin', '2025-10-26T00:30:00.000000Z'],
    ['2025-10-26 02:30:00+01', 'Europe/Berlin', '2025-10-26T01:30:00.000000Z'],
  ])('reads %j in %s as %s', (input, zone, utc) => {
    const target = parseTargetTime(input, zone, NOW);
    expect(target.utc).toBe(utc);
    expect(target.postgres).toBe(utc.replace('T', ' ').replace('Z', '+00'));
    expect(target.epochMicros).toBe(Date.parse(utc) * 1000 + Number(utc.slice(23, 26)));
    expect(target.interpretedIn).toBe(/[+-]\d\d(:?\d\d)?$|Z$|UTC\s*$/.test(input.trim()) ? 'offset' : zone);
  });

  it.each([
    ['2025-10-26 02:30', 'Europe/Berlin', ['2025-10-26 00:30:00 UTC (+02:00)', '2025-10-26 01:30:00 UTC (+01:00)'], ['+02:00', '+01:00']],
    ['2025-11-02 01:30:00', 'America/New_York', ['2025-11-02 05:30:00 UTC (-04:00)', '2025-11-02 06:30:00 UTC (-05:00)'], ['-04:00', '-05:00']],
    // Lord Howe Island goes back by half an hour.
    ['2025-04-06 01:45', 'Australia/Lord_Howe', ['(+11:00)', '(+10:30)'], ['+11:00', '+10:30']],
  ])('refuses the ambiguous %j in %s, naming both readings and the offsets to add', (input, zone, readings, offsets) => {
    const error = refusal(() => parseTargetTime(input, zone, NOW));
    expect(error.field).toBe('--pitr');
    expect(error.message).toMatch(/^--pitr: .* is ambiguous in /);
    for (const r of readings) expect(error.message).toContain(r);
    for (const o of offsets) expect(error.hint).toContain(`${input}${o}`);
  });

  it.each([
    ['2025-03-30 02:30', 'Europe/Berlin', '+01:00'],
    ['2025-03-09 02:30:00', 'America/New_York', '-05:00'],
    ['2025-03-09 02:00', 'America/New_York', '-05:00'],
  ])('refuses %j, which does not exist in %s (clocks skip it)', (input, zone, offset) => {
    const error = refusal(() => parseTargetTime(input, zone, NOW));
    expect(error.message).toContain(`does not exist in ${zone}`);
    expect(error.hint).toContain(`${input}${offset}`);
  });

  it.each([
    ['', /is empty/],
    ['yesterday', /is not a date and time/],
    ['2025-10-17', /is not a date and time/],
    ['17/10/2025 14:30', /is not a date and time/],
    ['2025-10-17 14:30:00 Europe/Berlin', /is not a date and time/],
    ['2025-10-17 14:30:00+00 extra', /is not a date and time/],
    ['2025-13-01 00:00', /has no month 13/],
    ['2025-00-10 00:00', /has no month 0/],
    ['2025-02-29 10:00', /2025-02 has no day 29/],
    ['2025-04-31 10:00', /2025-04 has no day 31/],
    ['2025-10-17 24:00', /not a valid time of day/],
    ['2025-10-17 14:60', /not a valid time of day/],
    ['2025-10-17 14:30:60', /not a valid time of day/],
    ['2025-10-17 14:30:00.1234567', /more than 6 fractional digits/],
    ['2025-10-17 14:30:00+16', /impossible UTC offset/],
    ['2025-10-17 14:30:00+02:60', /impossible UTC offset/],
    ['1969-12-31 23:59:59+00', /before 1970/],
  ])('refuses the malformed %j with the format in the hint', (input, message) => {
    const error = refusal(() => parseTargetTime(input, 'UTC', NOW));
    expect(error.field).toBe('--pitr');
    expect(error.message).toMatch(message);
    expect(error.hint).toMatch(/YYYY-MM-DD HH:MM|choose/);
  });

  it('refuses a time in the future, by the microsecond, and accepts now', () => {
    const now = new Date('2025-10-17T14:30:00.000Z');
    expect(refusal(() => parseTargetTime('2025-10-17 14:30:00.000001+00', 'UTC', now)).message).toMatch(/is in the future \(now is 2025-10-17 14:30:00 UTC\)/);
    expect(refusal(() => parseTargetTime('2025-10-17 16:31', 'Europe/Berlin', now)).message).toMatch(/in the future/);
    expect(parseTargetTime('2025-10-17 14:30:00+00', 'UTC', now).utc).toBe('2025-10-17T14:30:00.000000Z');
    expect(parseTargetTime('2025-10-17 16:29:59', 'Europe/Berlin', now).utc).toBe('2025-10-17T14:29:59.000000Z');
  });

  it('finds exactly one instant for every wall time away from a change (any zone, any second)', () => {
    fc.assert(
      fc.property(fc.integer({ min: Date.UTC(1990, 0, 1) / 1000, max: Date.UTC(2037, 0, 1) / 1000 }), fc.constantFrom('UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata', 'Australia/Sydney'), (seconds, zone) => {
        const instant = seconds * 1000;
        const wall = new Date(instant).toLocaleString('sv-SE', { timeZone: zone }).replace(' ', 'T');
        const candidates = instantsForWallTime(Date.parse(`${wall}Z`), zone);
        expect(candidates).toContain(instant);
        expect(candidates.length).toBeLessThanOrEqual(2);
      }),
      { numRuns: 300 },
    );
  });
});

describe('WAL segment names', () => {
  it.each([
    ['000000010000000000000001', '000000010000000000000002'],
    ['0000000100000000000000FE', '0000000100000000000000FF'],
    ['0000000100000000000000FF', '000000010000000100000000'],
    ['00000003000000A7000000FF', '00000003000000A800000000'],
  ])('%s is followed by %s (16 MiB segments)', (name, next) => {
    expect(nextSegmentName(name)).toBe(next);
  });

  it('follows segments of other sizes (64 MiB: 0x40 per log id)', () => {
    expect(nextSegmentName('00000001000000000000003F', 64 * 1024 * 1024)).toBe('000000010000000100000000');
    expect(parseSegmentName('000000010000000000000040', 64 * 1024 * 1024)).toBeUndefined();
  });

  it.each(['00000002.history', '000000010000000000000003.00000028.backup', '000000010000000000000003.partial', '0000000100000000000000ff', '000000010000000000000100', 'RECOVERYXLOG'])(
    '%s is not a segment',
    (name) => expect(parseSegmentName(name)).toBeUndefined(),
  );

  it('knows the timeline of every kind of archived file', () => {
    expect(timelineOfWalFile('000000030000000000000010')).toBe(3);
    expect(timelineOfWalFile('00000002.history')).toBe(2);
    expect(timelineOfWalFile('000000020000000000000010.partial')).toBe(2);
    expect(timelineOfWalFile('000000010000000000000010.00000028.backup')).toBe(1);
    expect(timelineOfWalFile('junk')).toBeUndefined();
  });

  it('names segments exactly as PostgreSQL (XLogFileName) for any LSN', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.bigInt({ min: 0n, max: (1n << 48n) - 1n }), (timeline, lsn) => {
        const name = walSegmentName(timeline, lsn, 16 * 1024 * 1024);
        const id = parseSegmentName(name)!;
        expect(id).toEqual({ timeline, segno: Number(lsn / BigInt(16 * 1024 * 1024)) });
        expect(segmentName(id)).toBe(name);
        expect(nextSegmentName(name)).toBe(walSegmentName(timeline, lsn + BigInt(16 * 1024 * 1024), 16 * 1024 * 1024));
      }),
    );
  });
});

// --- choosePitrPlan fixtures: segment n (timeline 1) is archived at 00:00 + n * 15 min on 2025-10-17.
const seg = (n: number, timeline = 1): string => segmentName({ timeline, segno: n });
const archivedAt = (n: number): string => new Date(Date.UTC(2025, 9, 17) + n * 15 * 60_000).toISOString();

function base(stamp: string, finishedAt: string, startSeg: number, stopSeg: number, timeline = 1): BaseMetadata {
  return {
    format: 'lifeboat/1', kind: 'base', key: `base/${stamp}/base.tar.zst.gpg`, file: 'base.tar.zst.gpg', sha256: 'a'.repeat(64), bytes: 1000,
    compression: { algorithm: 'zstd', level: 3 }, encryption: { enabled: true }, startedAt: finishedAt, finishedAt, durationSeconds: 1, lifeboatVersion: '0.1.0',
    label: `lifeboat ${stamp}`, startLsn: `0/${(startSeg * 16).toString(16).toUpperCase()}000028`, stopLsn: `0/${(stopSeg * 16).toString(16).toUpperCase()}000100`, timeline,
    startWal: seg(startSeg, timeline), stopWal: seg(stopSeg, timeline),
  };
}

// Base A: 02:05, WAL 0x08. Base B: 12:05, WAL 0x30..0x31. The archive holds 0x08..0x40 (16:00).
const BASE_A = base('20251017-020000', '2025-10-17T02:05:00.000Z', 0x08, 0x08);
const BASE_B = base('20251017-120000', '2025-10-17T12:05:00.000Z', 0x30, 0x31);
const archive = (from = 0x08, to = 0x40, skip: number[] = []): ArchivedWalFile[] => {
  const files: ArchivedWalFile[] = [];
  for (let n = from; n <= to; n++) if (!skip.includes(n)) files.push({ name: seg(n), archivedAt: archivedAt(n), source: 'local' });
  return files;
};
const at = (text: string): PitrTarget => parseTargetTime(text, 'UTC', NOW);
const names = (from: number, to: number): string[] => Array.from({ length: to - from + 1 }, (_, i) => seg(from + i));

describe('choosePitrPlan', () => {
  it('chooses the newest base backup finished before the target and the WAL from its start to just past the target', () => {
    const plan = choosePitrPlan({ target: at('2025-10-17 14:30:00+00'), bases: [BASE_B, BASE_A], wal: archive() });
    expect(plan.base.key).toBe(BASE_B.key);
    // 0x3A was archived at 14:30, at the target: it ends the walk; 0x3B comes along in case 0x3A was filled just before.
    expect(plan.segments.map((s) => s.name)).toEqual(names(0x30, 0x3b));
    expect(plan.segments.every((s) => s.source === 'local')).toBe(true);
    expect(plan.continuity).toEqual({ verdict: 'complete', reachedBy: { segment: seg(0x3a), archivedAt: archivedAt(0x3a) } });
    expect(plan.warnings).toEqual([]);
    expect(() => assertRecoverable(plan)).not.toThrow();
  });

  it('takes the older base backup when the newer one finished after the target (also when given in any order)', () => {
    const plan = choosePitrPlan({ target: at('2025-10-17 10:00+00'), bases: [BASE_A, BASE_B], wal: archive() });
    expect(plan.base.key).toBe(BASE_A.key);
    expect(plan.segments.map((s) => s.name)).toEqual(names(0x08, 0x29));
  });

  it('accepts a target exactly when a base backup finished', () => {
    expect(choosePitrPlan({ target: at('2025-10-17 12:05:00+00'), bases: [BASE_A, BASE_B], wal: archive() }).base.key).toBe(BASE_B.key);
  });

  it('refuses a target before the oldest base backup, naming it and its time', () => {
    const error = refusal(() => choosePitrPlan({ target: at('2025-10-17 02:04:59.999999+00'), bases: [BASE_B, BASE_A], wal: archive() }));
    expect(error.field).toBe('--pitr');
    expect(error.message).toContain('is before the oldest base backup (base/20251017-020000/base.tar.zst.gpg, finished 2025-10-17 02:05:00 UTC)');
    expect(error.hint).toContain('2025-10-17 02:05:00 UTC');
  });

  it('refuses when there is no base backup at all', () => {
    expect(() => choosePitrPlan({ target: at('2025-10-17 10:00+00'), bases: [], wal: archive() })).toThrow(BackupNotFound);
  });

  it('`latest`: the newest base backup and every segment from its start to the end of the archive', () => {
    const latest = parseTargetTime('latest', 'UTC', NOW);
    expect(latest).toMatchObject({ input: 'latest', latest: true, postgres: '' });
    const plan = choosePitrPlan({ target: latest, bases: [BASE_A, BASE_B], wal: archive() });
    expect(plan.base.key).toBe(BASE_B.key);
    expect(plan.segments.map((s) => s.name)).toEqual(names(0x30, 0x40));
    expect(plan.continuity).toEqual({ verdict: 'complete', reachedBy: { segment: seg(0x40), archivedAt: archivedAt(0x40) } });
    expect(() => assertRecoverable(plan)).not.toThrow();
  });

  it('`latest` with nothing archived after the base backup replays its own WAL only', () => {
    const plan = choosePitrPlan({ target: parseTargetTime('LATEST', 'UTC', NOW), bases: [BASE_B], wal: archive(0x08, 0x20) });
    expect(plan.segments).toEqual([{ name: seg(0x30), source: 'base' }, { name: seg(0x31), source: 'base' }]);
    expect(plan.continuity).toEqual({ verdict: 'complete', reachedBy: { segment: seg(0x31), archivedAt: BASE_B.finishedAt } });
  });

  it('`latest` refuses a gap: WAL after it would be silently lost', () => {
    const plan = choosePitrPlan({ target: parseTargetTime('latest', 'UTC', NOW), bases: [BASE_A, BASE_B], wal: archive(0x08, 0x40, [0x38]) });
    expect(plan.continuity).toMatchObject({ verdict: 'gap', firstMissing: seg(0x38) });
    expect(() => assertRecoverable(plan)).toThrow(BackupNotFound);
  });

  it('names the first missing segment of a gap', () => {
    const plan = choosePitrPlan({ target: at('2025-10-17 14:30+00'), bases: [BASE_A, BASE_B], wal: archive(0x08, 0x40, [0x35, 0x36]) });
    expect(plan.continuity).toMatchObject({ verdict: 'gap', firstMissing: seg(0x35) });
    expect(plan.segments.map((s) => s.name)).toEqual(names(0x30, 0x34));
    expect(() => assertRecoverable(plan)).toThrow(BackupNotFound);
    expect(() => assertRecoverable(plan)).toThrow(`first missing segment: ${seg(0x35)}`);
  });

  it('says when the WAL does not reach the target yet, naming the newest segment and when it was archived', () => {
    const plan = choosePitrPlan({ target: at('2025-10-17 16:30+00'), bases: [BASE_A, BASE_B], wal: archive() });
    expect(plan.continuity).toMatchObject({ verdict: 'not-reached', newest: { segment: seg(0x40), archivedAt: archivedAt(0x40) } });
    const error = refusal(() => assertRecoverable(plan));
    expect(error.message).toBe(`--pitr: WAL does not reach the target yet: the newest archived segment is ${seg(0x40)}, archived 2025-10-17 16:00:00 UTC, before the target 2025-10-17 16:30:00 UTC`);
    expect(error.hint).toContain('pg_switch_wal()');
  });

  it('finds the base backup\'s own WAL in the backup (-X fetch) when the archive does not have it yet', () => {
    const plan = choosePitrPlan({ target: at('2025-10-17 14:30+00'), bases: [BASE_B], wal: archive(0x32, 0x40) });
    expect(plan.segments.slice(0, 3)).toEqual([{ name: seg(0x30), source: 'base' }, { name: seg(0x31), source: 'base' }, { name: seg(0x32), source: 'local' }]);
    expect(plan.continuity.verdict).toBe('complete');
    // ...but not beyond its stop segment.
    expect(choosePitrPlan({ target: at('2025-10-17 14:30+00'), bases: [BASE_B], wal: archive(0x33, 0x40) }).continuity).toMatchObject({ verdict: 'gap', firstMissing: seg(0x32) });
  });

  it('uses S3 for what is only there, the local archive for the rest, and ignores files that are not segments', () => {
    const shipped = (n: number): string => new Date(Date.UTC(2025, 9, 17, 13, 0, n)).toISOString();
    const wal: ArchivedWalFile[] = [
      ...archive(0x30, 0x40, [0x34, 0x35]),
      ...[0x33, 0x34, 0x35].map((n) => ({ name: seg(n), archivedAt: shipped(n), source: 'remote' as const })),
      { name: `${seg(0x30)}.00000028.backup`, archivedAt: archivedAt(0x30), source: 'local' },
      { name: `${seg(0x36)}.partial`, archivedAt: archivedAt(0x38), source: 'local' },
    ];
    const plan = choosePitrPlan({ target: at('2025-10-17 14:30+00'), bases: [BASE_B], wal });
    const runs = segmentRuns(plan.segments);
    expect(runs).toEqual([
      { first: seg(0x30), last: seg(0x33), count: 4, source: 'local' },
      { first: seg(0x34), last: seg(0x35), count: 2, source: 'remote' },
      { first: seg(0x36), last: seg(0x3b), count: 6, source: 'local' },
    ]);
    expect(runs.flatMap((r) => expandRun(r))).toEqual(plan.segments.map((s) => s.name));
  });

  it('takes the rest of an archiver burst: segments archived just after the target may hold WAL from before it', () => {
    // The archiver fell behind and archived 0x38..0x40 within seconds at 14:40.
    const wal = archive(0x30, 0x40).map((f, i) => (i >= 8 ? { ...f, archivedAt: new Date(Date.UTC(2025, 9, 17, 14, 40, i)).toISOString() } : f));
    const plan = choosePitrPlan({ target: at('2025-10-17 14:30+00'), bases: [BASE_B], wal });
    expect(plan.continuity).toMatchObject({ verdict: 'complete', reachedBy: { segment: seg(0x38) } });
    expect(plan.segments.map((s) => s.name)).toEqual(names(0x30, 0x40));
  });

  it('takes the whole shipping batch when only S3 has the WAL (ship times are later than archive times)', () => {
    // The local archive is gone; everything was shipped by one run at 15:00, a second apart, and the next run at 16:00.
    const shipped = (n: number): string => new Date(Date.UTC(2025, 9, 17, n < 0x3c ? 15 : 16, 0, n)).toISOString();
    const wal = archive(0x30, 0x40).map((f, i) => ({ ...f, archivedAt: shipped(0x30 + i), source: 'remote' as const }));
    const plan = choosePitrPlan({ target: at('2025-10-17 14:30+00'), bases: [BASE_B], wal });
    expect(plan.continuity).toMatchObject({ verdict: 'complete', reachedBy: { segment: seg(0x30) } });
    expect(plan.segments.map((s) => s.name)).toEqual(names(0x30, 0x3c));
    expect(plan.segments.every((s) => s.source === 'remote')).toBe(true);
  });

  it('walks across a log id boundary (...FF -> ...0001...00)', () => {
    const b = base('20251017-000000', '2025-10-17T00:00:00.000Z', 0xfe, 0xfe);
    const wal = [0xfe, 0xff, 0x100, 0x101].map((n, i) => ({ name: seg(n), archivedAt: new Date(Date.UTC(2025, 9, 17, 0, i + 1)).toISOString(), source: 'local' as const }));
    const plan = choosePitrPlan({ target: at('2025-10-17 00:02:30+00'), bases: [b], wal });
    expect(plan.segments.map((s) => s.name)).toEqual(['0000000100000000000000FE', '0000000100000000000000FF', '000000010000000100000000', '000000010000000100000001']);
  });

  it('reports a timeline switch as the reason when the base\'s timeline stops, and warns when it does not matter', () => {
    const switched: ArchivedWalFile[] = [
      ...archive(0x08, 0x38),
      { name: '00000002.history', archivedAt: archivedAt(0x38), source: 'local' },
      ...[0x38, 0x39, 0x3a, 0x3b].map((n) => ({ name: seg(n, 2), archivedAt: archivedAt(n + 1), source: 'local' as const })),
    ];
    const stuck = choosePitrPlan({ target: at('2025-10-17 14:45+00'), bases: [BASE_A, BASE_B], wal: switched });
    expect(stuck.continuity).toMatchObject({ verdict: 'timeline-switch', timelines: [2], evidence: '00000002.history' });
    expect(() => assertRecoverable(stuck)).toThrow(OperationRefused);
    expect(() => assertRecoverable(stuck)).toThrow(/timeline 2 \(00000002\.history\) after base\/20251017-120000\/base\.tar\.zst\.gpg on timeline 1.*not supported/);
    const fine = choosePitrPlan({ target: at('2025-10-17 13:00+00'), bases: [BASE_A, BASE_B], wal: switched });
    expect(fine.continuity.verdict).toBe('complete');
    expect(fine.warnings).toEqual([expect.stringContaining("recovery stays on timeline 1 (recovery_target_timeline = 'current')")]);
  });
});

describe('the recovering server\'s log', () => {
  const prefix = (ms: number, pid: number): string => `2025-11-29 23:10:01.${String(ms).padStart(3, '0')} UTC [${pid}] `;
  const LOG = [
    'LOG:  starting PostgreSQL 15.14 (Debian 15.14-1.pgdg120+1) on x86_64-pc-linux-gnu, 64-bit',
    'LOG:  listening on IPv4 address "127.0.0.1", port 15443',
    'postgres@postgres FATAL:  the database system is starting up',
    'LOG:  starting point-in-time recovery to 2025-11-29 23:06:00.123456+00',
    'postgres@postgres FATAL:  the database system is not yet accepting connections',
    'postgres@postgres DETAIL:  Consistent recovery state has not been yet reached.',
    'LOG:  restored log file "000000010000000000000018" from archive',
    'LOG:  redo starts at 0/18000028',
    'LOG:  restored log file "000000010000000000000019" from archive',
    'LOG:  consistent recovery state reached at 0/18000100',
    'LOG:  database system is ready to accept read-only connections',
    'LOG:  recovery stopping before commit of transaction 745, time 2025-11-29 23:06:01.654321+00',
    'LOG:  redo done at 0/19000148 system usage: CPU: user: 0.00 s, system: 0.00 s, elapsed: 0.30 s',
    'LOG:  last completed transaction was at log time 2025-11-29 23:05:59.000001+00',
    'sh: 1: cannot open 00000002.history: No such file',
    'LOG:  selected new timeline ID: 2',
    'LOG:  archive recovery complete',
    'LOG:  database system is ready to accept connections',
  ].map((line, i) => (line.startsWith('sh:') ? line : `${prefix(i, 2004)}${line}`)).join('\n');

  it('says where recovery stopped and what it replayed (refused client connections are not failures)', () => {
    const facts = parseRecoveryLog(LOG);
    expect(facts).toEqual({
      target: '2025-11-29 23:06:00.123456+00',
      restoredFiles: 2,
      lastRestoredFile: '000000010000000000000019',
      consistentAt: '0/18000100',
      stop: { position: 'before', kind: 'commit', xid: '745', time: '2025-11-29 23:06:01.654321+00' },
      lastCompletedTransactionAt: '2025-11-29 23:05:59.000001+00',
      redoDoneAt: '0/19000148',
      newTimeline: 2,
      ready: true,
      endedBeforeTarget: false,
      fatal: [],
    });
    expect(describeStop(facts)).toBe('recovery stopping before commit of transaction 745, time 2025-11-29 23:06:01.654321+00');
  });

  it('recognises WAL that ends before the target', () => {
    const facts = parseRecoveryLog(`${prefix(1, 2004)}LOG:  redo done at 0/19000148\n${prefix(2, 2004)}FATAL:  recovery ended before configured recovery target was reached\n${prefix(3, 2001)}LOG:  startup process (PID 2004) exited with exit code 1`);
    expect(facts.endedBeforeTarget).toBe(true);
    expect(facts.fatal).toEqual(['recovery ended before configured recovery target was reached']);
    expect(facts.ready).toBe(false);
  });

  it('turns the server\'s UTC timestamps into comparable ISO strings (fixed 6 fractional digits)', () => {
    expect(asIsoUtc('2025-10-17 14:30:01.5')).toBe('2025-10-17T14:30:01.500000Z');
    expect(asIsoUtc('2025-10-17 14:30:01')).toBe('2025-10-17T14:30:01.000000Z');
    expect(asIsoUtc('2025-10-17 14:30:01.123456')).toBe('2025-10-17T14:30:01.123456Z');
    expect(asIsoUtc(null)).toBeUndefined();
    expect(asIsoUtc('2025-10-17 14:30:01.1')! < parseTargetTime('2025-10-17 14:30:01.100001+00', 'UTC', NOW).utc).toBe(true);
  });
});
