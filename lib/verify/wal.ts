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
import { WAL_LONG_HEADER_BYTES, walSegmentProblem as segmentProblem } from '../wal/segment';

const SEGMENT_NAME = /^[0-9A-F]{24}(\.partial)?$/;

/**
 * Why an archived WAL segment is not what its name says, or undefined when it looks sound: the
 * same check `wal archive` applies before archiving (lib/wal/segment.ts). History and backup
 * label files have no page header and are not checked here.
 */
export function walSegmentProblem(name: string, size: number, head: Buffer): string | undefined {
  if (!SEGMENT_NAME.test(name)) return undefined;
  if (size === 0) return 'empty file';
  return segmentProblem(name, head, size);
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
