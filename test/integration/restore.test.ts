/**
 * restoreDatabase and verifyBackups on the real stack: round trip into a new database, verify-only
 * with a recorded result, corrupted copies (fixtures: a flipped byte, a truncated file; and a flipped
 * byte in the remote copy) found and named, restoring over production refused without confirmation
 * and done only after the approval Update, and bad input refused by the CLI with no side effect.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readVerification } from '../../activities/restore';
import type { Config } from '../../lib/config/load';
import { S3Store, s3SettingsFromConfig } from '../../lib/storage/s3-store';
import type { BackupDatabaseResult } from '../../workflows/backup-database';
import type { RestoreDatabaseResult, RestoreState } from '../../workflows/restore-database';
import type { VerifyBackupsResult } from '../../workflows/verify-backups';
import { stackEnvFile, startTestWorker, type TestWorkerHandle, queryDb } from './helpers';

const FIXTURES = join(__dirname, '..', 'fixtures');
const FIXTURE_KEY = 'daily/fixture_db_daily_20250101-000000.sql.zst.gpg';


async function fingerprint(config: Config, database: string, tables: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const t of tables) {
    const [row] = await queryDb<{ n: string; md5: string }>(config, database, `SELECT count(*) AS n, md5(string_agg(x::text, E'\\n' ORDER BY id)) AS md5 FROM ${t} x`);
    out.push(`${t}:${row!.n}:${row!.md5}`);
  }
  return out;
}

async function databases(config: Config): Promise<string[]> {
  return (await queryDb<{ datname: string }>(config, 'postgres', 'SELECT datname FROM pg_database ORDER BY 1')).map((r) => r.datname);
}

/** Put a fixture variant into BACKUP_ROOT under a unique stamp (metadata key rewritten to match). */
function placeFixture(config: Config, variant: 'good' | 'flipped-byte' | 'truncated'): string {
  const stamp = `2025${String(Math.floor(Math.random() * 1e4)).padStart(4, '0')}-${String(Date.now() % 1e6).padStart(6, '0')}`;
  const key = `daily/fixture_db_daily_${stamp}.sql.zst.gpg`;
  const target = join(config.backupRoot, key);
  mkdirSync(join(config.backupRoot, 'daily'), { recursive: true });
  copyFileSync(join(FIXTURES, 'backups', variant, FIXTURE_KEY), target);
  const metadata = JSON.parse(readFileSync(join(FIXTURES, 'backups', 'good', `${FIXTURE_KEY}.metadata.json`), 'utf8')) as Record<string, unknown>;
  writeFileSync(`${target}.metadata.json`, JSON.stringify({ ...metadata, key, file: key.split('/')[1] }, null, 2));
  return key;
}

const FIXTURE_OVERRIDES = { GPG_PRIVATE_KEY_FILE: join(FIXTURES, 'keys', 'fixture-private.asc'), REMOTE_STORAGE: 'false' };

describe('restoreDatabase', () => {
  let worker: TestWorkerHandle;
  let backup: BackupDatabaseResult;
  const created: string[] = [];
  beforeAll(async () => {
    worker = await startTestWorker();
    backup = (await worker.env.client.workflow.execute('backupDatabase', { taskQueue: worker.taskQueue, workflowId: `test-rbackup-${Date.now()}`, args: [{ tier: 'daily' }] })) as BackupDatabaseResult;
  });
  afterAll(async () => {
    for (const db of created) spawnSync('dropdb', ['--if-exists', '--force', db], { env: { ...process.env, PGHOST: worker.config.db.host, PGPORT: String(worker.config.db.port), PGUSER: 'postgres', PGPASSWORD: worker.config.db.password } });
    await worker?.stop();
  });

  const restore = (input: Record<string, unknown>, handle = worker) =>
    handle.env.client.workflow.start('restoreDatabase', { taskQueue: handle.taskQueue, workflowId: `test-restore-${Date.now()}-${Math.random().toString(36).slice(2, 6)}`, args: [input] });

  it('restores into a new database with contents equal to the source, reporting progress', async () => {
    const handle = await restore({ backup: backup.key, targetDatabase: `restored_${Date.now()}` });
    const result = (await handle.result()) as RestoreDatabaseResult;
    created.push(result.database);
    expect(result.check).toMatchObject({ ok: true, problems: [], tables: 4 });
    const tables = ['companies', 'filings', 'events', 'embeddings'];
    expect(await fingerprint(worker.config, result.database, tables)).toEqual(await fingerprint(worker.config, worker.config.db.name, tables));
    const state = await handle.query<RestoreState>('progress');
    expect(state).toMatchObject({ stage: 'done', percent: 100, backup: backup.key });
    expect(state.bytesTotal).toBe(backup.bytes);
  });

  it('verify-only restores into a temporary database, drops it and records the result', async () => {
    const before = await databases(worker.config);
    const result = (await (await restore({ backup: backup.key, verifyOnly: true })).result()) as RestoreDatabaseResult;
    expect(result.database).toMatch(/^lifeboat_verify_/);
    expect(result.check.ok).toBe(true);
    expect(await databases(worker.config)).toEqual(before);
    const recorded = readVerification(worker.config.backupRoot, backup.key);
    expect(recorded?.ok).toBe(true);
    expect(recorded?.checks.map((c) => c.name)).toContain('test-restore');
  });

  it('finds restored contents that differ from the metadata (facts read inside the loading transaction)', async () => {
    // A fresh backup whose metadata claims one more row in `events` than the dump holds.
    const other = (await worker.env.client.workflow.execute('backupDatabase', { taskQueue: worker.taskQueue, workflowId: `test-rbackup2-${Date.now()}`, args: [{ tier: 'monthly' }] })) as BackupDatabaseResult;
    const metadataPath = join(worker.config.backupRoot, `${other.key}.metadata.json`);
    const metadata = JSON.parse(readFileSync(metadataPath, 'utf8')) as { tables: { name: string; rows: number; primaryKey?: string[] }[] };
    expect(metadata.tables.every((t) => Array.isArray(t.primaryKey))).toBe(true);
    const events = metadata.tables.find((t) => t.name === 'events')!;
    events.rows += 1;
    writeFileSync(metadataPath, JSON.stringify(metadata, null, 2));
    const result = (await (await restore({ backup: other.key, verifyOnly: true })).result()) as RestoreDatabaseResult;
    expect(result.check.ok).toBe(false);
    expect(result.check.problems).toEqual([`table public.events has ${events.rows - 1} rows, the backup recorded ${events.rows}`]);
    expect(readVerification(worker.config.backupRoot, other.key)?.ok).toBe(false);
  });

  it('refuses to restore over production without the approval Update, and replaces only after it', async () => {
    // A production database of our own, so the suite's `corporate_intel` is never swapped.
    const production = `prod_${Date.now()}`;
    await queryDb(worker.config, 'postgres', `CREATE DATABASE ${production} TEMPLATE ${worker.config.db.name}`);
    created.push(production);
    const prod = await startTestWorker({ overrides: { DB_NAME: production } });
    try {
      const ours = (await prod.env.client.workflow.execute('backupDatabase', { taskQueue: prod.taskQueue, workflowId: `test-prodbackup-${Date.now()}`, args: [{ tier: 'daily' }] })) as BackupDatabaseResult;
      await queryDb(prod.config, production, 'DELETE FROM embeddings WHERE id > 10'); // production drifts after the backup
      const drifted = await fingerprint(prod.config, production, ['embeddings']);

      // Naming production as the target without replaceProduction is refused before any work.
      const refused = await (await restore({ backup: ours.key, targetDatabase: production }, prod)).result().catch((e: unknown) => e);
      expect(((refused as WorkflowFailedError).cause as { message?: string }).message).toMatch(/is the production database/);

      const handle = await restore({ backup: ours.key, replaceProduction: true }, prod);
      for (let i = 0; i < 300 && (await handle.query<RestoreState>('progress')).stage !== 'awaiting-approval'; i++) await new Promise((r) => setTimeout(r, 200));
      expect((await handle.query<RestoreState>('progress')).stage).toBe('awaiting-approval');
      // A wrong confirmation is rejected by the validator and changes nothing.
      const wrong = await handle.executeUpdate('approveReplace', { args: [{ confirm: 'corporate_intel_typo' }] }).catch((e: unknown) => e);
      expect(wrong).toBeInstanceOf(WorkflowUpdateFailedError);
      expect(await fingerprint(prod.config, production, ['embeddings'])).toEqual(drifted);
      // The right one replaces production with the checked copy; the old one is kept, renamed.
      await handle.executeUpdate('approveReplace', { args: [{ confirm: production }] });
      const result = (await handle.result()) as RestoreDatabaseResult;
      expect(result.replaced?.production).toBe(production);
      created.push(result.replaced!.keptAs);
      expect(await fingerprint(prod.config, result.replaced!.keptAs, ['embeddings'])).toEqual(drifted);
      expect((await queryDb<{ n: string }>(prod.config, production, 'SELECT count(*) AS n FROM embeddings'))[0]!.n).toBe('2000');
    } finally {
      await prod.stop();
    }
  });

  it('fails with KeyUnavailable when the private key does not match the backup', async () => {
    const wrongKey = await startTestWorker({ overrides: { GPG_PRIVATE_KEY_FILE: join(FIXTURES, 'keys', 'fixture-private.asc') } });
    try {
      const before = await databases(worker.config);
      const error = await (await restore({ backup: backup.key }, wrongKey)).result().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WorkflowFailedError);
      const cause = (error as WorkflowFailedError).cause?.cause as { type?: string; message?: string };
      expect(cause.type).toBe('KeyUnavailable');
      expect(await databases(worker.config)).toEqual(before); // the half-restored database was dropped
    } finally {
      await wrongKey.stop();
    }
  });
});

describe('verifyBackups with corrupted copies', () => {
  let worker: TestWorkerHandle;
  beforeAll(async () => {
    worker = await startTestWorker({ overrides: FIXTURE_OVERRIDES });
  });
  afterAll(async () => {
    await worker?.stop();
  });

  const verify = async (backup: string, restore = false, handle = worker): Promise<VerifyBackupsResult> =>
    (await handle.env.client.workflow.execute('verifyBackups', { taskQueue: handle.taskQueue, workflowId: `test-verify-${Date.now()}-${Math.random().toString(36).slice(2, 6)}`, args: [{ scope: 'one', backup, restore }] })) as VerifyBackupsResult;

  it('passes a good backup, test restore included', async () => {
    const key = placeFixture(worker.config, 'good');
    const result = await verify(key, true);
    expect(result).toMatchObject({ verified: 1, failed: 0 });
    expect(result.results[0]!.checks.map((c) => [c.name, c.ok])).toEqual([['local-checksum', true], ['decrypt-decompress', true], ['test-restore', true]]);
  });

  it.each([
    ['flipped-byte', /sha256 .* does not match/],
    ['truncated', /6858 bytes, metadata says 6922 \(truncated or extended\)/],
  ] as const)('fails a %s copy, naming the backup and the reason, and raises an alert', async (variant, reason) => {
    const key = placeFixture(worker.config, variant);
    const result = await verify(key);
    expect(result.failed).toBe(1);
    const [r] = result.results;
    expect(r!.key).toBe(key);
    expect(r!.checks.find((c) => c.name === 'local-checksum')).toMatchObject({ ok: false, detail: expect.stringMatching(reason) });
    expect(r!.checks.find((c) => c.name === 'decrypt-decompress')?.ok).toBe(false);
    expect(readVerification(worker.config.backupRoot, key)?.ok).toBe(false);
    const alerts = readFileSync(join(worker.config.backupRoot, 'logs', 'alerts.jsonl'), 'utf8');
    expect(alerts).toContain(`"condition":"verify:${key}"`);
  });

  it('fails when one byte of the remote copy is flipped, and names the remote copy', async () => {
    const remoteWorker = await startTestWorker({ overrides: { GPG_PRIVATE_KEY_FILE: FIXTURE_OVERRIDES.GPG_PRIVATE_KEY_FILE } });
    try {
      const config = remoteWorker.config;
      const key = placeFixture(config, 'good');
      const store = new S3Store(s3SettingsFromConfig(config.remote));
      const good = readFileSync(join(config.backupRoot, key));
      const flipped = Buffer.from(good);
      flipped.writeUInt8(flipped[100]! ^ 0x80, 100);
      await store.client.send(new PutObjectCommand({ Bucket: config.remote.bucket!, Key: key, Body: flipped }));
      await store.put(`${key}.metadata.json`, readFileSync(join(config.backupRoot, `${key}.metadata.json`)));
      const result = await verify(key, false, remoteWorker);
      const checks = result.results[0]!.checks;
      expect(checks.find((c) => c.name === 'local-checksum')?.ok).toBe(true);
      expect(checks.find((c) => c.name === 'remote-checksum')).toMatchObject({ ok: false, detail: expect.stringContaining(`remote copy s3://${config.remote.bucket}/${key}`) });
      expect(result.failed).toBe(1);
    } finally {
      await remoteWorker.stop();
    }
  });
});

describe('lifeboat restore: bad input is refused before anything starts', () => {
  const cli = (args: string[]) =>
    spawnSync(process.execPath, [join(__dirname, '..', '..', 'bin', 'lifeboat.js'), ...args], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', LIFEBOAT_ENV_FILE: stackEnvFile() }, encoding: 'utf8', timeout: 60_000 });

  it.each([
    [['restore', '/etc/passwd'], 2, /backup: \/etc\/passwd is outside BACKUP_ROOT/],
    [['restore', '../../etc/passwd'], 2, /leaves BACKUP_ROOT/],
    [['restore', 'daily/no_such_backup.sql.zst.gpg'], 6, /no backup daily\/no_such_backup/],
    [['restore', 'daily/anything.sql.zst.gpg', '--target', 'corporate_intel'], 5, /without confirmation[\s\S]*hint: add --confirm corporate_intel/],
    [['restore', 'daily/anything.sql.zst.gpg', '--confirm', 'wrong_db'], 5, /does not name the production database/],
    [['restore', 'x', '--target', 'Bad-Name'], 2, /--target: "Bad-Name" is not a plain database name/],
    [['verify'], 2, /give exactly one of --latest, --all, --backup-file/],
  ])('lifeboat %j exits %i', (args, code, message) => {
    const result = cli(args as string[]);
    expect(result.stderr).toMatch(message);
    expect(result.status).toBe(code);
    expect(result.stderr).not.toMatch(/started workflow/);
  });
});
