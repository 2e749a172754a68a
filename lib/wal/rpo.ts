/**
 * The recovery point objective, decided purely (no I/O, safe inside workflows): parsing RPO_TARGET,
 * what it implies for archive_timeout and the shipping interval, and the current exposure.
 *
 * What can be lost when the database host burns is everything not yet off-site. WAL leaves the host
 * in whole segments: PostgreSQL closes a segment when it is full or `archive_timeout` after the first
 * write into it, `lifeboat wal archive` copies it into the local archive (its mtime is that moment),
 * and the `wal-ship` schedule sends it off-site. So the worst case is
 *   archive_timeout + ship interval + one ship's duration,
 * and the budget below splits RPO_TARGET as 1/2 archive_timeout, 1/5 ship interval, the rest margin.
 *
 * Exposure, precisely: every WAL record of the newest shipped segment was written before that segment
 * was archived, and nothing after it is off-site; so the newest transaction that is off-site is at
 * most as old as the segment's archive time, and the exposure is `now - archivedAt(newest shipped
 * segment)`. One refinement keeps a quiet database from alarming: when PostgreSQL's current WAL
 * position is still at the end of that segment (nothing written since), everything it has is off-site
 * and the exposure is 0. When the database cannot be asked, the time-based figure stands (it can
 * only overstate the loss).
 *
 * "The newest shipped segment" is the newest one whose predecessors are all off-site too: segments
 * are shipped several at once and finish in any order, and a segment off-site behind a gap restores
 * nothing (recovery stops at the first missing segment). The caller gives that segment (exposure.ts).
 */
import type { Evaluation } from '../notify/state';

/** Parse a duration such as `5m`, `300s`, `1h`, `90` (seconds) or `2min`; undefined when invalid. */
export function parseDurationSeconds(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?)?\s*$/i.exec(text);
  if (!m) return undefined;
  const value = Number(m[1]);
  const unit = (m[2] ?? 's').toLowerCase();
  const seconds = unit.startsWith('h') ? value * 3600 : unit.startsWith('m') ? value * 60 : value;
  return Number.isFinite(seconds) && seconds > 0 ? Math.round(seconds) : undefined;
}

/** Shortest and longest RPO_TARGET accepted, seconds. */
export const RPO_TARGET_MIN_SECONDS = 30;
export const RPO_TARGET_MAX_SECONDS = 7 * 86_400;

/** Why `text` is not a valid RPO_TARGET, or undefined. */
export function rpoTargetProblem(text: string): string | undefined {
  const seconds = parseDurationSeconds(text);
  if (seconds === undefined) return 'is not a duration (write e.g. 5m, 300s or 1h)';
  if (seconds < RPO_TARGET_MIN_SECONDS || seconds > RPO_TARGET_MAX_SECONDS) return `must be between ${RPO_TARGET_MIN_SECONDS} s and 7 days`;
  return undefined;
}

/** The archive_timeout that fits RPO_TARGET: half of it (the embedded stack's 60 s fits the default). */
export function recommendedArchiveTimeoutSeconds(rpoTargetSeconds: number): number {
  return Math.max(10, Math.floor(rpoTargetSeconds / 2));
}

/** Interval of the `wal-ship` schedule: a fifth of RPO_TARGET, from 10 s to the seed's 5 minutes. */
export function shipIntervalSeconds(rpoTargetSeconds: number): number {
  return Math.min(300, Math.max(10, Math.floor(rpoTargetSeconds / 5)));
}

/** The WAL address just past segment `name` (24 hex digits), or undefined for other names. */
export function segmentEndLsn(name: string, segmentSize: number): bigint | undefined {
  const m = /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})$/.exec(name);
  if (!m) return undefined;
  const perLog = 0x1_0000_0000n / BigInt(segmentSize);
  return (BigInt(parseInt(m[2]!, 16)) * perLog + BigInt(parseInt(m[3]!, 16)) + 1n) * BigInt(segmentSize);
}

/** `X/Y` (PostgreSQL's notation) as a number. */
export function parseLsn(text: string): bigint | undefined {
  const m = /^([0-9A-F]{1,8})\/([0-9A-F]{1,8})$/i.exec(text.trim());
  return m ? (BigInt(`0x${m[1]}`) << 32n) + BigInt(`0x${m[2]}`) : undefined;
}

export interface ExposureInput {
  /** ISO UTC. */
  now: string;
  rpoTargetSeconds: number;
  /** The newest shipped WAL segment (by name) and when it was archived (local mtime, else shipped time). */
  newestShipped?: { name: string; archivedAt: string };
  /** When the oldest file of the local archive was archived (the exposure while nothing is shipped). */
  oldestLocalArchivedAt?: string;
  /** pg_current_wal_lsn() of the database, when it answered. */
  currentLsn?: string;
  segmentSize: number;
}

export interface RpoExposure {
  targetSeconds: number;
  /** Seconds of committed work that a loss of the database host would take with it (upper bound); absent when there is no WAL at all. */
  exposureSeconds?: number;
  /** How the figure was found: nothing written since the newest shipped segment, its age, or nothing shipped at all. */
  basis: 'caught-up' | 'newest-shipped' | 'nothing-shipped';
  newestShipped?: string;
  newestShippedArchivedAt?: string;
  /**
   * Set when the off-site store could not be listed (why, secrets scrubbed): the newest shipped
   * segment is then the one the last successful listing found, so the figure can only overstate.
   */
  offsiteUnreachable?: string;
}

export function measureExposure(input: ExposureInput): RpoExposure {
  const base = { targetSeconds: input.rpoTargetSeconds };
  const shipped = input.newestShipped;
  const age = (iso: string): number => Math.max(0, Math.round((Date.parse(input.now) - Date.parse(iso)) / 1000));
  // Nothing off-site at all: everything since the oldest archived file is at risk.
  if (!shipped) return { ...base, exposureSeconds: input.oldestLocalArchivedAt ? age(input.oldestLocalArchivedAt) : undefined, basis: 'nothing-shipped' };
  const end = segmentEndLsn(shipped.name, input.segmentSize);
  const current = input.currentLsn ? parseLsn(input.currentLsn) : undefined;
  const common = { ...base, newestShipped: shipped.name, newestShippedArchivedAt: shipped.archivedAt };
  if (end !== undefined && current !== undefined && current <= end) return { ...common, exposureSeconds: 0, basis: 'caught-up' };
  return { ...common, exposureSeconds: age(shipped.archivedAt), basis: 'newest-shipped' };
}

/** The monitoring state of an exposure: over the target warns, over three times the target is critical. */
export function exposureSeverity(exposure: Pick<RpoExposure, 'exposureSeconds' | 'targetSeconds'>): 'ok' | 'warning' | 'critical' {
  if (exposure.exposureSeconds === undefined) return 'ok';
  if (exposure.exposureSeconds > 3 * exposure.targetSeconds) return 'critical';
  if (exposure.exposureSeconds > exposure.targetSeconds) return 'warning';
  return 'ok';
}

/** The alert condition of the exposure (one name for monitoring and shipping: one alert state). */
export const RPO_EXPOSURE_CONDITION = 'rpo-exposure';

/**
 * The `rpo-exposure` evaluation: warning over the target, critical over three times it, resolved
 * when back under. The hourly monitor and every WAL shipping run evaluate it the same way, into the
 * same alert state, so it is raised within a shipping interval and deduplicated between the two.
 * Undefined when there is no figure (no WAL archived yet): the alert state then stays as it was.
 */
export function rpoExposureEvaluation(exposure: RpoExposure, targetSeconds = exposure.targetSeconds): Evaluation | undefined {
  if (exposure.exposureSeconds === undefined) return undefined;
  const r = { ...exposure, targetSeconds };
  const state = exposureSeverity(r);
  const since = r.newestShipped ? `the newest off-site WAL ${r.newestShipped} was archived at ${r.newestShippedArchivedAt}` : 'no WAL has been shipped off-site yet';
  const unreachable = r.offsiteUnreachable ? ` (the off-site store does not answer: ${r.offsiteUnreachable}; newest off-site WAL as last listed)` : '';
  return {
    condition: RPO_EXPOSURE_CONDITION,
    severity: state === 'critical' ? 'critical' : 'warning',
    firing: state !== 'ok',
    summary: `RPO exposure ${r.exposureSeconds} s against a target of ${r.targetSeconds} s (${state === 'ok' ? 'met' : state === 'critical' ? 'over three times the target' : 'over the target'}): ${r.basis === 'caught-up' ? 'everything written is off-site' : since}${unreachable}`,
    details: {
      exposureSeconds: r.exposureSeconds, targetSeconds: r.targetSeconds, basis: r.basis, newestShipped: r.newestShipped ?? null, newestShippedArchivedAt: r.newestShippedArchivedAt ?? null,
      ...(r.offsiteUnreachable ? { offsiteUnreachable: r.offsiteUnreachable } : {}),
    },
  };
}
