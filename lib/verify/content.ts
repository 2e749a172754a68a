/**
 * What a decoded artifact must contain, by kind, checked while it streams (no plaintext on disk):
 *  - globals: not empty, and starts like `pg_dumpall --globals-only` output;
 *  - database dumps: not empty, and start like a plain (`--` header) or custom (`PGDMP`) pg_dump;
 *  - base backups: a complete tar holding `backup_label` (start WAL location, timeline and label equal
 *    to the metadata's), `global/pg_control`, the WAL from startWal to stopWal under `pg_wal/`
 *    (-X fetch), and every file of pg_basebackup's `backup_manifest` with its size, when present.
 * The pure parts (header tests, label parsing, listing checks) are exported for unit tests.
 */
import { Writable } from 'node:stream';
import type { PrivateKey } from 'openpgp';
import type { BaseMetadata } from '../catalog/metadata';
import type { Encoding } from '../catalog/names';
import { decodeStream } from '../pipeline/codec';
import { drainBody, readBody, walkTar } from './tar-walk';

export const GLOBALS_HEADER = '--\n-- PostgreSQL database cluster dump';
const PLAIN_DUMP_HEADER = '--\n-- PostgreSQL database dump';
const CUSTOM_DUMP_MAGIC = 'PGDMP';
const HEAD_BYTES = 256;

/** Why the start of a decoded globals dump is not one, or undefined. */
export function globalsProblem(bytes: number, head: Buffer): string | undefined {
  if (bytes === 0) return 'decodes to nothing (0 bytes): not a pg_dumpall globals dump';
  if (!head.toString('utf8').startsWith(GLOBALS_HEADER)) return `${bytes} bytes that do not start like a pg_dumpall globals dump (${JSON.stringify(head.subarray(0, 40).toString('utf8'))})`;
  return undefined;
}

/** Why the start of a decoded database dump is not one, or undefined. */
export function dumpProblem(bytes: number, head: Buffer, format: 'plain' | 'custom'): string | undefined {
  if (bytes === 0) return 'decodes to nothing (0 bytes): not a pg_dump output';
  const text = head.toString('latin1');
  const ok = format === 'custom' ? text.startsWith(CUSTOM_DUMP_MAGIC) : text.startsWith(PLAIN_DUMP_HEADER);
  return ok ? undefined : `${bytes} bytes that do not start like a ${format} pg_dump (${JSON.stringify(head.subarray(0, 20).toString('latin1'))})`;
}

/** Decode a stream, counting its bytes and keeping its first few. */
export async function decodeHead(source: NodeJS.ReadableStream, encoding: Encoding, privateKeys: PrivateKey[] | undefined): Promise<{ bytes: number; head: Buffer }> {
  let bytes = 0;
  let head = Buffer.alloc(0);
  await decodeStream(
    source,
    encoding,
    privateKeys,
    new Writable({
      highWaterMark: 1 << 20,
      write(chunk: Buffer, _e, cb) {
        if (head.length < HEAD_BYTES) head = Buffer.concat([head, chunk.subarray(0, HEAD_BYTES - head.length)]);
        bytes += chunk.length;
        cb();
      },
    }),
  );
  return { bytes, head };
}

export interface BackupLabel {
  startLsn?: string;
  startWal?: string;
  timeline?: number;
  label?: string;
}

/** The fields of a `backup_label` file that the metadata also records. */
export function parseBackupLabel(text: string): BackupLabel {
  const start = /^START WAL LOCATION: ([0-9A-Fa-f]+\/[0-9A-Fa-f]+) \(file ([0-9A-F]{24})\)$/m.exec(text);
  const timeline = /^START TIMELINE: (\d+)$/m.exec(text);
  const label = /^LABEL: (.*)$/m.exec(text);
  return { startLsn: start?.[1], startWal: start?.[2], timeline: timeline ? Number(timeline[1]) : undefined, label: label?.[1] };
}

const lsnValue = (lsn: string): bigint | undefined => {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(lsn);
  return m ? (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`) : undefined;
};

/** WAL segment names from `first` to `last` on one timeline, for segments of `segmentSize` bytes. */
export function walNamesBetween(first: string, last: string, segmentSize: number): string[] | undefined {
  const parse = (name: string) => /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})$/.exec(name);
  const a = parse(first);
  const b = parse(last);
  if (!a || !b || a[1] !== b[1]) return undefined;
  const perLog = 0x100000000 / segmentSize;
  const number = (m: RegExpExecArray): number => parseInt(m[2]!, 16) * perLog + parseInt(m[3]!, 16);
  const hex = (n: number): string => n.toString(16).toUpperCase().padStart(8, '0');
  const names: string[] = [];
  for (let n = number(a); n <= number(b) && names.length <= 100_000; n++) names.push(`${a[1]}${hex(Math.floor(n / perLog))}${hex(n % perLog)}`);
  return names;
}

/** What a walk of a base backup's tar found. */
export interface BaseListing {
  /** Entry name -> size, names without a leading `./`. */
  files: Map<string, number>;
  backupLabel?: string;
  manifest?: string;
}

/** Problems of a base backup's listing against its metadata (empty when it is sound). */
export function baseListingProblems(listing: BaseListing, metadata: Pick<BaseMetadata, 'startLsn' | 'startWal' | 'stopWal' | 'timeline' | 'label'>): string[] {
  const problems: string[] = [];
  if (listing.backupLabel === undefined) problems.push('backup_label is missing');
  else {
    const label = parseBackupLabel(listing.backupLabel);
    const expectedLsn = lsnValue(metadata.startLsn);
    if (label.startLsn === undefined || expectedLsn === undefined || lsnValue(label.startLsn) !== expectedLsn) problems.push(`backup_label START WAL LOCATION ${label.startLsn ?? '(none)'} is not the metadata's startLsn ${metadata.startLsn}`);
    if (label.startWal !== metadata.startWal) problems.push(`backup_label start WAL file ${label.startWal ?? '(none)'} is not the metadata's startWal ${metadata.startWal}`);
    if (label.timeline !== metadata.timeline) problems.push(`backup_label START TIMELINE ${label.timeline ?? '(none)'} is not the metadata's timeline ${metadata.timeline}`);
    if (label.label !== metadata.label) problems.push(`backup_label LABEL ${JSON.stringify(label.label ?? null)} is not the metadata's label ${JSON.stringify(metadata.label)}`);
  }
  const control = listing.files.get('global/pg_control');
  if (control === undefined) problems.push('global/pg_control is missing');
  else if (control === 0) problems.push('global/pg_control is empty');

  // -X fetch: the WAL from startWal to stopWal is inside, every segment the same, sane size.
  const wal = [...listing.files].filter(([name]) => /^pg_wal\/[0-9A-F]{24}$/.test(name));
  const sizes = new Set(wal.map(([, size]) => size));
  const segmentSize = wal[0]?.[1] ?? 16 << 20;
  if (sizes.size > 1) problems.push(`pg_wal segments of different sizes: ${[...sizes].join(', ')} bytes`);
  else if (!(segmentSize >= 1 << 20 && segmentSize <= 1 << 30 && (segmentSize & (segmentSize - 1)) === 0)) problems.push(`pg_wal segments of ${segmentSize} bytes (not a WAL segment size)`);
  const needed = walNamesBetween(metadata.startWal, metadata.stopWal, segmentSize);
  if (!needed) problems.push(`startWal ${metadata.startWal} and stopWal ${metadata.stopWal} are not one timeline's range`);
  else {
    const missing = needed.filter((n) => !listing.files.has(`pg_wal/${n}`));
    if (missing.length > 0) problems.push(`pg_wal lacks ${missing.length} of the ${needed.length} segment(s) from ${metadata.startWal} to ${metadata.stopWal}: ${missing.slice(0, 5).join(', ')}`);
  }

  // pg_basebackup's own manifest (written into the tar when streaming to stdout): every file, its size.
  if (listing.manifest !== undefined) {
    let files: { Path?: string; Size?: number }[] | undefined;
    try {
      files = (JSON.parse(listing.manifest) as { Files?: { Path?: string; Size?: number }[] }).Files;
    } catch {
      problems.push('backup_manifest is not valid JSON');
    }
    const wrong: string[] = [];
    for (const f of files ?? []) {
      if (typeof f.Path !== 'string') continue;
      const size = listing.files.get(f.Path);
      if (size === undefined) wrong.push(`${f.Path} missing`);
      else if (size !== f.Size) wrong.push(`${f.Path} ${size} bytes, manifest ${f.Size}`);
    }
    if (wrong.length > 0) problems.push(`${wrong.length} file(s) differ from backup_manifest: ${wrong.slice(0, 5).join('; ')}`);
  }
  return problems;
}

/**
 * Decode a base backup and check its listing. Throws when decoding fails; returns the decoded size,
 * entry count and problems (tar damage included).
 */
export async function inspectBaseBackup(
  source: NodeJS.ReadableStream,
  encoding: Encoding,
  privateKeys: PrivateKey[] | undefined,
  metadata: BaseMetadata,
): Promise<{ bytes: number; entries: number; problems: string[]; manifestFiles?: number }> {
  const listing: BaseListing = { files: new Map() };
  const walk = await walkTar(source, encoding, privateKeys, async (header, body) => {
    const name = header.name.replace(/^\.\//, '').replace(/\/$/, '');
    if (name === 'backup_label' || name === 'backup_manifest') {
      const content = await readBody(body, 64 << 20);
      listing.files.set(name, content.length);
      if (name === 'backup_label') listing.backupLabel = content.toString('utf8');
      else listing.manifest = content.toString('utf8');
      return;
    }
    const size = await drainBody(body);
    if (header.type === 'file' || header.type === 'contiguous-file') listing.files.set(name, size);
  });
  const problems = walk.tarProblem ? [walk.tarProblem] : [];
  problems.push(...baseListingProblems(listing, metadata));
  let manifestFiles: number | undefined;
  try {
    manifestFiles = listing.manifest === undefined ? undefined : ((JSON.parse(listing.manifest) as { Files?: unknown[] }).Files ?? []).length;
  } catch {
    manifestFiles = undefined;
  }
  return { bytes: walk.bytes, entries: walk.entries, problems, manifestFiles };
}
