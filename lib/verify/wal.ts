/**
 * Verification of the local WAL archive ($BACKUP_ROOT/wal-archive) without replaying it. Every segment
 * costs one small read: its size must be the segment size and its first page must carry a sane long
 * page header (magic, flags, segment and block size) whose page address and timeline agree with the
 * file name. Only segments with a recorded sha256 (the raw-segment hash in the metadata of the
 * off-site copy, see lib/wal/remote.ts) are read whole and hashed. Each bad segment is named.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** XLogLongPageHeaderData is 40 bytes on 64-bit little-endian builds. */
export const WAL_LONG_HEADER_BYTES = 40;
const XLP_LONG_HEADER = 0x0002;
const XLP_ALL_FLAGS = 0x000f;
/** XLOG_PAGE_MAGIC of PostgreSQL 10; later versions only increase it. */
const OLDEST_MAGIC = 0xd097;
/** Upper bound with room for future releases (18 is 0xD118). */
const NEWEST_MAGIC_BOUND = 0xd1ff;

const SEGMENT_NAME = /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})(\.partial)?$/;
const powerOfTwo = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;

export interface WalPageHeader {
  magic: number;
  info: number;
  timeline: number;
  pageAddress: bigint;
  systemIdentifier: bigint;
  segmentSize: number;
  blockSize: number;
}

export function parseWalLongHeader(head: Buffer): WalPageHeader | undefined {
  if (head.length < WAL_LONG_HEADER_BYTES) return undefined;
  return {
    magic: head.readUInt16LE(0),
    info: head.readUInt16LE(2),
    timeline: head.readUInt32LE(4),
    pageAddress: head.readBigUInt64LE(8),
    systemIdentifier: head.readBigUInt64LE(24),
    segmentSize: head.readUInt32LE(32),
    blockSize: head.readUInt32LE(36),
  };
}

/** Why an archived WAL segment is not what its name says, or undefined when it looks sound. */
export function walSegmentProblem(name: string, size: number, head: Buffer): string | undefined {
  const m = SEGMENT_NAME.exec(name);
  if (!m) return undefined; // history and backup-label files have no page header
  if (size === 0) return 'empty file';
  const header = parseWalLongHeader(head);
  if (!header) return `${size} bytes, shorter than a WAL page header`;
  if (header.magic < OLDEST_MAGIC || header.magic > NEWEST_MAGIC_BOUND) return `page magic 0x${header.magic.toString(16).padStart(4, '0')} is not a WAL page magic (header damaged or not a WAL file)`;
  if ((header.info & ~XLP_ALL_FLAGS) !== 0 || (header.info & XLP_LONG_HEADER) === 0) return `first page flags 0x${header.info.toString(16)} lack the long-header flag or carry unknown bits`;
  if (!powerOfTwo(header.segmentSize) || header.segmentSize < 1 << 20 || header.segmentSize > 1 << 30) return `header segment size ${header.segmentSize} is not a WAL segment size`;
  if (!powerOfTwo(header.blockSize) || header.blockSize < 1024 || header.blockSize > 65536) return `header block size ${header.blockSize} is not a WAL block size`;
  if (size !== header.segmentSize) return `${size} bytes, the segment size is ${header.segmentSize} (truncated or extended)`;
  const perLog = BigInt(0x100000000 / header.segmentSize);
  const log = BigInt(parseInt(m[2]!, 16));
  const seg = BigInt(parseInt(m[3]!, 16));
  if (seg >= perLog) return `segment number ${m[3]} is out of range for ${header.segmentSize}-byte segments`;
  const expected = (log * perLog + seg) * BigInt(header.segmentSize);
  if (header.pageAddress !== expected) return `first page address ${header.pageAddress.toString(16).toUpperCase()} is not ${expected.toString(16).toUpperCase()}, where ${name.slice(0, 24)} starts`;
  // The first segment of a new timeline is a copy of the old timeline's, so it may carry a lower one.
  const timeline = parseInt(m[1]!, 16);
  if (header.timeline === 0 || header.timeline > timeline) return `page header timeline ${header.timeline} does not fit timeline ${timeline} of the name`;
  return undefined;
}

export interface WalArchiveCheck {
  checked: number;
  /** Segments whose whole content was hashed against a recorded sha256. */
  hashed: number;
  bad: { name: string; problem: string }[];
}

export interface VerifyWalOptions {
  dir: string;
  names: string[];
  /** The recorded raw sha256 of a file, when one exists. */
  recordedSha256?: (name: string) => Promise<string | undefined>;
  onProgress?: (done: number, of: number) => void;
  signal?: AbortSignal;
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Check every named file in the archive directory; never throws for a bad file, only names it. */
export async function verifyWalArchive(options: VerifyWalOptions): Promise<WalArchiveCheck> {
  const result: WalArchiveCheck = { checked: 0, hashed: 0, bad: [] };
  for (const name of options.names) {
    options.signal?.throwIfAborted();
    const path = join(options.dir, name);
    try {
      const info = await stat(path);
      const handle = await open(path, 'r');
      const head = Buffer.alloc(Math.min(WAL_LONG_HEADER_BYTES, info.size));
      try {
        await handle.read(head, 0, head.length, 0);
      } finally {
        await handle.close();
      }
      let problem = walSegmentProblem(name, info.size, head);
      if (!problem && !SEGMENT_NAME.test(name) && info.size === 0) problem = 'empty file';
      if (!problem) {
        const recorded = await options.recordedSha256?.(name);
        if (recorded) {
          result.hashed++;
          const actual = await sha256File(path);
          if (actual !== recorded) problem = `sha256 ${actual.slice(0, 16)}... is not the recorded ${recorded.slice(0, 16)}...`;
        }
      }
      if (problem) result.bad.push({ name, problem });
    } catch (error) {
      result.bad.push({ name, problem: `unreadable: ${error instanceof Error ? error.message : String(error)}` });
    }
    result.checked++;
    options.onProgress?.(result.checked, options.names.length);
  }
  return result;
}

/**
 * The files `verify` covers: all of them, or (latest) those from the newest base backup's first
 * segment on, which is what recovery from that backup replays (the newest file when no base backup).
 */
export function walNamesInScope(names: readonly string[], scope: 'latest' | 'all', newestBaseStartWal?: string): string[] {
  const sorted = [...names].sort();
  if (scope === 'all') return sorted;
  if (newestBaseStartWal) return sorted.filter((n) => n.slice(0, 24) >= newestBaseStartWal || (n.endsWith('.history') && n.slice(0, 8) >= newestBaseStartWal.slice(0, 8)));
  const segments = sorted.filter((n) => SEGMENT_NAME.test(n));
  return segments.length > 0 ? [segments[segments.length - 1]!] : [];
}
