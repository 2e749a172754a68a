import { describe, expect, it } from 'vitest';
import { walSegmentProblem, walTextFileProblem, WAL_PAGE_MAGIC } from '../../lib/wal/segment';
import { walSegmentBuffer } from '../fixtures/wal-segment';

const NAME = '000000010000000200000034';
const MiB = 1024 * 1024;
const problem = (name: string, file: Buffer): string | undefined => walSegmentProblem(name, file.subarray(0, 40), file.length);

describe('WAL segment check before archiving', () => {
  it.each(Object.entries(WAL_PAGE_MAGIC))('accepts a segment written by PostgreSQL %s', (_version, magic) => {
    expect(problem(NAME, walSegmentBuffer(NAME, { magic }))).toBeUndefined();
  });
  it('accepts other segment sizes, read from the header (1 MiB and 64 MiB)', () => {
    expect(problem('000000010000000000000FFF', walSegmentBuffer('000000010000000000000FFF', { segmentSize: MiB }))).toBeUndefined();
    expect(problem('00000001000000070000003F', walSegmentBuffer('00000001000000070000003F', { segmentSize: 64 * MiB }))).toBeUndefined();
  });
  it('accepts the first segment of a new timeline, whose first page still has the old one', () => {
    expect(problem('000000030000000000000005', walSegmentBuffer('000000030000000000000005', { timeline: 2 }))).toBeUndefined();
  });
  it('accepts a .partial segment like a segment', () => {
    expect(problem(`${NAME}.partial`, walSegmentBuffer(NAME))).toBeUndefined();
  });
  it.each([
    ['a 16 MiB file of zeros', Buffer.alloc(16 * MiB), /does not start with a WAL page header/],
    ['a text file', Buffer.from('root:x:0:0:root:/root:/bin/bash\n'.repeat(40)), /does not start with a WAL page header \(first bytes 726f6f74/],
    ['a short file', Buffer.from('root:x:0:0\n'), /is 11 bytes, too short to be a WAL segment/],
    ['an empty file', Buffer.alloc(0), /is 0 bytes, too short/],
    ['a truncated segment', walSegmentBuffer(NAME, { fileSize: 8 * MiB }), /is 8388608 bytes, but its header gives wal_segment_size 16777216/],
    ['a segment with trailing bytes', walSegmentBuffer(NAME, { fileSize: 16 * MiB + 1 }), /is 16777217 bytes/],
    ['an unknown page magic', walSegmentBuffer(NAME, { magic: 0xd0ff }), /magic 0xD0FF, which is not one of PostgreSQL 13, 14, 15, 16, 17, 18/],
    ['a page without the long header', walSegmentBuffer(NAME, { info: 0x0001 }), /no long header \(xlp_info 0x0001\)/],
    ['a segment size that is no power of two', walSegmentBuffer(NAME, { segmentSize: 3 * MiB }), /segment size of 3145728 bytes \(must be a power of two/],
    ['a segment size above 1 GiB', walSegmentBuffer(NAME, { segmentSize: 2048 * MiB, fileSize: 64 }), /segment size of 2147483648 bytes/],
    ['a bad WAL page size', walSegmentBuffer(NAME, { blockSize: 100 }), /page size of 100 bytes/],
    ['a newer timeline than the name', walSegmentBuffer(NAME, { timeline: 2 }), /header is of timeline 2, the name of timeline 1/],
    ['another segment under this name', walSegmentBuffer('000000010000000200000035'), /header is of WAL address 2\/35000000, the name of 2\/34000000: the file belongs to another segment/],
  ])('refuses %s', (_what, file, message) => {
    expect(problem(NAME, file)).toMatch(message);
  });
  it('refuses a name beyond the last segment of a log for the header segment size', () => {
    expect(problem('000000010000000000000100', walSegmentBuffer('000000010000000000000100'))).toMatch(/a log has only 256 segments/);
  });
});

describe('history and backup files', () => {
  it('accepts text', () => {
    expect(walTextFileProblem('00000002.history', Buffer.from('1\t0/3000000\tno recovery target specified\n'), 42)).toBeUndefined();
    const backup = Buffer.from('START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\nSTOP WAL LOCATION: 0/2000100\n');
    expect(walTextFileProblem('000000010000000000000002.00000028.backup', backup, backup.length)).toBeUndefined();
  });
  it('refuses binary, oversized or foreign content', () => {
    expect(walTextFileProblem('00000002.history', Buffer.from([1, 0, 2]), 3)).toMatch(/contains NUL bytes/);
    expect(walTextFileProblem('00000002.history', Buffer.alloc(0), 2 * MiB)).toMatch(/is 2097152 bytes/);
    expect(walTextFileProblem('000000010000000000000002.00000028.backup', Buffer.from('root:x:0:0\n'), 11)).toMatch(/START WAL LOCATION/);
  });
});
