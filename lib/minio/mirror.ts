/**
 * The incremental mirror: bucket A on one MinIO -> bucket B on another (source -> backup for backups
 * and replication, backup -> source for restores). Both listings are walked in key order and
 * merge-joined (memory holds one listing page per side plus the objects in flight); new and changed
 * objects are copied with bounded parallelism, content type and user metadata preserved; objects
 * gone from A are deleted from B only when asked.
 *
 * Resumable: the checkpoint is a key cursor (every key up to it is done) plus counts of exactly the
 * work up to the cursor. A retry lists from just after the cursor; objects a dead attempt copied
 * past it compare equal and are skipped, so nothing is missed, duplicated or counted twice.
 */
import type { BucketStore } from './bucket-store';
import { copyObject } from './copy';
import { decideInspected, decidePair, lagFrom, OrderedProgress, pairListings, type Decision, type LagFacts, type Pair } from './plan';

export interface MirrorCounts {
  /** Objects on side A, up to the cursor. */
  sourceObjects: number;
  copied: number;
  skipped: number;
  deleted: number;
  /** Objects only on side B, kept because deletions were not asked for. */
  keptExtra: number;
  /** Listed on A but gone before they could be read. */
  vanished: number;
  /** Pairs whose metadata had to be read to decide. */
  inspected: number;
  bytesCopied: number;
  /** Changes found pending (for replication lag): count and the oldest/newest source modification. */
  pending: { changes: number; deletes: number; oldest?: number; newest?: number };
}

export interface MirrorCheckpoint extends MirrorCounts {
  /** Every key up to and including this one is done (undefined: nothing yet). */
  cursor?: string;
  /** Attempts that have worked on this mirror (1 on a first run). */
  attempts: number;
  /** Where the current attempt started (the previous attempt's cursor). */
  resumedAfter?: string;
}

export interface MirrorResult extends MirrorCheckpoint {
  lag: LagFacts;
}

export interface MirrorOptions {
  from: BucketStore;
  to: BucketStore;
  fromBucket: string;
  toBucket: string;
  delete: boolean;
  concurrency: number;
  labels: 'record' | 'original';
  checkpoint?: Partial<MirrorCheckpoint>;
  /** Called whenever the checkpoint moves (the activity heartbeats it). */
  onProgress?: (checkpoint: MirrorCheckpoint) => void;
  signal?: AbortSignal;
  now?: () => number;
}

type Outcome =
  | { kind: 'copied'; bytes: number; modified: number; inspected: boolean }
  | { kind: 'skipped'; inspected: boolean }
  | { kind: 'deleted' | 'kept-extra' | 'vanished' };

export function emptyCounts(): MirrorCounts {
  return { sourceObjects: 0, copied: 0, skipped: 0, deleted: 0, keptExtra: 0, vanished: 0, inspected: 0, bytesCopied: 0, pending: { changes: 0, deletes: 0 } };
}

function apply(cp: MirrorCheckpoint, outcome: Outcome): void {
  switch (outcome.kind) {
    case 'copied':
      cp.sourceObjects++;
      cp.copied++;
      cp.bytesCopied += outcome.bytes;
      if (outcome.inspected) cp.inspected++;
      cp.pending.changes++;
      cp.pending.oldest = Math.min(cp.pending.oldest ?? outcome.modified, outcome.modified);
      cp.pending.newest = Math.max(cp.pending.newest ?? outcome.modified, outcome.modified);
      break;
    case 'skipped':
      cp.sourceObjects++;
      cp.skipped++;
      if (outcome.inspected) cp.inspected++;
      break;
    case 'vanished':
      cp.sourceObjects++;
      cp.vanished++;
      break;
    case 'deleted':
      cp.deleted++;
      cp.pending.deletes++;
      break;
    case 'kept-extra':
      cp.keptExtra++;
      break;
  }
}

export async function mirrorBucket(options: MirrorOptions): Promise<MirrorResult> {
  const { from, to, fromBucket, toBucket, signal } = options;
  const previous = options.checkpoint;
  const cp: MirrorCheckpoint = {
    ...emptyCounts(),
    ...previous,
    pending: { ...emptyCounts().pending, ...previous?.pending },
    attempts: (previous?.attempts ?? 0) + 1,
    resumedAfter: previous?.cursor,
  };
  const progress = new OrderedProgress<Outcome>(cp.cursor);
  const settle = (seq: number, outcome: Outcome): void => {
    const settled = progress.finish(seq, outcome);
    if (settled.length === 0) return;
    for (const o of settled) apply(cp, o);
    cp.cursor = progress.cursor;
    options.onProgress?.(cp);
  };
  options.onProgress?.(cp);

  const act = async (pair: Pair, decision: Decision): Promise<Outcome> => {
    let inspected = false;
    if (decision.action === 'inspect') {
      inspected = true;
      const [a, b] = await Promise.all([from.head(fromBucket, pair.key), to.head(toBucket, pair.key)]);
      if (!a) return { kind: 'vanished' };
      decision = b ? decideInspected(a, b) : { action: 'copy', reason: 'new' };
    }
    if (decision.action === 'skip') return { kind: 'skipped', inspected };
    if (decision.action === 'delete') {
      await to.delete(toBucket, pair.key);
      return { kind: 'deleted' };
    }
    const copied = await copyObject({ from, to, fromBucket, toBucket, key: pair.key, labels: options.labels, signal });
    if (copied.vanished) return { kind: 'vanished' };
    return { kind: 'copied', bytes: copied.bytes, modified: pair.source!.modified, inspected };
  };

  const running = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  try {
    for await (const pair of pairListings(from.list(fromBucket, cp.cursor), to.list(toBucket, cp.cursor))) {
      if (failure) break;
      signal?.throwIfAborted();
      const seq = progress.add(pair.key);
      const decision = decidePair(pair, { delete: options.delete });
      if (decision.action === 'skip') {
        settle(seq, { kind: 'skipped', inspected: false });
        continue;
      }
      if (decision.action === 'keep-extra') {
        settle(seq, { kind: 'kept-extra' });
        continue;
      }
      const task: Promise<void> = act(pair, decision).then(
        (outcome) => settle(seq, outcome),
        (error: unknown) => {
          failure ??= { error };
        },
      );
      running.add(task);
      void task.finally(() => running.delete(task));
      while (running.size >= options.concurrency) await Promise.race(running);
    }
  } catch (error) {
    failure ??= { error };
  }
  await Promise.all(running);
  if (failure) throw failure.error;
  return { ...cp, lag: lagFrom(cp.pending, (options.now ?? Date.now)()) };
}
