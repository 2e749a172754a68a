/**
 * One audit export: every Lifeboat run (on LIFEBOAT_TASK_QUEUE) that closed after the previous
 * export's window and at least `settleSeconds` ago, its history in Temporal's JSON format
 * compressed, encrypted and proven by the artifact pipeline, then copied off-site (Object Lock
 * where the bucket has it), then the manifest that chains to the previous one, then the cursor.
 *
 * Exactly once across runs and failures: the window of an export starts where the newest manifest's
 * ended, so a finished export is never redone and a killed one (files written, no manifest) is
 * redone as a whole; its files have the same names and are reused, not duplicated. The manifests
 * themselves are the truth; cursor.json is a pointer, repaired from them when a crash left it behind.
 */
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { temporal } from '@temporalio/proto';
import type { EncryptionKey } from '../crypto/openpgp';
import { writeArtifact } from '../pipeline/artifact';
import type { FsStore } from '../storage/fs-store';
import type { S3Store } from '../storage/s3-store';
import { getBuffer, listAll } from '../storage/store';
import { historyToJSON } from './history-json';
import { CURSOR_KEY, historyFileKey, manifestKey, manifestSequence, MANIFESTS_DIR, nextManifest, parseManifest, serializeManifest, sha256Hex, type AuditCursor, type AuditFileEntry, type AuditManifest } from './manifest';
import { auditLockFor, putAuditObject, type LockMode } from './offsite';

/** A closed run as the visibility store lists it. */
export interface ClosedRun {
  workflowType: string;
  workflowId: string;
  runId: string;
  closeTime: Date;
  status: string;
}

/** What the export needs from Temporal (the activity adapts a Client to it). */
export interface HistorySource {
  listClosed(query: string): AsyncIterable<ClosedRun>;
  fetchHistory(run: ClosedRun): Promise<temporal.api.history.v1.IHistory>;
}

export interface ExportOptions {
  local: FsStore;
  remote?: S3Store;
  source: HistorySource;
  taskQueue: string;
  encryptionKey?: EncryptionKey;
  compressionLevel: number;
  retention: { days: number; mode: LockMode };
  exporter: { workflowId: string; runId: string };
  /** Start of the first export's window (no manifest yet); ignored once the chain exists. */
  since?: Date;
  /** Runs that closed less than this long ago wait for the next export (visibility settles). */
  settleSeconds: number;
  now?: Date;
  onProgress?: (done: number, total: number) => void;
}

export interface ExportSummary {
  /** The manifest written, or undefined when no run closed in the window. */
  manifest?: string;
  sequence?: number;
  window: { from: string; until: string };
  files: number;
  reused: number;
  bytes: number;
  rawBytes: number;
  locked: boolean;
  ms: number;
}

/** The chain's head: the newest manifest (listed, so a cursor a crash left behind is repaired). */
export async function readHead(local: FsStore): Promise<{ cursor?: AuditCursor; manifest?: AuditManifest }> {
  const keys = (await listAll(local, `${MANIFESTS_DIR}/`)).map((o) => o.key).filter((k) => manifestSequence(k) !== undefined);
  const newest = keys.sort().at(-1);
  if (!newest) return {};
  const bytes = await getBuffer(local, newest);
  const manifest = parseManifest(bytes);
  if (!manifest) throw new Error(`${newest} is not a readable audit manifest: run lifeboat audit verify`);
  return { manifest, cursor: { sequence: manifest.sequence, manifest: newest, sha256: sha256Hex(bytes), until: manifest.window.until } };
}

/** The visibility query of one window (TaskQueue: Lifeboat's runs only; children run on the same queue). */
export function closedRunsQuery(taskQueue: string, from: Date, until: Date): string {
  return `TaskQueue = '${taskQueue.replace(/'/g, "\\'")}' AND ExecutionStatus != 'Running' AND CloseTime > '${from.toISOString()}' AND CloseTime <= '${until.toISOString()}'`;
}

export async function exportAuditTrail(options: ExportOptions): Promise<ExportSummary> {
  const started = Date.now();
  const now = options.now ?? new Date();
  const { cursor } = await readHead(options.local);
  const from = cursor ? new Date(cursor.until) : (options.since ?? new Date(0));
  const until = new Date(now.getTime() - options.settleSeconds * 1000);
  const window = { from: from.toISOString(), until: until.toISOString() };
  const summary: ExportSummary = { window, files: 0, reused: 0, bytes: 0, rawBytes: 0, locked: false, ms: 0 };
  if (until <= from) return { ...summary, ms: Date.now() - started };

  // 1. The runs of the window, oldest first (a stable order for the manifest).
  const runs: ClosedRun[] = [];
  for await (const run of options.source.listClosed(closedRunsQuery(options.taskQueue, from, until))) runs.push(run);
  runs.sort((a, b) => a.closeTime.getTime() - b.closeTime.getTime() || a.workflowId.localeCompare(b.workflowId) || a.runId.localeCompare(b.runId));
  if (runs.length === 0) return { ...summary, ms: Date.now() - started };

  // 2. Each history, written locally through the artifact pipeline (a file a killed export left is reused).
  const lock = options.remote ? await auditLockFor(options.remote, options.retention.days, options.retention.mode, now) : undefined;
  const files: AuditFileEntry[] = [];
  for (const run of runs) {
    const key = historyFileKey(run, options.encryptionKey !== undefined);
    const path = options.local.pathOf(key);
    const json = Buffer.from(historyToJSON(await options.source.fetchHistory(run)));
    const events = (JSON.parse(json.toString('utf8')) as { events?: unknown[] }).events?.length ?? 0;
    let sha256: string;
    let bytes: number;
    const existing = await options.local.stat(key);
    if (existing) {
      const body = await readFile(path);
      ({ sha256, bytes } = { sha256: sha256Hex(body), bytes: body.length });
      summary.reused++;
    } else {
      const facts = await writeArtifact({
        source: { stream: Readable.from([json]) },
        target: path,
        compression: { algorithm: 'zstd', level: options.compressionLevel },
        encryptionKey: options.encryptionKey,
        expect: { what: 'a workflow history (JSON)', minBytes: 2, magic: { offset: 0, bytes: Buffer.from('{') } },
      });
      ({ sha256, bytes } = facts);
    }
    summary.rawBytes += json.length;
    summary.bytes += bytes;
    // 3. Off-site, under Object Lock where the bucket has it.
    if (options.remote) await putAuditObject(options.remote, key, await readFile(path), lock);
    files.push({ key, sha256, bytes, workflowType: run.workflowType, workflowId: run.workflowId, runId: run.runId, closeTime: run.closeTime.toISOString(), status: run.status, events });
    options.onProgress?.(files.length, runs.length);
  }

  // 4. The manifest (chained to the previous one), locally then off-site; the cursor last.
  const manifest = nextManifest(cursor, { window, exportedAt: now.toISOString(), exporter: options.exporter, files });
  const mKey = manifestKey(manifest.sequence);
  const mBytes = serializeManifest(manifest);
  await options.local.put(mKey, mBytes);
  if (options.remote) await putAuditObject(options.remote, mKey, mBytes, lock);
  const next: AuditCursor = { sequence: manifest.sequence, manifest: mKey, sha256: sha256Hex(mBytes), until: window.until };
  const cursorBytes = Buffer.from(`${JSON.stringify(next, null, 2)}\n`);
  await options.local.put(CURSOR_KEY, cursorBytes);
  if (options.remote) await putAuditObject(options.remote, CURSOR_KEY, cursorBytes, undefined);
  return { ...summary, manifest: mKey, sequence: manifest.sequence, files: files.length, locked: lock !== undefined, ms: Date.now() - started };
}
