/** What verification expects of decoded artifacts: globals headers, base backup listings, WAL headers. */
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { drainBody, walkTar } from '../../lib/verify/tar-walk';
import { baseListingProblems, globalsProblem, parseBackupLabel, walNamesBetween } from '../../lib/verify/content';
import { walNamesInScope, walSegmentProblem } from '../../lib/verify/wal';

const SEG = 16 << 20;

/** A first page header as PostgreSQL 15 writes it for segment `name`. */
function walHead(name: string, overrides: Partial<{ magic: number; info: number; tli: number; pageAddress: bigint; segSize: number }> = {}): Buffer {
  const head = Buffer.alloc(40);
  const log = BigInt(parseInt(name.slice(8, 16), 16));
  const seg = BigInt(parseInt(name.slice(16, 24), 16));
  head.writeUInt16LE(overrides.magic ?? 0xd110, 0);
  head.writeUInt16LE(overrides.info ?? 0x0002, 2);
  head.writeUInt32LE(overrides.tli ?? parseInt(name.slice(0, 8), 16), 4);
  head.writeBigUInt64LE(overrides.pageAddress ?? (log * 256n + seg) * BigInt(SEG), 8);
  head.writeBigUInt64LE(7300000000000000000n, 24);
  head.writeUInt32LE(overrides.segSize ?? SEG, 32);
  head.writeUInt32LE(8192, 36);
  return head;
}

describe('walSegmentProblem', () => {
  const name = '000000010000000200000003';
  it.each([
    ['a sound segment', SEG, walHead(name), undefined],
    ['a truncated one', SEG - 8192, walHead(name), /truncated/],
    ['an empty one', 0, Buffer.alloc(0), /empty/],
    ['a zeroed header', SEG, Buffer.alloc(40), /does not start with a WAL page header/],
    ['/etc/passwd-like text', 2000, Buffer.from('root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon'), /does not start with a WAL page header|too short/],
    ['a header of another segment', SEG, walHead('000000010000000200000004'), /belongs to another segment/],
    ['no long-header flag', SEG, walHead(name, { info: 0 }), /no long header/],
    ['a later timeline in the header', SEG, walHead(name, { tli: 2 }), /timeline 2/],
  ] as const)('%s', (_what, size, head, expected) => {
    const problem = walSegmentProblem(name, size, head);
    if (expected === undefined) expect(problem).toBeUndefined();
    else expect(problem).toMatch(expected);
  });

  it('accepts the first segment of a new timeline, which carries the old one in its header', () => {
    expect(walSegmentProblem('000000020000000200000003', SEG, walHead('000000020000000200000003', { tli: 1 }))).toBeUndefined();
  });

  it('scopes latest to what recovery from the newest base backup replays', () => {
    const names = ['000000010000000000000001', '000000010000000000000002', '000000010000000000000003', '00000002.history', '000000020000000000000003'];
    expect(walNamesInScope(names, 'latest', '000000010000000000000002')).toEqual(names.slice(1));
    expect(walNamesInScope(names, 'latest')).toEqual(['000000020000000000000003']);
    expect(walNamesInScope(names, 'all')).toHaveLength(5);
  });
});

describe('globalsProblem', () => {
  it('passes a pg_dumpall globals dump and fails an empty or foreign one', () => {
    expect(globalsProblem(100, Buffer.from('--\n-- PostgreSQL database cluster dump\n--\n\nSET default_transaction_read_only = off;'))).toBeUndefined();
    expect(globalsProblem(0, Buffer.alloc(0))).toMatch(/decodes to nothing/);
    expect(globalsProblem(5, Buffer.from('hello'))).toMatch(/do not start like a pg_dumpall globals dump/);
  });
});

describe('base backup listing', () => {
  const metadata = { startLsn: '0/2000028', startWal: '000000010000000000000002', stopWal: '000000010000000000000003', timeline: 1, label: 'lifeboat 20250101-000000' };
  const label = 'START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\nCHECKPOINT LOCATION: 0/2000060\nBACKUP METHOD: streamed\nBACKUP FROM: primary\nSTART TIME: 2025-01-01 00:00:00 UTC\nLABEL: lifeboat 20250101-000000\nSTART TIMELINE: 1\n';
  const files = (): Map<string, number> =>
    new Map([
      ['backup_label', label.length],
      ['global/pg_control', 8192],
      ['pg_wal/000000010000000000000002', SEG],
      ['pg_wal/000000010000000000000003', SEG],
      ['base/1/1259', 90112],
    ]);

  it('parses backup_label', () => {
    expect(parseBackupLabel(label)).toEqual({ startLsn: '0/2000028', startWal: '000000010000000000000002', timeline: 1, label: 'lifeboat 20250101-000000' });
  });

  it('passes a complete listing, with and without a manifest', () => {
    expect(baseListingProblems({ files: files(), backupLabel: label }, metadata)).toEqual([]);
    const manifest = JSON.stringify({ Files: [{ Path: 'backup_label', Size: label.length }, { Path: 'base/1/1259', Size: 90112 }] });
    expect(baseListingProblems({ files: files(), backupLabel: label, manifest }, metadata)).toEqual([]);
  });

  it('names what is missing or does not match the metadata', () => {
    const f = files();
    f.delete('global/pg_control');
    f.delete('pg_wal/000000010000000000000003');
    const problems = baseListingProblems({ files: f, backupLabel: label.replace('0/2000028', '0/3000028'), manifest: JSON.stringify({ Files: [{ Path: 'base/1/1259', Size: 1 }] }) }, metadata);
    expect(problems).toEqual([
      expect.stringMatching(/START WAL LOCATION 0\/3000028 is not the metadata's startLsn 0\/2000028/),
      'global/pg_control is missing',
      expect.stringMatching(/pg_wal lacks 1 of the 2 segment\(s\) .*000000010000000000000003/),
      expect.stringMatching(/base\/1\/1259 90112 bytes, manifest 1/),
    ]);
    expect(baseListingProblems({ files: files() }, metadata)).toEqual(['backup_label is missing']);
  });

  it('lists WAL names across a log boundary', () => {
    expect(walNamesBetween('0000000100000001000000FF', '000000010000000200000001', SEG)).toEqual(['0000000100000001000000FF', '000000010000000200000000', '000000010000000200000001']);
  });
});

describe('walkTar', () => {
  const tarOf = async (entries: Record<string, number>): Promise<Buffer> => {
    const pack = tar.pack();
    const chunks: Buffer[] = [];
    const done = new Promise<void>((resolve) => {
      pack.on('data', (c: unknown) => {
        chunks.push(c as Buffer);
      });
      pack.on('end', () => resolve());
    });
    for (const [name, size] of Object.entries(entries)) pack.entry({ name, size }, Buffer.alloc(size, 7));
    pack.finalize();
    await done;
    return Buffer.concat(chunks);
  };
  const walk = (raw: Buffer) => walkTar(Readable.from([gzipSync(raw)]), { compression: 'gzip', encrypted: false }, undefined, async (_h, body) => void (await drainBody(body)));

  it('walks a complete archive, and tells a tar cut mid-entry or at an entry boundary from it', async () => {
    const raw = await tarOf({ a: 1000, b: 5000, c: 10 });
    expect(await walk(raw)).toEqual({ bytes: raw.length, entries: 3, tarProblem: undefined });
    expect((await walk(raw.subarray(0, 3000))).tarProblem).toMatch(/^not a complete tar archive after 3000 decoded bytes/);
    // Header + 1000 bytes padded to 1024: a cut right after entry `a` parses, but has no end marker.
    expect((await walk(raw.subarray(0, 512 + 1024))).tarProblem).toMatch(/end-of-archive marker is missing/);
    expect((await walk(Buffer.alloc(0))).tarProblem).toMatch(/decodes to nothing/);
  });
});
