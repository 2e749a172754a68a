/**
 * Repair on the real stack (own BACKUP_ROOT, own off-site bucket, real Temporal, MinIO and workers):
 * `lifeboat repair` replaces a bad local or off-site copy from the good one (also a copy gone
 * altogether, and an off-site object whose size and sha256 tag still look right), refuses with exit 6
 * naming both copies' states when no copy is good, does nothing when both are good; the scheduled
 * verification repairs by itself and raises an alert saying what it repaired.
 */
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { randomUUID } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { repairCommands } from '../../client/commands/repair';
import { exitCodeFor, describeError } from '../../client/exit-codes';
import { S3Store, s3SettingsFromConfig } from '../../lib/storage/s3-store';
import { getBuffer } from '../../lib/storage/store';
import { readVerification } from '../../lib/verify/record';
import type { RepairBackupResult } from '../../workflows/repair-backup';
import type { VerifyBackupsResult } from '../../workflows/verify-backups';
import { dropS3Bucket, stackEnvFile, startTestWorker, uniqueQueues, type TestWorkerHandle } from './helpers';

const FIXTURES = join(__dirname, '..', 'fixtures');
const FIXTURE_KEY = 'daily/fixture_db_daily_20250101-000000.sql.zst.gpg';
const GOOD = readFileSync(join(FIXTURES, 'backups', 'good', FIXTURE_KEY));
const FLIPPED = readFileSync(join(FIXTURES, 'backups', 'flipped-byte', FIXTURE_KEY));
const GOOD_METADATA = JSON.parse(readFileSync(join(FIXTURES, 'backups', 'good', `${FIXTURE_KEY}.metadata.json`), 'utf8')) as { sha256: string };

type Variant = 'good' | 'flipped' | 'missing' | 'flipped-tagged';

describe('repair', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'lifeboat-repair-'));
  const bucket = `lifeboat-test-repair-${randomUUID().slice(0, 8)}`;
  const overrides = {
    ...uniqueQueues(),
    BACKUP_ROOT: join(scratch, 'postgres'),
    MINIO_BACKUP_ROOT: join(scratch, 'minio'),
    S3_BUCKET: bucket,
    GPG_PRIVATE_KEY_FILE: join(FIXTURES, 'keys', 'fixture-private.asc'),
  };
  let worker: TestWorkerHandle;
  let store: S3Store;
  let stamp = 100;

  /** The good fixture under a fresh key, locally and off-site, each copy as `variants` says. */
  const placeFixture = async (variants: { local?: Variant; remote?: Variant } = {}): Promise<string> => {
    const key = `daily/fixture_db_daily_20250101-000${stamp++}.sql.zst.gpg`;
    const target = join(worker.config.backupRoot, key);
    mkdirSync(join(worker.config.backupRoot, 'daily'), { recursive: true });
    const body = JSON.stringify({ ...GOOD_METADATA, key, file: key.split('/')[1] }, null, 2);
    const local = variants.local ?? 'good';
    if (local !== 'missing') {
      copyFileSync(join(FIXTURES, 'backups', local === 'good' ? 'good' : 'flipped-byte', FIXTURE_KEY), target);
      writeFileSync(`${target}.metadata.json`, body);
    }
    const remote = variants.remote ?? 'good';
    if (remote !== 'missing') {
      // `flipped-tagged`: bit rot after a proper upload, the object still carries the right sha256 tag and size.
      const tag = remote === 'flipped-tagged' ? { Metadata: { sha256: GOOD_METADATA.sha256 } } : {};
      await store.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: remote === 'good' ? GOOD : FLIPPED, ...tag }));
      await store.put(`${key}.metadata.json`, Buffer.from(body));
    }
    return key;
  };

  const repair = async (backup: string): Promise<RepairBackupResult> =>
    (await worker.env.client.workflow.execute('repairBackup', { taskQueue: worker.taskQueue, workflowId: `test-repair-${Date.now()}-${randomUUID().slice(0, 4)}`, args: [{ backup }] })) as RepairBackupResult;

  /** `lifeboat repair <backup> [--json]` in this process: exit code, stdout, stderr. */
  const cli = async (backup: string, json = false): Promise<{ code: number; out: string; err: string }> => {
    const saved = { ...process.env };
    Object.assign(process.env, { LIFEBOAT_ENV_FILE: stackEnvFile(), ...overrides });
    const out: string[] = [];
    const err: string[] = [];
    const outSpy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => out.push(String(chunk)) > 0);
    const errSpy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => err.push(String(chunk)) > 0);
    try {
      const code = (await repairCommands.find((c) => c.name === 'repair')!.run([backup], json ? { json: true } : {})) ?? 0;
      return { code, out: out.join(''), err: err.join('') };
    } catch (error) {
      return { code: exitCodeFor(error), out: out.join(''), err: `${err.join('')}${describeError(error)}` };
    } finally {
      outSpy.mockRestore();
      errSpy.mockRestore();
      process.env = saved;
    }
  };

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

  it('replaces a bad local copy from the off-site one and records both copies good', async () => {
    const key = await placeFixture({ local: 'flipped' });
    const result = await repair(key);
    expect(result).toMatchObject({ key, action: 'replaced', copy: 'local', from: 'remote', before: { local: { ok: false }, remote: { ok: true } }, after: { local: { ok: true }, remote: { ok: true } } });
    expect(result.before.local.detail).toMatch(/sha256 .* does not match/);
    expect(readFileSync(join(worker.config.backupRoot, key)).equals(GOOD)).toBe(true);
    const recorded = readVerification(worker.config.backupRoot, key)!;
    expect(recorded.ok).toBe(true);
    expect(recorded.copies).toMatchObject({ local: { ok: true }, remote: { ok: true } });
  });

  it('restores a local copy that is gone altogether, its metadata written last', async () => {
    const key = await placeFixture({ local: 'missing' });
    expect((await repair(key)).copy).toBe('local');
    expect(readFileSync(join(worker.config.backupRoot, key)).equals(GOOD)).toBe(true);
    expect(JSON.parse(readFileSync(join(worker.config.backupRoot, `${key}.metadata.json`), 'utf8'))).toMatchObject({ key, sha256: GOOD_METADATA.sha256 });
  });

  it('replaces a bad off-site copy, also one whose size and sha256 tag still look right, from the local one', async () => {
    for (const variant of ['flipped', 'flipped-tagged'] as const) {
      const key = await placeFixture({ remote: variant });
      const result = await repair(key);
      expect(result).toMatchObject({ action: 'replaced', copy: 'remote', from: 'local', after: { local: { ok: true }, remote: { ok: true } } });
      expect((await getBuffer(store, key)).equals(GOOD)).toBe(true);
      expect(await store.stat(`${key}.metadata.json`)).toBeTruthy();
    }
  });

  it('uploads a missing off-site copy', async () => {
    const key = await placeFixture({ remote: 'missing' });
    expect(await repair(key)).toMatchObject({ action: 'replaced', copy: 'remote', before: { remote: { ok: false, detail: expect.stringContaining('no remote copy') } } });
    expect((await getBuffer(store, key)).equals(GOOD)).toBe(true);
  });

  it('refuses with exit 6 when no copy is good, naming both copies\' states, and changes nothing', async () => {
    const key = await placeFixture({ local: 'flipped', remote: 'flipped' });
    const { code, err } = await cli(key);
    expect(code).toBe(6);
    expect(err).toMatch(/no good copy/);
    expect(err).toMatch(/local: BAD \(local copy .* does not match/);
    expect(err).toMatch(/remote: BAD \(remote copy s3:\/\/.* does not match/);
    expect(readFileSync(join(worker.config.backupRoot, key)).equals(FLIPPED)).toBe(true);
    expect((await getBuffer(store, key)).equals(FLIPPED)).toBe(true);
  });

  it('does nothing when both copies are good (exit 0), and prints its JSON shape', async () => {
    const key = await placeFixture();
    const { code, out } = await cli(key, true);
    expect(code).toBe(0);
    const printed = JSON.parse(out) as { workflowId: string; result: RepairBackupResult };
    expect(printed.workflowId).toMatch(/^repair-backup-/);
    expect(printed.result).toMatchObject({ key, action: 'none', before: { local: { ok: true }, remote: { ok: true } } });
    expect(printed.result.after).toBeUndefined();
  });

  it('the CLI repairs and says so', async () => {
    const key = await placeFixture({ local: 'flipped' });
    const { code, out } = await cli(key.split('/')[1]!);
    expect(code).toBe(0);
    expect(out).toMatch(new RegExp(`^repaired: ${key}: replaced the local copy from the remote copy`));
    expect(readFileSync(join(worker.config.backupRoot, key)).equals(GOOD)).toBe(true);
  });

  it('the scheduled verification repairs one bad copy by itself and raises an alert saying what it repaired', async () => {
    const key = await placeFixture({ remote: 'flipped' });
    const result = (await worker.env.client.workflow.execute('verifyBackups', {
      taskQueue: worker.taskQueue,
      workflowId: `test-repair-verify-${Date.now()}`,
      args: [{ scope: 'all' }],
    })) as VerifyBackupsResult;
    const entry = result.results.find((r) => r.key === key)!;
    expect(entry.ok).toBe(false);
    expect(entry.repair).toMatchObject({ ok: true, copy: 'remote', from: 'local' });
    expect(result.repaired).toBeGreaterThanOrEqual(1);
    expect((await getBuffer(store, key)).equals(GOOD)).toBe(true);
    expect(readVerification(worker.config.backupRoot, key)!.copies).toMatchObject({ local: { ok: true }, remote: { ok: true } });
    const alertsFile = join(worker.config.backupRoot, 'logs', 'alerts.jsonl');
    expect(existsSync(alertsFile)).toBe(true);
    const alerts = readFileSync(alertsFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { condition: string; severity: string; summary: string });
    const alert = alerts.find((a) => a.condition === `repair:${key}`);
    expect(alert).toMatchObject({ severity: 'warning', summary: expect.stringContaining(`repaired: ${key}: replaced the remote copy from the local copy`) });
    // No failure alert for a backup that was repaired.
    expect(alerts.find((a) => a.condition === `verify:${key}`)).toBeUndefined();
  });

  it('verifying one backup (verify --backup-file) repairs nothing by default; its alert names the fix', async () => {
    const key = await placeFixture({ local: 'flipped' });
    const result = (await worker.env.client.workflow.execute('verifyBackups', { taskQueue: worker.taskQueue, workflowId: `test-repair-verify-one-${Date.now()}`, args: [{ scope: 'one', backup: key }] })) as VerifyBackupsResult;
    expect(result).toMatchObject({ failed: 1 });
    expect(result.results[0]!.repair).toBeUndefined();
    expect(readFileSync(join(worker.config.backupRoot, key)).equals(FLIPPED)).toBe(true);
    const alerts = readFileSync(join(worker.config.backupRoot, 'logs', 'alerts.jsonl'), 'utf8');
    expect(alerts).toContain(`the remote copy is good: \`lifeboat repair ${key}\` replaces the local one`);
  });

  it('the scheduled verification does not repair when no copy is good, and raises the failure', async () => {
    const key = await placeFixture({ local: 'flipped', remote: 'flipped' });
    const result = (await worker.env.client.workflow.execute('verifyBackups', { taskQueue: worker.taskQueue, workflowId: `test-repair-verify-bad-${Date.now()}`, args: [{ scope: 'one', backup: key }] })) as VerifyBackupsResult;
    expect(result).toMatchObject({ failed: 1 });
    expect(result.results[0]!.repair).toBeUndefined();
    const alerts = readFileSync(join(worker.config.backupRoot, 'logs', 'alerts.jsonl'), 'utf8');
    expect(alerts).toContain(`"condition":"verify:${key}"`);
  });
});
