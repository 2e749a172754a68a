/**
 * The audit trail on the real stack: exports on a test's own queue, BACKUP_ROOT and an off-site
 * bucket created WITH Object Lock (GOVERNANCE, so the test can remove it afterwards with a bypass).
 * Two exports around more runs: every closed run exactly once; `verify` walks the chain locally and
 * off-site and names a changed, a missing and an extra file; locked objects refuse deletion.
 */
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, GetObjectRetentionCommand, ListObjectVersionsCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportAuditTrail } from '../../lib/audit/export';
import { CURSOR_KEY, isHistoryKey, parseManifest, type AuditManifest } from '../../lib/audit/manifest';
import { loadPrivateKeys, loadPublicKey } from '../../lib/crypto/openpgp';
import { verifyAuditTrail } from '../../lib/audit/verify';
import { FsStore } from '../../lib/storage/fs-store';
import { S3Store, s3SettingsFromConfig } from '../../lib/storage/s3-store';
import { getBuffer, listAll } from '../../lib/storage/store';
import { decodeAuditFile, replayHistories } from '../../workers/replay';
import { formatReplayTable } from '../../client/commands/audit';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { ExportAuditTrailResult } from '../../workflows/export-audit-trail';
import { startTestWorker, workflowBundle, type TestWorkerHandle } from './helpers';

async function dropLockedBucket(client: S3Client, bucket: string): Promise<void> {
  for (;;) {
    const page = await client.send(new ListObjectVersionsCommand({ Bucket: bucket }));
    const versions = [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])];
    if (versions.length === 0) break;
    for (const v of versions) await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: v.Key, VersionId: v.VersionId, BypassGovernanceRetention: true }));
  }
  await client.send(new DeleteBucketCommand({ Bucket: bucket }));
}

describe('audit trail export and verify (real Temporal, MinIO with Object Lock)', () => {
  let handle: TestWorkerHandle;
  let root: string;
  let bucket: string;
  let remote: S3Store;
  const exports: ExportAuditTrailResult[] = [];

  const runHealth = (n: number) =>
    handle.env.client.workflow.execute('health', { taskQueue: handle.taskQueue, workflowId: `audit-health-${n}-${Date.now()}`, args: [{ hostTaskQueue: handle.workers.hostTaskQueue }] });
  const runExport = async (): Promise<ExportAuditTrailResult> => {
    const r = await handle.env.client.workflow.execute('exportAuditTrail', { taskQueue: handle.taskQueue, workflowId: `audit-export-${Date.now()}`, args: [{ settleSeconds: 0 }] });
    exports.push(r as ExportAuditTrailResult);
    return r as ExportAuditTrailResult;
  };
  const closedOnQueue = async (): Promise<string[]> => {
    const ids: string[] = [];
    for await (const w of handle.env.client.workflow.list({ query: `TaskQueue = '${handle.taskQueue}' AND ExecutionStatus != 'Running'` })) ids.push(`${w.workflowId}__${w.runId}`);
    return ids.sort();
  };
  const manifestOf = async (key: string): Promise<AuditManifest> => parseManifest(await getBuffer(new FsStore(root), key))!;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'lifeboat-audit-'));
    bucket = `lbt-audit-${Date.now().toString(36)}`;
    handle = await startTestWorker({ overrides: { BACKUP_ROOT: root, S3_BUCKET: bucket, AUDIT_RETENTION_DAYS: '1', AUDIT_LOCK_MODE: 'GOVERNANCE' } });
    remote = new S3Store(s3SettingsFromConfig(handle.config.remote));
    await remote.client.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true }));
  });
  afterAll(async () => {
    await handle?.stop();
    if (remote) await dropLockedBucket(remote.client, bucket).catch((e: unknown) => process.stderr.write(`cleanup ${bucket}: ${String(e)}\n`));
    rmSync(root, { recursive: true, force: true });
  });

  it('exports every closed run exactly once across two exports (a failed run included)', async () => {
    await runHealth(1);
    await runHealth(2);
    // A failed run: bad input, refused before any side effect.
    await handle.env.client.workflow.execute('exportAuditTrail', { taskQueue: handle.taskQueue, workflowId: `audit-bad-${Date.now()}`, args: [{ settleSeconds: -1 }] }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 1500));
    const first = await runExport();
    expect(first.sequence).toBe(1);
    expect(first.files).toBe(3);
    expect(first.locked).toBe(true);
    await runHealth(3);
    await new Promise((r) => setTimeout(r, 1500));
    const second = await runExport();
    expect(second.sequence).toBe(2);
    // The third health run, its children if any, and the first export itself.
    const m1 = await manifestOf(first.manifest!);
    const m2 = await manifestOf(second.manifest!);
    expect(m2.previous?.key).toBe(first.manifest);
    expect(m2.window.from).toBe(m1.window.until);
    const exported = [...m1.files, ...m2.files].map((f) => `${f.workflowId}__${f.runId}`).sort();
    expect(new Set(exported).size).toBe(exported.length);
    expect(m2.files.map((f) => f.workflowType).sort()).toEqual(['exportAuditTrail', 'health']);
    expect(m1.files.find((f) => f.status === 'FAILED')?.workflowType).toBe('exportAuditTrail');
    // Everything closed on the queue before the second export is in the trail (the second export is still open then).
    const closed = (await closedOnQueue()).filter((id) => !id.startsWith(`${m2.exporter.workflowId}__`));
    expect(exported).toEqual(closed);
    for (const f of m1.files) expect(f.key).toMatch(/^audit\/\d{4}-\d{2}-\d{2}\/(health|exportAuditTrail)\/.+__.+\.json\.zst\.gpg$/);
    process.stdout.write(`audit export: ${first.files} files in ${first.ms} ms (${first.bytes} bytes from ${first.rawBytes} raw), ${second.files} in ${second.ms} ms\n`);
  });

  it('an export killed after some files is redone as a whole: its files reused, nothing twice', async () => {
    await runHealth(4);
    await runHealth(5);
    await new Promise((r) => setTimeout(r, 1500));
    const client = handle.env.client;
    let fetched = 0;
    // The same export the activity runs, killed after its first history file.
    const killed = exportAuditTrail({
      local: new FsStore(root),
      source: {
        async *listClosed(query) {
          for await (const w of client.workflow.list({ query })) yield { workflowType: w.type, workflowId: w.workflowId, runId: w.runId, closeTime: w.closeTime!, status: w.status.name };
        },
        fetchHistory: (run) => {
          if (fetched++ === 1) throw new Error('killed');
          return client.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
        },
      },
      taskQueue: handle.taskQueue,
      encryptionKey: await loadPublicKey(handle.config.encryption),
      compressionLevel: 3,
      retention: { days: 0, mode: 'GOVERNANCE' },
      exporter: { workflowId: 'killed', runId: 'killed' },
      settleSeconds: 0,
    });
    await expect(killed).rejects.toThrow('killed');
    const third = await runExport();
    expect(third.sequence).toBe(3);
    expect(third.reused).toBe(1);
    // health 4, health 5, the second export.
    expect(third.files).toBe(3);
  });

  it('replay: every exported history replays against the current code; a reordered workflow fails naming the event', async () => {
    const local = new FsStore(root);
    const keys = await loadPrivateKeys(handle.config.encryption);
    const files = (await listAll(local, 'audit/')).map((o) => o.key).filter(isHistoryKey).sort();
    const histories = await Promise.all(files.map(async (key) => ({ source: key, json: await decodeAuditFile(key, await getBuffer(local, key), keys) })));
    const started = Date.now();
    const outcomes = await replayHistories(histories, { workflowBundle: await workflowBundle() });
    process.stdout.write(`audit replay: ${outcomes.length} histories in ${Date.now() - started} ms\n`);
    expect(outcomes.length).toBe(exports.reduce((n, e) => n + e.files, 0));
    expect(outcomes.filter((o) => !o.ok)).toEqual([]);
    expect(formatReplayTable(outcomes)).toMatch(/^workflow +id +run +result\n/);
    // The same health histories against a workflow that calls the same activities in another order.
    const reordered = await bundleWorkflowCode({ workflowsPath: join(__dirname, '..', 'replay', 'reordered'), logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} } });
    const bad = await replayHistories(histories.filter((h) => h.source.includes('/health/')), { workflowBundle: reordered });
    expect(bad.length).toBeGreaterThan(0);
    for (const o of bad) {
      expect(o.ok).toBe(false);
      expect(o.error).toMatch(/[Nn]ondeterminis/);
    }
    expect(formatReplayTable(bad)).toContain('NONDETERMINISTIC');
  });

  it('verify passes locally and off-site, then names a changed, a missing and an extra file', async () => {
    const local = new FsStore(root);
    for (const store of [local, remote]) {
      const ok = await verifyAuditTrail(store);
      expect(ok.problems).toEqual([]);
      expect(ok.manifests).toBe(3);
      expect(ok.files).toBe(exports[0]!.files + exports[1]!.files + exports[2]!.files);
    }
    const m1 = await manifestOf(exports[0]!.manifest!);
    const [changed, missing] = [m1.files[0]!.key, m1.files[1]!.key];
    // Locally: flip one byte, delete one file, add one.
    const path = local.pathOf(changed);
    const bytes = readFileSync(path);
    const at = Math.floor(bytes.length / 2);
    bytes[at] = bytes[at]! ^ 0x01;
    writeFileSync(path, bytes);
    unlinkSync(local.pathOf(missing));
    await local.put('audit/2020-01-01/health/planted__x.json.zst.gpg', Buffer.from('planted'));
    const bad = await verifyAuditTrail(local);
    expect(bad.problems.map((p) => `${p.kind} ${p.key}`).sort()).toEqual([`changed ${changed}`, 'extra audit/2020-01-01/health/planted__x.json.zst.gpg', `missing ${missing}`].sort());
    // Off-site: a new version over a locked object (allowed: the locked version stays), a delete marker, a planted object.
    await remote.client.send(new PutObjectCommand({ Bucket: bucket, Key: changed, Body: bytes }));
    await remote.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: missing }));
    await remote.client.send(new PutObjectCommand({ Bucket: bucket, Key: 'audit/extra.json', Body: '{}' }));
    const badRemote = await verifyAuditTrail(remote);
    expect(badRemote.problems.map((p) => `${p.kind} ${p.key}`).sort()).toEqual([`changed ${changed}`, 'extra audit/extra.json', `missing ${missing}`].sort());
    // A changed manifest breaks the chain at the next one.
    writeFileSync(local.pathOf(exports[0]!.manifest!), readFileSync(local.pathOf(exports[0]!.manifest!), 'utf8').replace('"health"', '"healthy"'));
    expect((await verifyAuditTrail(local)).problems.some((p) => p.kind === 'changed' && p.key === exports[0]!.manifest)).toBe(true);
  });

  it('Object Lock: an audit object version cannot be deleted before its retention ends', async () => {
    const key = exports[1]!.manifest!;
    const versions = await remote.client.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key }));
    const version = versions.Versions?.[0]?.VersionId;
    expect(version).toBeTruthy();
    const retention = await remote.client.send(new GetObjectRetentionCommand({ Bucket: bucket, Key: key, VersionId: version }));
    expect(retention.Retention?.Mode).toBe('GOVERNANCE');
    expect(retention.Retention!.RetainUntilDate!.getTime()).toBeGreaterThan(Date.now() + 23 * 3600_000);
    await expect(remote.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key, VersionId: version }))).rejects.toThrow(/retention|WORM|AccessDenied|protected/i);
    // The locked version is still there and still the one the chain names.
    expect((await verifyAuditTrail(remote)).problems.filter((p) => p.key === key)).toEqual([]);
    // The cursor is a pointer, not locked.
    expect(await remote.stat(CURSOR_KEY)).toBeDefined();
  });
});
