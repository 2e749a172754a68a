/**
 * The safety pass over a snapshot archive, on crafted archives (no server): unsafe entries, entries
 * outside the manifest, damaged bytes are all refused before anything could be written.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import { afterAll, describe, expect, it } from 'vitest';
import { checkSnapshotArchive } from '../../lib/minio/archive-restore';
import type { SnapshotMetadata } from '../../lib/minio/metadata';
import { snapshotName } from '../../lib/minio/names';

const dir = mkdtempSync(join(tmpdir(), 'lifeboat-archive-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const name = snapshotName('crafted', '20250101-000000', { compression: 'gzip', encrypted: false });

interface Entry {
  name: string;
  body?: Buffer;
  type?: 'file' | 'symlink' | 'link' | 'directory' | 'character-device' | 'fifo';
  linkname?: string;
}

async function craft(entries: Entry[], manifestKeys?: { key: string; body: Buffer }[]): Promise<{ file: string; metadata: SnapshotMetadata }> {
  const pack = tar.pack();
  for (const e of entries) pack.entry({ name: e.name, type: e.type ?? 'file', linkname: e.linkname, size: e.body?.length ?? 0, mode: 0o644, mtime: new Date(0) }, e.body ?? Buffer.alloc(0));
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(Buffer.from(c as Uint8Array));
  const archive = gzipSync(Buffer.concat(chunks));
  const file = join(dir, `${Math.random().toString(36).slice(2)}-${name.file}`);
  writeFileSync(file, archive);
  const listed = manifestKeys ?? entries.filter((e) => e.body).map((e) => ({ key: e.name.slice(name.root.length + 1), body: e.body! }));
  const metadata = {
    format: 'lifeboat/1', kind: 'minio-snapshot', key: `snapshots/${name.file}`, file: name.file, bucket: name.bucket, stamp: name.stamp, root: name.root,
    sha256: sha256(archive), bytes: archive.length, rawBytes: 0, objects: listed.length, objectBytes: 0, compression: { algorithm: 'gzip', level: 6 }, encryption: { enabled: false },
    source: { endpoint: 'http://x' }, startedAt: '', finishedAt: '', durationSeconds: 0, lifeboatVersion: 'test',
    manifest: listed.map((m) => ({ key: m.key, size: m.body.length, etag: '', sha256: sha256(m.body), contentType: 'text/plain', metadata: {}, modified: '' })),
  } satisfies SnapshotMetadata;
  return { file, metadata };
}

const check = (c: { file: string; metadata: SnapshotMetadata }) => checkSnapshotArchive({ file: c.file, metadata: c.metadata, encoding: name.encoding, privateKeys: undefined });
const hello = Buffer.from('hello');

describe('checkSnapshotArchive', () => {
  it('accepts an archive that matches its metadata', async () => {
    const c = await craft([{ name: `${name.root}/a.txt`, body: hello }, { name: `${name.root}/dir/b.txt`, body: Buffer.from('b') }]);
    await expect(check(c)).resolves.toEqual({ objects: 2, bytes: c.metadata.bytes });
  });

  it.each([
    ['a ../ entry', { name: `${name.root}/../evil.txt`, body: hello }, /".." segment/],
    ['a leading ../', { name: '../evil.txt', body: hello }, /".." segment/],
    ['an absolute path', { name: '/tmp/evil.txt', body: hello }, /absolute path/],
    ['a symlink', { name: `${name.root}/link`, type: 'symlink', linkname: '/etc/passwd' }, /symlink/],
    ['a hard link', { name: `${name.root}/hard`, type: 'link', linkname: `${name.root}/a.txt` }, /is a link/],
    ['a device', { name: `${name.root}/tty`, type: 'character-device' }, /character-device/],
    ['a FIFO', { name: `${name.root}/pipe`, type: 'fifo' }, /fifo/],
    ['an entry outside the snapshot root', { name: 'other/evil.txt', body: hello }, /not under/],
  ] as [string, Entry, RegExp][])('refuses %s, naming it', async (_what, bad, why) => {
    const c = await craft([{ name: `${name.root}/a.txt`, body: hello }, bad], [{ key: 'a.txt', body: hello }]);
    const error = await check(c).then(() => undefined, (e: unknown) => e as Error);
    expect(error).toBeInstanceOf(Error);
    expect(error!.name).toBe('OperationRefused');
    expect(error!.message).toMatch(why);
    expect(error!.message).toContain(JSON.stringify(bad.name));
  });

  it('refuses an entry the manifest does not list', async () => {
    const c = await craft([{ name: `${name.root}/a.txt`, body: hello }, { name: `${name.root}/extra.txt`, body: hello }], [{ key: 'a.txt', body: hello }]);
    await expect(check(c)).rejects.toThrow(/not in the snapshot's manifest/);
  });

  it('refuses a manifest with an unsafe key', async () => {
    const c = await craft([{ name: `${name.root}/a.txt`, body: hello }], [{ key: '../a.txt', body: hello }]);
    await expect(check(c)).rejects.toThrow(/manifest entry .*"\.\." segment/);
  });

  it('finds an object whose bytes differ from the manifest (same size)', async () => {
    const c = await craft([{ name: `${name.root}/a.txt`, body: Buffer.from('HELLO') }], [{ key: 'a.txt', body: hello }]);
    await expect(check(c)).rejects.toMatchObject({ name: 'ChecksumMismatch' });
  });

  it('finds a damaged archive file', async () => {
    const c = await craft([{ name: `${name.root}/a.txt`, body: hello }]);
    c.metadata.sha256 = '0'.repeat(64);
    await expect(check(c)).rejects.toThrow(/metadata records/);
  });

  it('finds objects missing from the archive', async () => {
    const c = await craft([{ name: `${name.root}/a.txt`, body: hello }], [{ key: 'a.txt', body: hello }, { key: 'b.txt', body: hello }]);
    await expect(check(c)).rejects.toThrow(/lacks 1 object/);
  });
});
