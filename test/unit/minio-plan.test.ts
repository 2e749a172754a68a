/** The mirror/verify planners: merge-join order, content decisions, resume cursor, lag. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  compareContent, compareKeys, decideInspected, decidePair, lagFrom, OrderedProgress, pairListings, type ListedObject, type Pair,
} from '../../lib/minio/plan';

const md5a = '0123456789abcdef0123456789abcdef';
const md5b = 'fedcba9876543210fedcba9876543210';
const obj = (key: string, size = 10, etag = md5a, modified = 0): ListedObject => ({ key, size, etag, modified });
async function* from<T>(items: T[]): AsyncGenerator<T> {
  for (const item of items) yield item;
}
async function collect(a: ListedObject[], b: ListedObject[]): Promise<Pair[]> {
  const out: Pair[] = [];
  for await (const p of pairListings(from(a), from(b))) out.push(p);
  return out;
}

describe('compareKeys', () => {
  it('orders by code point, as S3 orders by UTF-8 bytes', () => {
    // U+FF61 (3 UTF-8 bytes) sorts before U+1F600 (4 bytes), though its UTF-16 unit is larger than the surrogate's.
    expect(compareKeys('\uff61', '\u{1f600}')).toBe(-1);
    expect('\uff61' < '\u{1f600}').toBe(false);
    expect(compareKeys('a', 'a/')).toBe(-1);
    expect(compareKeys('a/b', 'a/b')).toBe(0);
  });

  it('agrees with a byte-wise comparison of the UTF-8 encodings', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (a, b) => {
        expect(Math.sign(compareKeys(a, b))).toBe(Math.sign(Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))));
      }),
    );
  });
});

describe('pairListings', () => {
  it('merge-joins two sorted listings', async () => {
    const pairs = await collect([obj('a'), obj('c'), obj('d')], [obj('b'), obj('c'), obj('e')]);
    expect(pairs.map((p) => [p.key, Boolean(p.source), Boolean(p.target)])).toEqual([
      ['a', true, false], ['b', false, true], ['c', true, true], ['d', true, false], ['e', false, true],
    ]);
  });

  it('refuses an unsorted listing instead of planning wrong', async () => {
    await expect(collect([obj('b'), obj('a')], [])).rejects.toThrow(/not sorted/);
  });
});

describe('decidePair', () => {
  const table: [string, Pair, boolean, string][] = [
    ['new object', { key: 'k', source: obj('k') }, false, 'copy'],
    ['gone from the source, no --delete', { key: 'k', target: obj('k') }, false, 'keep-extra'],
    ['gone from the source, --delete', { key: 'k', target: obj('k') }, true, 'delete'],
    ['same size, same plain MD5', { key: 'k', source: obj('k'), target: obj('k') }, false, 'skip'],
    ['same size, other content (the mc mirror trap)', { key: 'k', source: obj('k', 10, md5a, 1), target: obj('k', 10, md5b, 2) }, false, 'copy'],
    ['same content, newer time on the source', { key: 'k', source: obj('k', 10, md5a, 99), target: obj('k', 10, md5a, 1) }, false, 'skip'],
    ['other size', { key: 'k', source: obj('k', 11), target: obj('k', 10) }, false, 'copy'],
    ['multipart source ETag', { key: 'k', source: obj('k', 10, `${md5a}-3`), target: obj('k', 10, md5b) }, false, 'inspect'],
  ];
  it.each(table)('%s', (_name, pair, del, action) => {
    expect(decidePair(pair, { delete: del }).action).toBe(action);
  });
});

describe('decideInspected', () => {
  it('skips when the copy recorded the source ETag it was made from', () => {
    expect(decideInspected({ etag: `${md5a}-3` }, { etag: md5b, metadata: { 'lifeboat-source-etag': `${md5a}-3` } }).action).toBe('skip');
  });
  it('skips a restore whose replica was copied from the ETag the target has', () => {
    expect(decideInspected({ etag: md5b, metadata: { 'lifeboat-source-etag': `${md5a}-3` } }, { etag: `${md5a}-3` }).action).toBe('skip');
  });
  it('copies when the source changed since the copy', () => {
    expect(decideInspected({ etag: `${md5b}-2` }, { etag: md5b, metadata: { 'lifeboat-source-etag': `${md5a}-3` } }).action).toBe('copy');
  });
  it('compares recorded sha256 values when both sides have one', () => {
    const sha = 'a'.repeat(64);
    expect(decideInspected({ etag: 'x-2', metadata: { 'lifeboat-sha256': sha } }, { etag: 'y-2', metadata: { 'lifeboat-sha256': sha } }).action).toBe('skip');
    expect(decideInspected({ etag: 'x-2', metadata: { 'lifeboat-sha256': sha } }, { etag: 'y-2', metadata: { 'lifeboat-sha256': 'b'.repeat(64) } }).action).toBe('copy');
  });
  it('copies a copy it knows nothing about', () => {
    expect(decideInspected({ etag: 'x-2' }, { etag: 'y-2' }).action).toBe('copy');
  });
});

describe('compareContent', () => {
  const sha1 = '1'.repeat(64);
  const sha2 = '2'.repeat(64);
  it('finds a same-size change by plain MD5', () => {
    expect(compareContent({ size: 5, etag: md5a }, { size: 5, etag: md5b })).toMatchObject({ same: false });
  });
  it('matches plain MD5s', () => {
    expect(compareContent({ size: 5, etag: md5a }, { size: 5, etag: md5a })).toEqual({ same: true });
  });
  it('compares sha256 when an ETag is multipart', () => {
    expect(compareContent({ size: 5, etag: 'x-2', sha256: sha1 }, { size: 5, etag: md5a, sha256: sha1 })).toEqual({ same: true });
    expect(compareContent({ size: 5, etag: 'x-2', sha256: sha1 }, { size: 5, etag: md5a, sha256: sha2 })).toMatchObject({ same: false });
  });
  it('asks to hash the backup first when that decides', () => {
    expect(compareContent({ size: 5, etag: 'x-2', sha256: sha1 }, { size: 5, etag: md5a })).toEqual({ same: undefined, need: ['target'] });
    expect(compareContent({ size: 5, etag: 'x-2' }, { size: 5, etag: md5a })).toEqual({ same: undefined, need: ['source'] });
    expect(compareContent({ size: 5, etag: 'x-2' }, { size: 5, etag: 'y-3' })).toEqual({ same: undefined, need: ['source', 'target'] });
  });
  it('uses an MD5 computed from the bytes against a plain ETag', () => {
    expect(compareContent({ size: 5, etag: 'x-2', md5: md5a }, { size: 5, etag: md5a })).toEqual({ same: true });
  });
  it('reports a size difference first', () => {
    expect(compareContent({ size: 5, etag: md5a }, { size: 6, etag: md5a })).toMatchObject({ same: false, reason: expect.stringMatching(/size/) });
  });
});

describe('OrderedProgress', () => {
  it('moves the cursor only over a finished prefix and hands back outcomes in key order', () => {
    const p = new OrderedProgress<string>(undefined);
    const [a, b, c] = [p.add('a'), p.add('b'), p.add('c')];
    expect(p.finish(c, 'C')).toEqual([]);
    expect(p.cursor).toBeUndefined();
    expect(p.finish(a, 'A')).toEqual(['A']);
    expect(p.cursor).toBe('a');
    expect(p.finish(b, 'B')).toEqual(['B', 'C']);
    expect(p.cursor).toBe('c');
    expect(p.unsettled).toBe(0);
  });

  it('never settles an item twice, whatever the completion order', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(), { minLength: 1, maxLength: 40 }), (weights) => {
        const p = new OrderedProgress<number>('start');
        const seqs = weights.map((_, i) => p.add(`k${String(i).padStart(3, '0')}`));
        const order = seqs.map((s, i) => [weights[i]!, s] as const).sort((x, y) => x[0] - y[0] || x[1] - y[1]).map(([, s]) => s);
        const settled = order.flatMap((s) => p.finish(s, s));
        expect(settled).toEqual(seqs);
        expect(p.cursor).toBe(`k${String(seqs.length - 1).padStart(3, '0')}`);
      }),
    );
  });
});

describe('lagFrom', () => {
  it('is the age of the oldest pending change', () => {
    expect(lagFrom({ oldest: 1_000, newest: 9_000, changes: 3, deletes: 1 }, 21_000)).toEqual({ pendingChanges: 3, pendingDeletes: 1, lagSeconds: 20, newestPendingAgeSeconds: 12 });
  });
  it('is zero when nothing was pending', () => {
    expect(lagFrom({ changes: 0, deletes: 0 }, 5_000)).toEqual({ pendingChanges: 0, pendingDeletes: 0, lagSeconds: 0, newestPendingAgeSeconds: undefined });
  });
});
