/** Snapshot names, bucket-name rules and archive-entry safety. */
import { describe, expect, it } from 'vitest';
import { archiveEntryProblem, bucketNameProblem, entryObjectKey, isPlainMd5Etag, parseSnapshotFile, snapshotName, withoutLifeboatMetadata } from '../../lib/minio/names';

describe('snapshot names', () => {
  it('keeps the seed name and says the real encoding', () => {
    expect(snapshotName('company-data', '20251017-010000', { compression: 'gzip', encrypted: false }).file).toBe('company-data_20251017-010000.tar.gz');
    expect(snapshotName('company-data', '20251017-010000', { compression: 'gzip', encrypted: true }).file).toBe('company-data_20251017-010000.tar.gz.gpg');
    expect(snapshotName('embeddings', '20251017-010000', { compression: 'zstd', encrypted: true }).file).toBe('embeddings_20251017-010000.tar.zst.gpg');
    expect(snapshotName('embeddings', '20251017-010000', { compression: 'zstd', encrypted: true }).root).toBe('embeddings_20251017-010000');
  });

  it('parses what it writes, and nothing else', () => {
    expect(parseSnapshotFile('user-uploads_20251017-010000.tar.zst.gpg')).toMatchObject({ bucket: 'user-uploads', stamp: '20251017-010000', encoding: { compression: 'zstd', encrypted: true }, root: 'user-uploads_20251017-010000' });
    for (const bad of ['company-data_20251017-010000.tar', 'company-data_2025-10-17.tar.gz', '../x_20251017-010000.tar.gz', 'Company_20251017-010000.tar.gz', 'company-data_20251017-010000.tar.gz.metadata.json']) {
      expect(parseSnapshotFile(bad), bad).toBeUndefined();
    }
  });
});

describe('bucketNameProblem', () => {
  it.each(['company-data', 'embeddings', 'a.b-c', 'abc'])('accepts %s', (name) => expect(bucketNameProblem(name)).toBeUndefined());
  it.each(['', 'ab', 'Company', 'a_b', '-abc', 'abc-', 'a..b', '192.168.1.1', 'x'.repeat(64), 'a/b'])('refuses %j', (name) => expect(bucketNameProblem(name)).toBeDefined());
});

describe('archiveEntryProblem', () => {
  const root = 'company-data_20251017-010000';
  it.each([
    [`${root}/profiles/company-1.json`, 'file'],
    [`${root}/users/1001/docs/contract 1.pdf`, 'file'],
    [`${root}/folder/`, 'directory'],
    [`${root}/ü/ß.bin`, 'file'],
  ])('accepts %s', (name, type) => expect(archiveEntryProblem({ name, type }, root)).toBeUndefined());

  it.each([
    [`${root}/../evil.txt`, 'file', /".."/],
    ['../evil.txt', 'file', /".."/],
    ['/etc/passwd', 'file', /absolute/],
    ['C:/Windows/evil', 'file', /absolute/],
    [`${root}/a/../../b`, 'file', /".."/],
    [`${root}/./a`, 'file', /"\."/],
    [`${root}//a`, 'file', /empty/],
    [`${root}\\..\\a`, 'file', /backslash/],
    [`${root}/link`, 'symlink', /symlink/],
    [`${root}/hard`, 'link', /link/],
    [`${root}/dev`, 'character-device', /character-device/],
    [`${root}/dev`, 'block-device', /block-device/],
    [`${root}/fifo`, 'fifo', /fifo/],
    [`other_20251017-010000/a`, 'file', /not under/],
    [root, 'file', /not under/],
    [`${root}/a\0b`, 'file', /NUL/],
  ])('refuses %j (%s)', (name, type, why) => expect(archiveEntryProblem({ name, type }, root)).toMatch(why));

  it('maps an entry to its object key', () => {
    expect(entryObjectKey(`${root}/a/b.txt`, root)).toBe('a/b.txt');
  });
});

describe('ETags and labels', () => {
  it('knows a plain MD5 ETag from a multipart one', () => {
    expect(isPlainMd5Etag('0123456789abcdef0123456789abcdef')).toBe(true);
    expect(isPlainMd5Etag('0123456789abcdef0123456789abcdef-3')).toBe(false);
    expect(isPlainMd5Etag(undefined)).toBe(false);
  });
  it('strips only Lifeboat\'s own metadata', () => {
    expect(withoutLifeboatMetadata({ 'lifeboat-sha256': 'x', 'Lifeboat-Source-Etag': 'y', source: 'crm', 'company-id': '1' })).toEqual({ source: 'crm', 'company-id': '1' });
  });
});
