/**
 * WAL segment arithmetic, pure: segment names (XLogFileName) and numbers for any segment size,
 * the timeline of any archived WAL file, and compact runs of consecutive segments (a week of WAL is
 * tens of thousands of names: too much for a workflow history).
 */
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

export type WalSource = 'local' | 'remote';

/** Where replay finds a segment: the local archive, S3, or the base backup's own pg_wal (`-X fetch`). */
export type SegmentSource = WalSource | 'base';

export interface PlannedSegment {
  name: string;
  source: SegmentSource;
}

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
