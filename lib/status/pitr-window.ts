/**
 * The point-in-time recovery window, decided purely from the base backups and the archived WAL
 * listing: the oldest and newest instant a `restore --pitr` could reach today. It asks the PITR
 * planner itself (choosePitrPlan with `latest`) about each base backup, so status and restore can
 * never disagree about what is recoverable.
 *
 * Oldest: the end of the oldest base backup from which the WAL runs without a gap to the end of the
 * archive (an older base behind a gap is not a way back). Newest: the archive time of the last
 * segment replay would reach from the newest such base (an upper bound of the last commit in it).
 */
import type { BaseMetadata } from '../catalog/metadata';
import { choosePitrPlan, LATEST, parseTargetTime, type ArchivedWalFile } from '../pitr/plan';

export interface PitrWindow {
  /** Base backups considered. */
  bases: number;
  /** The oldest recoverable instant (ISO UTC), when any base backup is recoverable to the end of the archive. */
  oldest?: string;
  /** The newest recoverable instant (ISO UTC): when the last segment of the archive was archived. */
  newest?: string;
  /** The base backup the oldest instant starts from. */
  oldestBase?: string;
  /** The base backup a recovery to `latest` would start from. */
  newestBase?: string;
  /** Why there is no window (no base backup, or the planner's WAL verdict for the newest base). */
  problem?: string;
}

export function pitrWindow(bases: readonly BaseMetadata[], wal: readonly ArchivedWalFile[], segmentSize: number, now: Date): PitrWindow {
  if (bases.length === 0) return { bases: 0, problem: 'there is no base backup: point-in-time recovery needs one (lifeboat backup base)' };
  const target = parseTargetTime(LATEST, 'UTC', now);
  const sorted = [...bases].sort((a, b) => a.finishedAt.localeCompare(b.finishedAt));
  const verdicts = sorted.map((base) => {
    try {
      return { base, continuity: choosePitrPlan({ target, bases: [base], wal: [...wal], segmentSize }).continuity };
    } catch (error) {
      return { base, continuity: { verdict: 'gap' as const, firstMissing: '', message: error instanceof Error ? error.message : String(error) } };
    }
  });
  const recoverable = verdicts.filter((v) => v.continuity.verdict === 'complete');
  const newest = recoverable[recoverable.length - 1];
  if (!newest || newest.continuity.verdict !== 'complete') {
    const last = verdicts[verdicts.length - 1]!.continuity;
    return { bases: bases.length, problem: last.verdict === 'complete' ? 'no base backup is recoverable' : last.message };
  }
  const oldest = recoverable[0]!;
  const reached = newest.continuity.reachedBy.archivedAt;
  return {
    bases: bases.length,
    oldest: oldest.base.finishedAt,
    newest: reached > newest.base.finishedAt ? reached : newest.base.finishedAt,
    oldestBase: oldest.base.key,
    newestBase: newest.base.key,
  };
}
