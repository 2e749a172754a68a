/**
 * What a WAL file must look like before it is archived (pure; no I/O). A segment starts with
 * PostgreSQL's XLogLongPageHeaderData (src/include/access/xlog_internal.h), little-endian here:
 *
 *   offset  0  uint16 xlp_magic        WAL format version (XLOG_PAGE_MAGIC)
 *   offset  2  uint16 xlp_info         XLP_LONG_HEADER (0x0002) on the first page of a segment
 *   offset  4  uint32 xlp_tli          timeline of the first record on the page
 *   offset  8  uint64 xlp_pageaddr     WAL address of the page = the segment's start LSN
 *   offset 16  uint32 xlp_rem_len      (4 bytes of padding follow)
 *   offset 24  uint64 xlp_sysid        system identifier
 *   offset 32  uint32 xlp_seg_size     wal_segment_size of the cluster that wrote it
 *   offset 36  uint32 xlp_xlog_blcksz  WAL page size
 *
 * The archive_command does not know the server's wal_segment_size, so the segment's own header
 * says it; the file must be exactly that long. `.history` and `.backup` files are short text files.
 */

/** XLOG_PAGE_MAGIC by PostgreSQL major version (from each release's xlog_internal.h). */
export const WAL_PAGE_MAGIC: Readonly<Record<number, number>> = { 13: 0xd106, 14: 0xd10d, 15: 0xd110, 16: 0xd113, 17: 0xd116, 18: 0xd118 };
export const XLP_LONG_HEADER = 0x0002;
/** Bytes of the long page header that the checks read. */
export const WAL_LONG_HEADER_BYTES = 40;
const MIN_SEGMENT = 1 << 20;
const MAX_SEGMENT = 1 << 30;

export interface WalLongHeader {
  magic: number;
  info: number;
  timeline: number;
  pageAddress: bigint;
  systemId: bigint;
  segmentSize: number;
  blockSize: number;
}

/** The kind of WAL file a (valid) name denotes. */
export function walFileKind(name: string): 'segment' | 'partial' | 'history' | 'backup' {
  if (name.endsWith('.history')) return 'history';
  if (name.endsWith('.backup')) return 'backup';
  if (name.endsWith('.partial')) return 'partial';
  return 'segment';
}

export function readWalLongHeader(header: Buffer): WalLongHeader {
  return {
    magic: header.readUInt16LE(0),
    info: header.readUInt16LE(2),
    timeline: header.readUInt32LE(4),
    pageAddress: header.readBigUInt64LE(8),
    systemId: header.readBigUInt64LE(24),
    segmentSize: header.readUInt32LE(32),
    blockSize: header.readUInt32LE(36),
  };
}

const isPowerOfTwo = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;
const hex = (n: number | bigint, width = 4): string => `0x${n.toString(16).toUpperCase().padStart(width, '0')}`;
const knownMagic = (magic: number): boolean => Object.values(WAL_PAGE_MAGIC).includes(magic);

/**
 * Why `header` (the first bytes of the file, at most 40 needed) and `fileSize` are not the WAL
 * segment `name` (24 hex digits, optionally `.partial`), or undefined when they are.
 */
export function walSegmentProblem(name: string, header: Buffer, fileSize: number): string | undefined {
  if (fileSize < WAL_LONG_HEADER_BYTES || header.length < WAL_LONG_HEADER_BYTES) return `is ${fileSize} bytes, too short to be a WAL segment`;
  const h = readWalLongHeader(header);
  if (h.magic < 0xd000 || h.magic > 0xd1ff) return `does not start with a WAL page header (first bytes ${header.subarray(0, 4).toString('hex')}; a segment starts with the page magic, e.g. 10d1 for PostgreSQL 15)`;
  if (!knownMagic(h.magic)) return `has WAL page magic ${hex(h.magic)}, which is not one of PostgreSQL ${Object.keys(WAL_PAGE_MAGIC).join(', ')}`;
  if ((h.info & XLP_LONG_HEADER) === 0) return `first page has no long header (xlp_info ${hex(h.info)}): not the start of a WAL segment`;
  if (!isPowerOfTwo(h.segmentSize) || h.segmentSize < MIN_SEGMENT || h.segmentSize > MAX_SEGMENT) return `header gives a segment size of ${h.segmentSize} bytes (must be a power of two from 1 MiB to 1 GiB)`;
  if (!isPowerOfTwo(h.blockSize) || h.blockSize < 1024 || h.blockSize > 65536) return `header gives a WAL page size of ${h.blockSize} bytes (must be a power of two from 1 KiB to 64 KiB)`;
  if (fileSize !== h.segmentSize) return `is ${fileSize} bytes, but its header gives wal_segment_size ${h.segmentSize}: truncated or not a WAL segment`;
  const nameTimeline = parseInt(name.slice(0, 8), 16);
  // The first segment of a new timeline is a copy of the old timeline's segment up to the switch,
  // so its first page may carry an older timeline; never a newer one.
  if (h.timeline === 0 || h.timeline > nameTimeline) return `header is of timeline ${h.timeline}, the name of timeline ${nameTimeline}`;
  const log = BigInt(parseInt(name.slice(8, 16), 16));
  const seg = BigInt(parseInt(name.slice(16, 24), 16));
  const perLog = 0x1_0000_0000n / BigInt(h.segmentSize);
  if (seg >= perLog) return `names segment ${hex(seg, 8)} of log ${hex(log, 8)}, but a log has only ${perLog} segments of ${h.segmentSize} bytes`;
  const expected = (log * perLog + seg) * BigInt(h.segmentSize);
  if (h.pageAddress !== expected) return `header is of WAL address ${lsn(h.pageAddress)}, the name of ${lsn(expected)}: the file belongs to another segment`;
  return undefined;
}

/** `X/Y`, PostgreSQL's notation for a WAL address. */
function lsn(value: bigint): string {
  return `${(value >> 32n).toString(16).toUpperCase()}/${(value & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** Largest `.history` / `.backup` file accepted (they are a few lines of text). */
export const WAL_TEXT_FILE_MAX_BYTES = 1 << 20;

/** Why `content` is not a timeline history or backup history file, or undefined when it may be. */
export function walTextFileProblem(name: string, content: Buffer, fileSize: number): string | undefined {
  if (fileSize > WAL_TEXT_FILE_MAX_BYTES) return `is ${fileSize} bytes: a ${walFileKind(name)} file is a few lines of text`;
  if (content.includes(0)) return `contains NUL bytes: a ${walFileKind(name)} file is text`;
  if (walFileKind(name) === 'backup' && !content.subarray(0, 19).equals(Buffer.from('START WAL LOCATION:'))) return 'does not start with "START WAL LOCATION:" like a backup history file';
  return undefined;
}
