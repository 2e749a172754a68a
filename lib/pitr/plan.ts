/**
 * Point-in-time recovery planning, pure: no I/O, no clock (the caller passes `now`), no Temporal.
 *
 *  choosePitrPlan    which base backup serves that instant, which WAL segments replay it, and whether
 *                    the archived WAL is continuous from the base's start LSN to the target
 *  applyCommitScan   "reaches the target" made exact: a transaction must have ended after the target
 *                    in the archived WAL (PostgreSQL stops at the first commit/abort after it, and
 *                    fails when there is none); the facts come from ./wal-commits.ts
 *  assertRecoverable turn a plan whose WAL verdict is bad into the error an operator can act on
 *
 * The target time is parsed in ./target-time.ts and WAL segment arithmetic lives in ./segments.ts
 * (both re-exported here). Activities (activities/pitr.ts) gather the facts (base metadata, WAL
 * listings from the catalog) and carry the plan out; everything decided here is table-tested in
 * test/unit/pitr-plan.test.ts.
 */
import type { BaseMetadata } from '../catalog/metadata';
import { BackupNotFound, InputInvalid, OperationRefused } from '../errors';
import { DEFAULT_WAL_SEGMENT_SIZE, nextSegmentName, parseSegmentName, segmentName, timelineOfWalFile, type PlannedSegment, type WalSource } from './segments';
import { humanUtc, PITR_FIELD, type PitrTarget } from './target-time';

export * from './segments';
export * from './target-time';

export interface ArchivedWalFile {
  /** File name as archived (segments, and also .history/.backup/.partial files, which are not segments). */
  name: string;
  /**
   * When it was archived (ISO 8601). Local archive: the file's mtime. Remote only: when it was
   * shipped, which is later than when it was archived, so it can only make the check optimistic.
   */
  archivedAt: string;
  source: WalSource;
}

export type WalContinuity =
  /** Every segment from the base's start is there, up to one archived at or after the target. */
  | { verdict: 'complete'; reachedBy: { segment: string; archivedAt: string } }
  /** A segment is missing although later ones exist. */
  | { verdict: 'gap'; firstMissing: string; message: string }
  /** The archive ends before the target: nothing archived at or after it yet. */
  | { verdict: 'not-reached'; newest?: { segment: string; archivedAt: string }; newestTransactionAt?: string; message: string }
  /** The archive continues on a newer timeline, which this planner does not follow. */
  | { verdict: 'timeline-switch'; timelines: number[]; evidence: string; message: string };

export interface PitrPlanInput {
  target: PitrTarget;
  bases: BaseMetadata[];
  wal: ArchivedWalFile[];
  segmentSize?: number;
  /**
   * The base backup the operator named (its catalog key): used instead of the newest one before the
   * target, and refused when it is not there or finished after the target.
   */
  baseKey?: string;
}

export interface PitrPlan {
  target: PitrTarget;
  base: BaseMetadata;
  /**
   * Segments replay needs, in order, from base.startWal to the first one archived at or after the
   * target, then those archived in the same burst (or shipping batch) and one more when archived.
   * Replay may still read further: restore_command also finds anything else in the local archive,
   * so only remote-only segments depend on this list; PostgreSQL reports WAL that ends too soon.
   */
  segments: PlannedSegment[];
  continuity: WalContinuity;
  /** Things an operator should know that do not stop the recovery. */
  warnings: string[];
  segmentSize: number;
}

const micros = (iso: string): number => Date.parse(iso) * 1000;

/** Local segments archived within this long of the first one past the target: one archiver burst. */
const ARCHIVER_BURST_WINDOW_MICROS = 5 * 60 * 1e6;
/** Remote-only segments shipped within this long of each other: one shipping run. */
const SHIP_BATCH_WINDOW_MICROS = 15 * 60 * 1e6;

/**
 * Choose the newest base backup that finished at or before the target and check the WAL from its
 * start to the target (for `latest`: the newest base backup, and every segment from its start to the
 * end of the archive, which must have no gap). Refuses (InputInvalid on --pitr) a target earlier than every base backup,
 * and (BackupNotFound) when there is no base backup at all. The WAL verdict is returned, not
 * thrown: see assertRecoverable.
 */
export function choosePitrPlan(input: PitrPlanInput): PitrPlan {
  const { target, wal } = input;
  const segmentSize = input.segmentSize ?? DEFAULT_WAL_SEGMENT_SIZE;
  if (input.bases.length === 0) {
    throw new BackupNotFound('there is no base backup to recover from', 'take one with `lifeboat backup base`; point-in-time recovery starts from a base backup and replays WAL');
  }
  const bases = [...input.bases].sort((a, b) => micros(a.finishedAt) - micros(b.finishedAt));
  const oldest = bases[0]!;
  const eligible = bases.filter((b) => micros(b.finishedAt) <= target.epochMicros);
  const base = input.baseKey !== undefined ? namedBase(input.baseKey, bases, eligible, target) : eligible[eligible.length - 1];
  if (!base) {
    throw new InputInvalid(
      PITR_FIELD,
      `${humanUtc(target.epochMicros)} is before the oldest base backup (${oldest.key}, finished ${humanUtc(micros(oldest.finishedAt))}): there is nothing to recover from`,
      `choose a time at or after ${humanUtc(micros(oldest.finishedAt))}, or restore an older logical dump instead`,
    );
  }

  const start = parseSegmentName(base.startWal, segmentSize);
  const stop = parseSegmentName(base.stopWal, segmentSize);
  if (!start || !stop) throw new InputInvalid('base', `${base.key} records start/stop WAL ${base.startWal}/${base.stopWal}, which are not segment names`);
  const timeline = start.timeline;

  // The base's timeline, by segment number; local copies win over remote ones.
  const available = new Map<number, ArchivedWalFile>();
  let newest: { segno: number; file: ArchivedWalFile } | undefined;
  const newerTimelines = new Map<number, string>();
  for (const file of wal) {
    const tl = timelineOfWalFile(file.name);
    if (tl !== undefined && tl > timeline) {
      const seen = newerTimelines.get(tl);
      if (!seen || file.name < seen) newerTimelines.set(tl, file.name);
    }
    const id = parseSegmentName(file.name, segmentSize);
    if (!id || id.timeline !== timeline) continue;
    const known = available.get(id.segno);
    if (!known || (known.source === 'remote' && file.source === 'local')) available.set(id.segno, file);
    if (!newest || id.segno > newest.segno) newest = { segno: id.segno, file };
  }

  const segments: PlannedSegment[] = [];
  let continuity: WalContinuity | undefined;
  for (let segno = start.segno; ; segno++) {
    const name = segmentName({ timeline, segno }, segmentSize);
    const file = available.get(segno);
    if (!file) {
      // The base backup carries start..stop in its own pg_wal (pg_basebackup -X fetch).
      if (segno <= stop.segno) {
        segments.push({ name, source: 'base' });
        continue;
      }
      if (target.latest && (!newest || segno > newest.segno)) {
        // `latest`: the end of the archive is the target; replay stops where the WAL does.
        const last = segments[segments.length - 1]!;
        const lastFile = available.get(segno - 1);
        continuity = { verdict: 'complete', reachedBy: { segment: last.name, archivedAt: lastFile?.archivedAt ?? base.finishedAt } };
        break;
      }
      if (!newest || segno > newest.segno) {
        const at = newest ? `the newest archived segment is ${newest.file.name}, archived ${humanUtc(micros(newest.file.archivedAt))}` : 'nothing is archived after the base backup';
        continuity = {
          verdict: 'not-reached',
          newest: newest ? { segment: newest.file.name, archivedAt: newest.file.archivedAt } : undefined,
          message: `WAL does not reach the target yet: ${at}, before the target ${humanUtc(target.epochMicros)}`,
        };
      } else {
        continuity = { verdict: 'gap', firstMissing: name, message: `WAL is not continuous from ${base.key} (start ${base.startLsn}): segment ${name} is missing from the archive, locally and off-site` };
      }
      break;
    }
    segments.push({ name, source: file.source });
    if (!target.latest && micros(file.archivedAt) >= target.epochMicros) {
      // Archive times only bound a segment's contents from above: the archiver may be catching up
      // (local) and shipping runs in batches (remote-only: the time is when it was shipped). The
      // segments archived in the same burst as this one may still hold WAL from before the target,
      // so they come along, and then one more: replay may ask for it.
      const burstEnd = micros(file.archivedAt) + (file.source === 'remote' ? SHIP_BATCH_WINDOW_MICROS : ARCHIVER_BURST_WINDOW_MICROS);
      let next = segno + 1;
      for (let f = available.get(next); f && micros(f.archivedAt) <= burstEnd; f = available.get(++next)) segments.push({ name: f.name, source: f.source });
      const after = available.get(next);
      if (after) segments.push({ name: after.name, source: after.source });
      continuity = { verdict: 'complete', reachedBy: { segment: name, archivedAt: file.archivedAt } };
      break;
    }
  }

  const warnings: string[] = [];
  if (newerTimelines.size > 0) {
    const timelines = [...newerTimelines.keys()].sort((a, b) => a - b);
    const evidence = newerTimelines.get(timelines[0]!)!;
    const switchText = `the WAL archive continues on timeline ${timelines.join(', ')} (${evidence}) after ${base.key} on timeline ${timeline}`;
    if (continuity.verdict !== 'complete') {
      continuity = {
        verdict: 'timeline-switch',
        timelines,
        evidence,
        message: `${continuity.message}; ${switchText}, and recovery across a timeline switch is not supported`,
      };
    } else {
      warnings.push(`${switchText}; recovery stays on timeline ${timeline} (recovery_target_timeline = 'current')`);
    }
  }
  return { target, base, segments, continuity, warnings, segmentSize };
}

/** The base backup named by the operator, checked: it exists (in the copies planned from) and finished by the target. */
function namedBase(key: string, bases: BaseMetadata[], eligible: BaseMetadata[], target: PitrTarget): BaseMetadata {
  const base = bases.find((b) => b.key === key);
  const newestEligible = eligible[eligible.length - 1];
  if (!base) {
    throw new BackupNotFound(
      `base backup ${key} is not among the base backups that can be read (${bases.length} found${newestEligible ? `, the newest before the target is ${newestEligible.key}` : ''})`,
      'list them with `lifeboat restore --list`; with --source local|remote only that copy counts',
    );
  }
  if (micros(base.finishedAt) > target.epochMicros) {
    throw new InputInvalid(
      'base',
      `${key} finished at ${humanUtc(micros(base.finishedAt))}, after the target ${humanUtc(target.epochMicros)}: recovery cannot stop before its base backup ends, nothing was started`,
      newestEligible ? `name a base backup finished before the target (the newest is ${newestEligible.key}), or leave the backup out to use it` : `choose a time at or after ${humanUtc(micros(base.finishedAt))}`,
    );
  }
  return base;
}

/**
 * What the archived WAL says about transaction ends after the target (./wal-commits.ts reads it with
 * pg_waldump, from the segment that reaches the target onwards, stopping at the first one found).
 */
export interface TransactionEnd {
  /** ISO 8601 UTC with microseconds. */
  at: string;
  /** The same instant in microseconds since the epoch (as the target's epochMicros). */
  micros: number;
  segment: string;
}

export interface CommitScan {
  /** The first commit or abort record after the target: recovery stops just before it. */
  afterTarget?: TransactionEnd;
  /** The newest transaction end found at or before the target, in the segments read. */
  newestAtOrBefore?: TransactionEnd;
  /** Segments read, in order. */
  scanned: string[];
  /** Why the scan could not decide (pg_waldump missing or failing, a segment unreadable): then it does not refuse. */
  undecided?: string;
}

/**
 * Make "reaches the target" mean it: PostgreSQL ends a recovery to a time at the first transaction
 * that ended after it, and fails ("recovery ended before configured recovery target was reached")
 * when the WAL ends first. So a complete plan whose WAL holds no commit/abort after the target
 * becomes `not-reached`; one whose first such commit lies past the planned segments is extended up
 * to it (a remote-only segment must be fetched to be replayed). An undecided scan only warns.
 * `latest` has no target to reach and is returned as it is.
 */
export function applyCommitScan(plan: PitrPlan, scan: CommitScan, wal: ArchivedWalFile[]): PitrPlan {
  if (plan.target.latest || plan.continuity.verdict !== 'complete') return plan;
  if (scan.undecided) {
    return { ...plan, warnings: [...plan.warnings, `could not check that a transaction ended after the target in the archived WAL (${scan.undecided}); recovery stops short if none did`] };
  }
  if (scan.afterTarget) {
    const last = plan.segments[plan.segments.length - 1]!;
    if (scan.afterTarget.segment <= last.name) return plan;
    const byName = new Map<string, ArchivedWalFile>();
    for (const f of wal) if (!byName.has(f.name) || f.source === 'local') byName.set(f.name, f);
    const segments = [...plan.segments];
    for (let name = nextSegmentName(last.name, plan.segmentSize); name <= scan.afterTarget.segment; name = nextSegmentName(name, plan.segmentSize)) {
      const file = byName.get(name);
      if (!file) break;
      segments.push({ name, source: file.source });
    }
    return { ...plan, segments };
  }
  const newest = scan.newestAtOrBefore
    ? `the newest transaction in the archived WAL ended at ${humanUtc(scan.newestAtOrBefore.micros)} (segment ${scan.newestAtOrBefore.segment})`
    : `no transaction ended in the ${scan.scanned.length} archived segment${scan.scanned.length === 1 ? '' : 's'} from ${scan.scanned[0] ?? plan.continuity.reachedBy.segment} on`;
  return {
    ...plan,
    continuity: {
      verdict: 'not-reached',
      newest: { segment: scan.scanned[scan.scanned.length - 1] ?? plan.continuity.reachedBy.segment, archivedAt: plan.continuity.reachedBy.archivedAt },
      newestTransactionAt: scan.newestAtOrBefore?.at,
      message: `recovery would stop short of ${humanUtc(plan.target.epochMicros)}: no transaction that ended after it is archived yet; ${newest}`,
    },
  };
}

/** Throw the error an operator can act on when the plan's WAL verdict is not `complete`. */
export function assertRecoverable(plan: PitrPlan): void {
  const c = plan.continuity;
  switch (c.verdict) {
    case 'complete':
      return;
    case 'gap':
      throw new BackupNotFound(`${c.message}; first missing segment: ${c.firstMissing}`, `find ${c.firstMissing} (and what follows) and put it in the WAL archive, or choose a time before the gap with a later base backup`);
    case 'not-reached':
      throw new InputInvalid(
        PITR_FIELD,
        c.message,
        `use --pitr latest to recover to the end of the archived WAL${c.newestTransactionAt ? ` (${c.newestTransactionAt})` : ''}, or choose an earlier time; or wait until a transaction after the target is archived (archive_timeout, or SELECT pg_switch_wal() on the server) and try again`,
      );
    case 'timeline-switch':
      throw new OperationRefused(c.message, 'recover by hand with recovery_target_timeline, or choose a time before the switch');
  }
}
