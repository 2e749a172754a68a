/**
 * Pure planning for mirror, replication and verification: which objects to copy, skip, inspect or
 * delete, decided from two listings sorted by key (S3 lists in UTF-8 byte order). Content decides,
 * never name + size + time as `mc mirror`/`mc diff` do:
 *  - a plain ETag (32 hex digits, no `-N`) is the MD5 of the content, so two plain ETags compare content;
 *  - a multipart ETag (`md5-of-part-md5s-N`) is content-derived too, but depends on the part layout,
 *    so the backup copy records the source ETag it was made from (`x-amz-meta-lifeboat-source-etag`)
 *    and its sha256 (`x-amz-meta-lifeboat-sha256`); such pairs need the copy's metadata ("inspect").
 * No I/O here: activities list, inspect and copy; these functions decide.
 */
import { isPlainMd5Etag, LIFEBOAT_META } from './names';

export interface ListedObject {
  key: string;
  size: number;
  /** ETag without quotes. */
  etag: string;
  /** Last modification, ms since the epoch. */
  modified: number;
}

/** S3 sorts keys by their UTF-8 bytes, which is Unicode code point order (not UTF-16 unit order). */
export function compareKeys(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x < y ? -1 : 1;
    if (x > 0xffff) i++;
  }
  return a.length < b.length ? -1 : 1;
}

export interface Pair {
  key: string;
  source?: ListedObject;
  target?: ListedObject;
}

/**
 * Merge-join two key-sorted listings into pairs, in key order, holding one item of each in memory.
 * An out-of-order listing is an error (the plan would be wrong), not something to paper over.
 */
export async function* pairListings(source: AsyncIterable<ListedObject>, target: AsyncIterable<ListedObject>): AsyncGenerator<Pair> {
  const a = source[Symbol.asyncIterator]();
  const b = target[Symbol.asyncIterator]();
  let x = await a.next();
  let y = await b.next();
  let last: string | undefined;
  const check = (key: string): void => {
    if (last !== undefined && compareKeys(last, key) >= 0) throw new Error(`listing is not sorted by key: ${JSON.stringify(key)} after ${JSON.stringify(last)}`);
    last = key;
  };
  while (!x.done || !y.done) {
    const order = x.done ? 1 : y.done ? -1 : compareKeys(x.value.key, y.value.key);
    if (order === 0) {
      check(x.value!.key);
      yield { key: x.value!.key, source: x.value!, target: y.value! };
      x = await a.next();
      y = await b.next();
    } else if (order < 0) {
      check(x.value!.key);
      yield { key: x.value!.key, source: x.value! };
      x = await a.next();
    } else {
      check(y.value!.key);
      yield { key: y.value!.key, target: y.value! };
      y = await b.next();
    }
  }
}

export type Decision =
  | { action: 'copy'; reason: 'new' | 'size' | 'content' | 'unknown-copy' }
  | { action: 'skip' }
  /** Equal sizes but no plain ETags to compare: look at the target copy's recorded metadata. */
  | { action: 'inspect' }
  | { action: 'delete' }
  | { action: 'keep-extra' };

/** What a mirror does with one pair (deletions only when asked). */
export function decidePair(pair: Pair, options: { delete: boolean }): Decision {
  const { source, target } = pair;
  if (!source) return options.delete ? { action: 'delete' } : { action: 'keep-extra' };
  if (!target) return { action: 'copy', reason: 'new' };
  if (source.size !== target.size) return { action: 'copy', reason: 'size' };
  if (isPlainMd5Etag(source.etag) && isPlainMd5Etag(target.etag)) return source.etag === target.etag ? { action: 'skip' } : { action: 'copy', reason: 'content' };
  return { action: 'inspect' };
}

/**
 * Decide an inspected pair (equal sizes, not both plain ETags) from the copies' recorded metadata:
 * same content when one side was copied from the other's current ETag (backup: the copy recorded
 * the source ETag; restore: the replica recorded the ETag the restored object now has again), or
 * when both record the same sha256. Anything else is copied again: cheaper than hashing both.
 */
export function decideInspected(source: { etag: string; metadata?: Record<string, string> }, target: { etag: string; metadata?: Record<string, string> }): Decision {
  if (target.metadata?.[LIFEBOAT_META.sourceEtag] === source.etag) return { action: 'skip' };
  if (source.metadata?.[LIFEBOAT_META.sourceEtag] === target.etag) return { action: 'skip' };
  const [a, b] = [source.metadata?.[LIFEBOAT_META.sha256], target.metadata?.[LIFEBOAT_META.sha256]];
  if (a !== undefined && b !== undefined) return a === b ? { action: 'skip' } : { action: 'copy', reason: 'content' };
  return { action: 'copy', reason: 'unknown-copy' };
}

/** A content identity for verification: what each side's bytes hash to, as far as known. */
export interface ContentFacts {
  size: number;
  etag: string;
  /** sha256 from our records (copy metadata or a snapshot manifest) or from hashing the bytes. */
  sha256?: string;
  /** MD5 from hashing the bytes, when they were read. */
  md5?: string;
}

export type VerifyOutcome = { same: true } | { same: false; reason: string } | { same: undefined; need: ('source' | 'target')[] };

/**
 * Compare two objects by content. Sizes first; then plain-MD5 ETags; then sha256 (or an MD5 that
 * was computed against a plain ETag). Says which sides must be hashed when nothing decides yet.
 */
export function compareContent(source: ContentFacts, target: ContentFacts): VerifyOutcome {
  if (source.size !== target.size) return { same: false, reason: `size ${source.size} on the source, ${target.size} on the backup` };
  const md5 = (f: ContentFacts): string | undefined => f.md5 ?? (isPlainMd5Etag(f.etag) ? f.etag : undefined);
  const [m1, m2] = [md5(source), md5(target)];
  if (m1 !== undefined && m2 !== undefined) return m1 === m2 ? { same: true } : { same: false, reason: `md5 ${m1} on the source, ${m2} on the backup` };
  if (source.sha256 !== undefined && target.sha256 !== undefined) {
    return source.sha256 === target.sha256 ? { same: true } : { same: false, reason: `sha256 ${source.sha256.slice(0, 16)}... on the source, ${target.sha256.slice(0, 16)}... on the backup` };
  }
  // Hashing a side yields both its MD5 and sha256. Prefer reading the backup (spares production).
  const known = (f: ContentFacts, m: string | undefined): boolean => f.sha256 !== undefined || m !== undefined;
  if (known(source, m1)) return { same: undefined, need: ['target'] };
  if (known(target, m2)) return { same: undefined, need: ['source'] };
  return { same: undefined, need: ['source', 'target'] };
}

/**
 * The resume point of work done in key order with several items in flight: the cursor is the
 * greatest key such that every item up to it has finished, so a retry can list from just after it.
 * Each item finishes with an outcome; outcomes are handed back in key order once they are settled
 * (at or below the cursor), so counts kept from them match the cursor exactly.
 */
export class OrderedProgress<T> {
  private readonly keys = new Map<number, string>();
  private readonly done = new Map<number, T>();
  private next = 0;
  private low = 0;

  constructor(public cursor: string | undefined) {}

  /** Register the next item in key order; returns its sequence number. */
  add(key: string): number {
    const seq = this.next++;
    this.keys.set(seq, key);
    return seq;
  }

  /** Mark an item finished; returns the outcomes that became settled, in key order. */
  finish(seq: number, outcome: T): T[] {
    this.done.set(seq, outcome);
    const settled: T[] = [];
    while (this.done.has(this.low)) {
      settled.push(this.done.get(this.low)!);
      this.done.delete(this.low);
      this.cursor = this.keys.get(this.low);
      this.keys.delete(this.low);
      this.low++;
    }
    return settled;
  }

  /** Items registered but not yet settled. */
  get unsettled(): number {
    return this.keys.size;
  }
}

export interface LagFacts {
  /** Source changes (new or changed objects) not yet on the backup when the pass started. */
  pendingChanges: number;
  /** Backup objects whose source is gone, when the pass started. */
  pendingDeletes: number;
  /** Age in seconds of the oldest source change not yet on the backup (the replication lag). */
  lagSeconds: number;
  /** Age in seconds of the newest source change not yet on the backup. */
  newestPendingAgeSeconds: number | undefined;
}

/** Lag from the modification times of the changes a pass found pending. */
export function lagFrom(pendingModified: { oldest?: number; newest?: number; changes: number; deletes: number }, now: number): LagFacts {
  const age = (t: number | undefined): number | undefined => (t === undefined ? undefined : Math.max(0, Math.round((now - t) / 1000)));
  return {
    pendingChanges: pendingModified.changes,
    pendingDeletes: pendingModified.deletes,
    lagSeconds: age(pendingModified.oldest) ?? 0,
    newestPendingAgeSeconds: age(pendingModified.newest),
  };
}
