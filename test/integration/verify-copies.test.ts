/**
 * Verification state per copy, on the real stack (own BACKUP_ROOT and own off-site bucket): a
 * verify-only restore that succeeds from the remote copy keeps the local copy's FAILED state, one
 * from the local copy keeps the remote's, a failed verify-only restore records its failure, and
 * `restore --list` / `backups list [--json]` show both copies' states.
 */
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { WorkflowFailedError } from '@temporalio/client';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { randomUUID } from 'node:crypto';
import { backupCommands } from '../../client/commands/backup';
import { listRestorable } from '../../client/commands/restore';
import { loadPublicKey } from '../../lib/crypto/openpgp';
import { S3Store, s3SettingsFromConfig } from '../../lib/storage/s3-store';
import { shipWalFile } from '../../lib/wal/remote';
import { readVerification } from '../../lib/verify/record';
import type { RestoreDatabaseResult } from '../../workflows/restore-database';
import type { VerifyBackupsResult } from '../../workflows/verify-backups';
import { dropS3Bucket, queryDb, stackEnvFile, startTestWorker, testConfig, type TestWorkerHandle } from './helpers';

const FIXTURES = join(__dirname, '..', 'fixtures');
const FIXTURE_KEY = 'daily/fixture_db_daily_20250101-000000.sql.zst.gpg';

describe('verification state per copy', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'lifeboat-verify-copies-'));
  const bucket = `lifeboat-test-vcopies-${randomUUID().slice(0, 8)}`;
  const overrides = {
    BACKUP_ROOT: join(scratch, 'postgres'),
    MINIO_BACKUP_ROOT: join(scratch, 'minio'),
    S3_BUCKET: bucket,
    GPG_PRIVATE_KEY_FILE: join(FIXTURES, 'keys', 'fixture-private.asc'),
  };
  let worker: TestWorkerHandle;
  let store: S3Store;
  let stamp = 100;

  /** The good fixture under a fresh key, locally and off-site; then `local`/`remote` replaced by a variant. */
  const placeFixture = async (variants: { local?: 'flipped-byte'; remote?: 'flipped-byte' } = {}): Promise<string> => {
    const config = worker.config;
    const key = `daily/fixture_db_daily_20250101-000${stamp++}.sql.zst.gpg`;
    const target = join(config.backupRoot, key);
    mkdirSync(join(config.backupRoot, 'daily'), { recursive: true });
    copyFileSync(join(FIXTURES, 'backups', variants.local ?? 'good', FIXTURE_KEY), target);
    const metadata = JSON.parse(readFileSync(join(FIXTURES, 'backups', 'good', `${FIXTURE_KEY}.metadata.json`), 'utf8')) as Record<string, unknown>;
    const body = JSON.stringify({ ...metadata, key, file: key.split('/')[1] }, null, 2);
    writeFileSync(`${target}.metadata.json`, body);
    await store.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: readFileSync(join(FIXTURES, 'backups', variants.remote ?? 'good', FIXTURE_KEY)) }));
    await store.put(`${key}.metadata.json`, Buffer.from(body));
    return key;
  };

  const verify = async (backup: string): Promise<VerifyBackupsResult> =>
    (await worker.env.client.workflow.execute('verifyBackups', { taskQueue: worker.taskQueue, workflowId: `test-vc-verify-${Date.now()}-${randomUUID().slice(0, 4)}`, args: [{ scope: 'one', backup }] })) as VerifyBackupsResult;
  const verifyOnly = (backup: string): Promise<RestoreDatabaseResult> =>
    worker.env.client.workflow.execute('restoreDatabase', { taskQueue: worker.taskQueue, workflowId: `test-vc-restore-${Date.now()}-${randomUUID().slice(0, 4)}`, args: [{ backup, verifyOnly: true }] }) as Promise<RestoreDatabaseResult>;

  beforeAll(async () => {
    worker = await startTestWorker({ overrides });
    expect(worker.config.remote.enabled).toBe(true);
    store = new S3Store(s3SettingsFromConfig(worker.config.remote));
    await store.client.send(new CreateBucketCommand({ Bucket: bucket }));
  });

  afterAll(async () => {
    await worker?.stop();
    if (store) await dropS3Bucket(store.client, bucket);
    rmSync(scratch, { recursive: true, force: true });
  });

  it('a verify-only restore from the remote copy keeps the FAILED local state', async () => {
    const key = await placeFixture({ local: 'flipped-byte' });
    expect((await verify(key)).failed).toBe(1);
    const first = readVerification(worker.config.backupRoot, key)!;
    expect(first.copies?.local).toMatchObject({ ok: false, detail: expect.stringMatching(/sha256 .* does not match/) });
    expect(first.copies?.remote?.ok).toBe(true);

    const restored = await verifyOnly(key);
    expect(restored).toMatchObject({ source: 'remote', verified: true });
    const after = readVerification(worker.config.backupRoot, key)!;
    expect(after.copies?.local).toMatchObject({ ok: false });
    expect(after.copies?.remote).toMatchObject({ ok: true, detail: expect.stringContaining('test-restore') });
    expect(after.copies!.remote!.at > first.copies!.remote!.at).toBe(true);
    expect(after.ok).toBe(false); // monitoring and retention still see a damaged copy
  });

  it('a verify-only restore from the local copy keeps the FAILED remote state', async () => {
    const key = await placeFixture({ remote: 'flipped-byte' });
    await verify(key);
    const first = readVerification(worker.config.backupRoot, key)!;
    expect(first.copies?.remote).toMatchObject({ ok: false, detail: expect.stringContaining(`remote copy s3://${bucket}/${key}`) });

    expect(await verifyOnly(key)).toMatchObject({ source: 'local', verified: true });
    const after = readVerification(worker.config.backupRoot, key)!;
    expect(after.copies?.local).toMatchObject({ ok: true });
    expect(after.copies!.local!.at > first.copies!.local!.at).toBe(true);
    expect(after.copies?.remote).toEqual(first.copies?.remote);
    expect(after.ok).toBe(false);
  });

  it('a failed verify-only restore records its failure for each copy it tried', async () => {
    const key = await placeFixture({ local: 'flipped-byte', remote: 'flipped-byte' });
    const error = await verifyOnly(key).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const recorded = readVerification(worker.config.backupRoot, key)!;
    expect(recorded.ok).toBe(false);
    expect(recorded.copies?.local).toMatchObject({ ok: false });
    expect(recorded.copies?.remote).toMatchObject({ ok: false, detail: expect.stringMatching(/remote copy .* does not match/) });
    expect(recorded.workflowId).toMatch(/^test-vc-restore-/);
  });

  it('restore --list and backups list --json show each copy', async () => {
    const key = await placeFixture({ local: 'flipped-byte' });
    await verify(key);
    const line = (await listRestorable(worker.config)).split('\n').find((l) => l.includes(key))!;
    expect(line).toMatch(/local\+remote\s+\S+\s+FAILED \d{4}-\d{2}-\d{2} \d{2}:\d{2}\s+ok \d{4}-\d{2}-\d{2} \d{2}:\d{2}\s+daily\//);

    const saved = { ...process.env };
    Object.assign(process.env, { LIFEBOAT_ENV_FILE: stackEnvFile(), ...overrides });
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    });
    try {
      await backupCommands.find((c) => c.name === 'backups list')!.run([], { json: true });
    } finally {
      spy.mockRestore();
      process.env = saved;
    }
    const entries = JSON.parse(out.join('')) as { key: string; metadata: { kind: string }; local?: object; remote?: object; verification: { ok: boolean; verifiedAt: string; copies: Record<string, { ok: boolean; at: string }> } | null }[];
    const entry = entries.find((e) => e.key === key)!;
    // The shape of before (key, metadata, local, remote, verification.ok/verifiedAt), extended.
    expect(entry).toMatchObject({ metadata: { kind: 'logical' }, local: expect.any(Object), remote: expect.any(Object), verification: { ok: false, verifiedAt: expect.any(String) } });
    expect(entry.verification!.copies).toMatchObject({ local: { ok: false }, remote: { ok: true } });
  });

  it('checks archived WAL against the sha256 its shipped copy records, naming a segment whose content changed', async () => {
    const config = worker.config;
    // A real segment from the stack's archive (read only), shipped off-site from our own archive.
    await queryDb(config, config.db.name, 'SELECT pg_switch_wal()');
    const stackArchive = join(testConfig().backupRoot, 'wal-archive');
    const name = readdirSync(stackArchive).filter((n) => /^[0-9A-F]{24}$/.test(n)).sort().pop()!;
    const archiveDir = join(config.backupRoot, 'wal-archive');
    mkdirSync(archiveDir, { recursive: true });
    copyFileSync(join(stackArchive, name), join(archiveDir, name));
    await shipWalFile(name, { archiveDir, remote: store, compression: config.compression, encryptionKey: await loadPublicKey(config.encryption) });

    const walResult = async () => {
      const result = (await worker.env.client.workflow.execute('verifyBackups', { taskQueue: worker.taskQueue, workflowId: `test-vc-wal-${Date.now()}`, args: [{ scope: 'all' }] })) as VerifyBackupsResult;
      return result.results.find((r) => r.key === 'wal-archive')!;
    };
    const good = await walResult();
    expect(good.ok).toBe(true);
    expect(good.checks[0]!.detail).toMatch(/^1 file\(s\) .* checked by size and page header, 1 by their recorded sha256$/);

    // The header and size still look right; only the recorded sha256 can tell.
    const content = readFileSync(join(archiveDir, name));
    content.writeUInt8(content.readUInt8(1 << 20) ^ 0xff, 1 << 20);
    writeFileSync(join(archiveDir, name), content);
    const bad = await walResult();
    expect(bad.ok).toBe(false);
    expect(bad.checks.find((c) => c.name === 'wal-segment')?.detail).toMatch(new RegExp(`^${name}: sha256 [0-9a-f]{16}\\.\\.\\. is not the recorded`));
  });
});
