/**
 * Point-in-time recovery planning, pure: no I/O, no clock (the caller passes `now`), no Temporal.
 *
 *  parseTargetTime   what the operator typed (`--pitr "2025-10-17 14:30:00+00"`) -> an exact instant
 *  choosePitrPlan    which base backup serves that instant, which WAL segments replay it, and whether
 *                    the archived WAL is continuous from the base's start LSN to the target
 *  assertRecoverable turn a plan whose WAL verdict is bad into the error an operator can act on
 *
 * Activities (activities/pitr.ts) gather the facts (base metadata, WAL listings) and carry the plan
 * out; everything decided here is table-tested in test/unit/pitr-plan.test.ts.
 */
import type { BaseMetadata } from '../catalog/metadata';
import { BackupNotFound, InputInvalid, OperationRefused } from '../errors';

export const PITR_FIELD = '--pitr';
const FORMAT_HINT = 'write the time as YYYY-MM-DD HH:MM[:SS[.ffffff]] with an optional offset, e.g. "2025-10-17 14:30:00+00"';

// ---------------------------------------------------------------------------------------------
// Target time
// ---------------------------------------------------------------------------------------------

export interface PitrTarget {
  /** What the operator typed. */
  input: string;
  /** Microseconds since the epoch (exact to the microsecond, as PostgreSQL compares). */
  epochMicros: number;
  /** ISO 8601 in UTC with microseconds: `2025-10-17T14:30:00.000000Z`. */
  utc: string;
  /** The value written to recovery_target_time: `2025-10-17 14:30:00.000000+00`. */
  postgres: string;
  /** How the input was read: `offset` when it carried one, else the IANA zone it was read in. */
  interpretedIn: string;
}

const TIME_PATTERN =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?\s*(?:([Zz]|UTC|utc)|([+-])(\d{2})(?::?(\d{2}))?)?$/;

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** `2025-10-17 14:30:00 UTC`, with the fraction only when it is not zero. */
export function humanUtc(epochMicros: number): string {
  const { date, fraction } = splitMicros(epochMicros);
  const iso = date.toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${fraction ? `.${pad(fraction, 6).replace(/0+$/, '')}` : ''} UTC`;
}

function splitMicros(epochMicros: number): { date: Date; fraction: number } {
  const seconds = Math.floor(epochMicros / 1e6);
  return { date: new Date(seconds * 1000), fraction: epochMicros - seconds * 1e6 };
}

function utcForms(epochMicros: number): { utc: string; postgres: string } {
  const { date, fraction } = splitMicros(epochMicros);
  const iso = date.toISOString();
  const base = `${iso.slice(0, 10)}T${iso.slice(11, 19)}.${pad(fraction, 6)}`;
  return { utc: `${base}Z`, postgres: `${base.replace('T', ' ')}+00` };
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Offset of `zone` from UTC at instant `epochMs`, in milliseconds (local = utc + offset). */
export function zoneOffsetMs(epochMs: number, zone: string): number {
  let format = formatters.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
    });
    formatters.set(zone, format);
  }
  const parts: Record<string, number> = {};
  for (const part of format.formatToParts(new Date(epochMs))) if (part.type !== 'literal') parts[part.type] = Number(part.value);
  const wall = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!);
  return wall - Math.floor(epochMs / 1000) * 1000;
}

/**
 * Every UTC instant (ms) at which the wall clock of `zone` shows `wallMs` (a wall time encoded as if
 * it were UTC): one normally, none in a daylight-saving gap, two in a fold.
 */
export function instantsForWallTime(wallMs: number, zone: string): number[] {
  const day = 86_400_000;
  const offsets = new Set([zoneOffsetMs(wallMs - day, zone), zoneOffsetMs(wallMs, zone), zoneOffsetMs(wallMs + day, zone)]);
  const instants = new Set<number>();
  for (const offset of offsets) {
    const instant = wallMs - offset;
    if (zoneOffsetMs(instant, zone) === offset) instants.add(instant);
  }
  return [...instants].sort((a, b) => a - b);
}

function formatOffset(offsetMs: number): string {
  const sign = offsetMs < 0 ? '-' : '+';
  const minutes = Math.abs(offsetMs) / 60_000;
  return `${sign}${pad(Math.floor(minutes / 60))}:${pad(minutes % 60)}`;
}

/**
 * Parse a PITR target. Accepts `YYYY-MM-DD HH:MM[:SS[.ffffff]]` (or `T` between date and time) with
 * an optional `Z`, `UTC`, `+HH`, `+HHMM` or `+HH:MM`. Without an offset the time is read in `zone`;
 * a time that does not exist there (skipped by a daylight-saving change) or exists twice (the hour
 * repeated when clocks go back) is refused, as is anything malformed or later than `now`.
 * Errors are InputInvalid on `--pitr`, with a hint saying how to write it.
 */
export function parseTargetTime(text: string, zone: string, now: Date): PitrTarget {
  const input = text.trim();
  if (input === '') throw new InputInvalid(PITR_FIELD, 'is empty', FORMAT_HINT);
  const m = TIME_PATTERN.exec(input);
  if (!m) throw new InputInvalid(PITR_FIELD, `"${input}" is not a date and time`, FORMAT_HINT);
  const [, ys, mos, ds, hs, mis, ss, fs, utcMark, sign, ohs, oms] = m;
  const [year, month, day, hour, minute, second] = [ys, mos, ds, hs, mis, ss ?? '0'].map(Number) as [number, number, number, number, number, number];
  if (fs !== undefined && fs.length > 6) throw new InputInvalid(PITR_FIELD, `"${input}" has more than 6 fractional digits (PostgreSQL keeps microseconds)`, FORMAT_HINT);
  if (year < 1970) throw new InputInvalid(PITR_FIELD, `"${input}" is before 1970`, FORMAT_HINT);
  if (month < 1 || month > 12) throw new InputInvalid(PITR_FIELD, `"${input}" has no month ${month}`, FORMAT_HINT);
  if (day < 1 || day > daysInMonth(year, month)) throw new InputInvalid(PITR_FIELD, `"${input}": ${ys}-${mos} has no day ${day}`, FORMAT_HINT);
  if (hour > 23 || minute > 59 || second > 59) throw new InputInvalid(PITR_FIELD, `"${input}" is not a valid time of day`, FORMAT_HINT);
  const micros = fs === undefined ? 0 : Number(fs.padEnd(6, '0'));
  const wallMs = Date.UTC(year, month - 1, day, hour, minute, second);

  let epochMs: number;
  let interpretedIn: string;
  if (utcMark !== undefined) {
    epochMs = wallMs;
    interpretedIn = 'offset';
  } else if (sign !== undefined) {
    const oh = Number(ohs);
    const om = oms === undefined ? 0 : Number(oms);
    if (oh > 15 || om > 59) throw new InputInvalid(PITR_FIELD, `"${input}" has an impossible UTC offset ${sign}${ohs}${oms !== undefined ? `:${oms}` : ''}`, FORMAT_HINT);
    epochMs = wallMs - (sign === '-' ? -1 : 1) * (oh * 60 + om) * 60_000;
    interpretedIn = 'offset';
  } else {
    const instants = instantsForWallTime(wallMs, zone);
    if (instants.length === 0) {
      const before = zoneOffsetMs(wallMs - 86_400_000, zone);
      throw new InputInvalid(
        PITR_FIELD,
        `"${input}" does not exist in ${zone}: the clocks skip that hour (daylight saving time starts)`,
        `choose a time outside the change, or give the offset explicitly, e.g. "${input}${formatOffset(before)}"`,
      );
    }
    if (instants.length > 1) {
      const readings = instants.map((t) => `${humanUtc(t * 1000)} (${formatOffset(zoneOffsetMs(t, zone))})`);
      throw new InputInvalid(
        PITR_FIELD,
        `"${input}" is ambiguous in ${zone}: the clocks go back and it happens twice, at ${readings.join(' and at ')}`,
        `add the offset you mean: "${input}${formatOffset(zoneOffsetMs(instants[0]!, zone))}" (the first) or "${input}${formatOffset(zoneOffsetMs(instants[1]!, zone))}" (the second)`,
      );
    }
    epochMs = instants[0]!;
    interpretedIn = zone;
  }
  const epochMicros = epochMs * 1000 + micros;
  if (epochMicros > now.getTime() * 1000) {
    throw new InputInvalid(PITR_FIELD, `"${input}" (${humanUtc(epochMicros)}) is in the future (now is ${humanUtc(now.getTime() * 1000)})`, 'point-in-time recovery goes back in time: choose a moment in the past');
  }
  return { input, epochMicros, ...utcForms(epochMicros), interpretedIn };
}

// ---------------------------------------------------------------------------------------------
// WAL segment names
// ---------------------------------------------------------------------------------------------

export const DEFAULT_WAL_SEGMENT_SIZE = 16 * 1024 * 1024;
const SEGMENT_NAME = /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})$/;
const HISTORY_NAME = /^([0-9A-F]{8})\.history$/;
const PARTIAL_NAME = /^([0-9A-F]{8})[0-9A-F]{16}\.partial$/;

export interface SegmentId {
  timeline: number;
  /** Segment number along the WAL (log id * segments per log id + segment in log id). */
  segno: number;
}

function segmentsPerLogId(segmentSize: number): number {
  return 0x100000000 / segmentSize;
}

/** A WAL segment's timeline and number; undefined for anything else (.history, .backup, .partial). */
export function parseSegmentName(name: string, segmentSize = DEFAULT_WAL_SEGMENT_SIZE): SegmentId | undefined {
  const m = SEGMENT_NAME.exec(name);
  if (!m) return undefined;
  const perId = segmentsPerLogId(segmentSize);
  const seg = parseInt(m[3]!, 16);
  if (seg >= perId) return undefined;
  return { timeline: parseInt(m[1]!, 16), segno: parseInt(m[2]!, 16) * perId + seg };
}

/** XLogFileName: the segment `segno` of `timeline`. */
export function segmentName(id: SegmentId, segmentSize = DEFAULT_WAL_SEGMENT_SIZE): string {
  const perId = segmentsPerLogId(segmentSize);
  const hex = (n: number): string => n.toString(16).toUpperCase().padStart(8, '0');
  return `${hex(id.timeline)}${hex(Math.floor(id.segno / perId))}${hex(id.segno % perId)}`;
}

/** The segment after `name` on the same timeline (`...000000FF` is followed by `...0001...00`). */
export function nextSegmentName(name: string, segmentSize = DEFAULT_WAL_SEGMENT_SIZE): string {
  const id = parseSegmentName(name, segmentSize);
  if (!id) throw new Error(`not a WAL segment name: ${name}`);
  return segmentName({ timeline: id.timeline, segno: id.segno + 1 }, segmentSize);
}

/** The timeline a WAL archive file belongs to (segments, .history, .partial, .backup). */
export function timelineOfWalFile(name: string): number | undefined {
  const m = SEGMENT_NAME.exec(name.slice(0, 24)) ?? HISTORY_NAME.exec(name) ?? PARTIAL_NAME.exec(name);
  return m ? parseInt(m[1]!, 16) : undefined;
}

// ---------------------------------------------------------------------------------------------
// The plan
// ---------------------------------------------------------------------------------------------

export type WalSource = 'local' | 'remote';

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

/** Where replay finds a segment: the local archive, S3, or the base backup's own pg_wal (`-X fetch`). */
export type SegmentSource = WalSource | 'base';

export interface PlannedSegment {
  name: string;
  source: SegmentSource;
}

export type WalContinuity =
  /** Every segment from the base's start is there, up to one archived at or after the target. */
  | { verdict: 'complete'; reachedBy: { segment: string; archivedAt: string } }
  /** A segment is missing although later ones exist. */
  | { verdict: 'gap'; firstMissing: string; message: string }
  /** The archive ends before the target: nothing archived at or after it yet. */
  | { verdict: 'not-reached'; newest?: { segment: string; archivedAt: string }; message: string }
  /** The archive continues on a newer timeline, which this planner does not follow. */
  | { verdict: 'timeline-switch'; timelines: number[]; evidence: string; message: string };

export interface PitrPlanInput {
  target: PitrTarget;
  bases: BaseMetadata[];
  wal: ArchivedWalFile[];
  segmentSize?: number;
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
 * start to the target. Refuses (InputInvalid on --pitr) a target earlier than every base backup,
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
  const base = eligible[eligible.length - 1];
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
    if (micros(file.archivedAt) >= target.epochMicros) {
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

/** Throw the error an operator can act on when the plan's WAL verdict is not `complete`. */
export function assertRecoverable(plan: PitrPlan): void {
  const c = plan.continuity;
  switch (c.verdict) {
    case 'complete':
      return;
    case 'gap':
      throw new BackupNotFound(`${c.message}; first missing segment: ${c.firstMissing}`, `find ${c.firstMissing} (and what follows) and put it in the WAL archive, or choose a time before the gap with a later base backup`);
    case 'not-reached':
      throw new InputInvalid(PITR_FIELD, c.message, 'wait for the next segment to be archived (archive_timeout), or run SELECT pg_switch_wal() on the server, then try again; or choose an earlier time');
    case 'timeline-switch':
      throw new OperationRefused(c.message, 'recover by hand with recovery_target_timeline, or choose a time before the switch');
  }
}

// ---------------------------------------------------------------------------------------------
// Compact segment lists (a week of WAL is tens of thousands of names: too much for a history)
// ---------------------------------------------------------------------------------------------

export interface SegmentRun {
  first: string;
  last: string;
  count: number;
  source: SegmentSource;
}

/** Consecutive segments with the same source, as runs. */
export function segmentRuns(segments: readonly PlannedSegment[]): SegmentRun[] {
  const runs: SegmentRun[] = [];
  for (const s of segments) {
    const run = runs[runs.length - 1];
    if (run && run.source === s.source) {
      run.last = s.name;
      run.count++;
    } else {
      runs.push({ first: s.name, last: s.name, count: 1, source: s.source });
    }
  }
  return runs;
}

/** The segments of a run, in order. */
export function expandRun(run: SegmentRun, segmentSize = DEFAULT_WAL_SEGMENT_SIZE): string[] {
  const names = [run.first];
  while (names.length < run.count) names.push(nextSegmentName(names[names.length - 1]!, segmentSize));
  if (names[names.length - 1] !== run.last) throw new Error(`segment run ${run.first}..${run.last} does not have ${run.count} segments`);
  return names;
}
