/**
 * backupDatabase / backupBase on the real stack: the artifacts restore by hand with gpg, zstd or
 * gunzip and psql/pg_restore; metadata matches the files; failures are classified, leave nothing
 * behind and never touch the last good backup; no secret reaches a history or a command line.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowFailedError } from '@temporalio/client';
import { parseMetadata, type LogicalMetadata } from '../../lib/catalog/metadata';
import { formatStamp } from '../../lib/catalog/names';
import type { Config } from '../../lib/config/load';
import { S3Store, s3SettingsFromConfig } from '../../lib/storage/s3-store';
import { getBuffer } from '../../lib/storage/store';
import type { BackupBaseResult } from '../../workflows/backup-base';
import type { BackupDatabaseResult } from '../../workflows/backup-database';
import { historyText, startTestWorker, type TestWorkerHandle, queryDb } from './helpers';

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');


/** Row counts and whole-table md5s of the sample tables. */
async function contents(config: Config, database: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const table of ['companies', 'filings', 'events', 'embeddings']) {
    const [row] = await queryDb<{ n: string; md5: string }>(config, database, `SELECT count(*) AS n, md5(string_agg(t::text, E'\\n' ORDER BY id)) AS md5 FROM ${table} t`);
    out[table] = `${row!.n}:${row!.md5}`;
  }
  return out;
}

/** Restore an artifact into a fresh database with the standard tools only, as the docs say. */
function restoreByHand(config: Config, file: string, database: string): void {
  const env = { ...process.env, PGHOST: config.db.host, PGPORT: String(config.db.port), PGUSER: config.db.user, PGPASSWORD: config.db.password ?? '' };
  const gpg = `gpg --homedir '${config.encryption.gnupgHome}' --batch --quiet --decrypt '${file}'`;
  const decompress = file.includes('.zst') ? 'zstd -d -c' : 'gunzip -c';
  const load = file.includes('.dump') ? `pg_restore --no-owner -d ${database}` : `psql -q -v ON_ERROR_STOP=1 -d ${database}`;
  const created = spawnSync('createdb', [database], { env, encoding: 'utf8' });
  expect(created.stderr).toBe('');
  const result = spawnSync('bash', ['-o', 'pipefail', '-c', `${gpg} | ${decompress} | ${load}`], { env, encoding: 'utf8' });
  expect(result.status, result.stderr).toBe(0);
}

function dropDatabase(config: Config, database: string): void {
  spawnSync('dropdb', ['--if-exists', '--force', database], { env: { ...process.env, PGHOST: config.db.host, PGPORT: String(config.db.port), PGUSER: config.db.user, PGPASSWORD: config.db.password ?? '' } });
}

describe('backupDatabase on the real stack', () => {
  let worker: TestWorkerHandle;
  const restored: string[] = [];
  beforeAll(async () => {
    worker = await startTestWorker();
  });
  afterAll(async () => {
    for (const db of restored) dropDatabase(worker.config, db);
    await worker?.stop();
  });

  const runBackup = (handle: TestWorkerHandle, tier: 'daily' | 'weekly' | 'monthly', format?: 'plain' | 'custom') =>
    handle.env.client.workflow.execute('backupDatabase', { taskQueue: handle.taskQueue, workflowId: `test-backup-${tier}-${Date.now()}`, args: [{ tier, ...(format ? { format } : {}) }] }) as Promise<BackupDatabaseResult>;

  it('writes an encrypted zstd dump that gpg | zstd -d | psql restores with equal contents', async () => {
    const config = worker.config;
    const result = await runBackup(worker, 'daily');
    expect(result.key).toMatch(/^daily\/corporate_intel_daily_\d{8}-\d{6}\.sql\.zst\.gpg$/);
    const file = join(config.backupRoot, result.key);

    // The metadata is written, last, with the file's real checksum and the exact row counts.
    const metadata = parseMetadata(readFileSync(`${file}.metadata.json`, 'utf8')) as LogicalMetadata;
    expect(metadata.kind).toBe('logical');
    expect(metadata.sha256).toBe(sha256(readFileSync(file)));
    expect(metadata.bytes).toBe(readFileSync(file).length);
    expect(metadata.encryption.fingerprint).toMatch(/^[0-9A-F]{40}$/);
    expect(metadata.server?.version).toMatch(/^15\./);
    const source = await contents(config, config.db.name);
    for (const t of metadata.tables) expect(`${t.rows}`).toBe(source[t.name]!.split(':')[0]);
    expect(metadata.globalsKey).toMatch(/^daily\/globals_\d{8}-\d{6}\.sql\.zst\.gpg$/);
    expect(readFileSync(join(config.backupRoot, `${metadata.globalsKey}.metadata.json`), 'utf8')).toContain('"kind": "globals"');

    // The off-site copy: same bytes, metadata object beside it.
    const remote = new S3Store(s3SettingsFromConfig(config.remote));
    expect(sha256(await getBuffer(remote, result.key))).toBe(metadata.sha256);
    expect(parseMetadata((await getBuffer(remote, `${result.key}.metadata.json`)).toString())?.sha256).toBe(metadata.sha256);

    // Restored by hand into a fresh database: equal contents.
    const database = `restore_zstd_${Date.now()}`;
    restored.push(database);
    restoreByHand(config, file, database);
    expect(await contents(config, database)).toEqual(source);
  });

  it('writes gzip + custom format that gpg | gunzip | pg_restore restores, and names it .dump.gz.gpg', async () => {
    const gz = await startTestWorker({ overrides: { COMPRESSION: 'gzip', DUMP_FORMAT: 'custom' } });
    try {
      const result = await runBackup(gz, 'weekly');
      expect(result.key).toMatch(/^weekly\/corporate_intel_weekly_\d{8}-\d{6}\.dump\.gz\.gpg$/);
      const database = `restore_gzip_${Date.now()}`;
      restored.push(database);
      restoreByHand(gz.config, join(gz.config.backupRoot, result.key), database);
      expect(await contents(gz.config, database)).toEqual(await contents(gz.config, gz.config.db.name));
    } finally {
      await gz.stop();
    }
  });

  it('writes a plain .sql.zst when encryption is off', async () => {
    const plain = await startTestWorker({ overrides: { ENCRYPT_BACKUPS: 'false', REMOTE_STORAGE: 'false' } });
    try {
      const result = await runBackup(plain, 'monthly');
      expect(result.key).toMatch(/\.sql\.zst$/);
      const sql = spawnSync('zstd', ['-d', '-c', join(plain.config.backupRoot, result.key)], { maxBuffer: 1 << 30 });
      expect(sql.status).toBe(0);
      expect(sql.stdout.toString()).toContain('CREATE TABLE public.companies');
    } finally {
      await plain.stop();
    }
  });

  it('takes a base backup with LSNs, copies it off-site and ships the WAL', async () => {
    const result = (await worker.env.client.workflow.execute('backupBase', { taskQueue: worker.taskQueue, workflowId: `test-base-${Date.now()}`, args: [{}] })) as BackupBaseResult;
    expect(result.key).toMatch(/^base\/\d{8}-\d{6}\/base\.tar\.zst\.gpg$/);
    expect(result.startLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    expect(result.timeline).toBeGreaterThanOrEqual(1);
    const file = join(worker.config.backupRoot, result.key);
    const metadata = parseMetadata(readFileSync(`${file}.metadata.json`, 'utf8'));
    expect(metadata?.kind === 'base' && metadata.startWal).toMatch(/^[0-9A-F]{24}$/);
    // The tar inside lists the data directory and its backup_label.
    const listing = spawnSync('bash', ['-o', 'pipefail', '-c', `gpg --homedir '${worker.config.encryption.gnupgHome}' --batch --quiet -d '${file}' | zstd -d -c | tar -t`], { encoding: 'utf8', maxBuffer: 1 << 26 });
    expect(listing.status, listing.stderr).toBe(0);
    expect(listing.stdout.split('\n')).toEqual(expect.arrayContaining(['backup_label', 'PG_VERSION', 'global/pg_control']));
    const remote = new S3Store(s3SettingsFromConfig(worker.config.remote));
    expect((await remote.stat(result.key))?.size).toBe(metadata?.bytes);
  });
});

describe('backup failures', () => {
  it('a rejected password fails fast without retries, leaves nothing behind and keeps the last good backup', async () => {
    const good = await startTestWorker();
    const bad = await startTestWorker({ overrides: { PGPASSWORD: 'wrong-password-4e1b' } });
    try {
      const ok = (await good.env.client.workflow.execute('backupDatabase', { taskQueue: good.taskQueue, workflowId: `test-good-${Date.now()}`, args: [{ tier: 'daily' }] })) as BackupDatabaseResult;
      const goodFile = join(good.config.backupRoot, ok.key);
      const before = { file: sha256(readFileSync(goodFile)), metadata: readFileSync(`${goodFile}.metadata.json`, 'utf8') };
      const dir = join(good.config.backupRoot, 'daily');
      const filesBefore = readdirSync(dir).sort();

      // Backup names carry the second they start in; a second run of the same tier in the same second
      // is refused as a name conflict (it must never touch the first). Start the failing run after it.
      const goodStamp = /_(\d{8}-\d{6})\./.exec(ok.key)![1]!;
      while (formatStamp(new Date()) <= goodStamp) await new Promise((r) => setTimeout(r, 50));
      const started = Date.now();
      const error = await bad.env.client.workflow
        .execute('backupDatabase', { taskQueue: bad.taskQueue, workflowId: `test-badpw-${Date.now()}`, args: [{ tier: 'daily' }] })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WorkflowFailedError);
      const cause = (error as WorkflowFailedError).cause?.cause as { type?: string; message?: string };
      expect(cause.type).toBe('AuthenticationFailed');
      expect(cause.message).toMatch(/rejected user "postgres"/);
      expect(cause.message).not.toContain('wrong-password-4e1b');
      expect(Date.now() - started).toBeLessThan(20_000);

      // Nothing new in the tier directory (no partial file, no artifact without metadata)...
      expect(readdirSync(dir).sort()).toEqual(filesBefore);
      // ...and the last good backup is byte-for-byte what it was.
      expect(sha256(readFileSync(goodFile))).toBe(before.file);
      expect(readFileSync(`${goodFile}.metadata.json`, 'utf8')).toBe(before.metadata);
    } finally {
      await Promise.all([good.stop(), bad.stop()]);
    }
  });

  it('a missing public key is a non-retryable KeyUnavailable naming the file', async () => {
    const worker = await startTestWorker({ overrides: { GPG_PUBLIC_KEY_FILE: '/nonexistent/backup-public.asc' } });
    try {
      const error = await worker.env.client.workflow
        .execute('backupDatabase', { taskQueue: worker.taskQueue, workflowId: `test-nokey-${Date.now()}`, args: [{ tier: 'daily' }] })
        .catch((e: unknown) => e);
      const cause = (error as WorkflowFailedError).cause?.cause as { type?: string; message?: string };
      expect(cause.type).toBe('KeyUnavailable');
      expect(cause.message).toContain('/nonexistent/backup-public.asc');
    } finally {
      await worker.stop();
    }
  });

  it('a refused connection is retried (the workflow keeps going) rather than failed', async () => {
    const worker = await startTestWorker({ overrides: { DB_PORT: '1' } });
    try {
      const handle = await worker.env.client.workflow.start('backupDatabase', { taskQueue: worker.taskQueue, workflowId: `test-refused-${Date.now()}`, args: [{ tier: 'daily' }] });
      // Poll until the dump step has failed at least once and is scheduled again.
      let pending: { attempt?: number | null; lastFailure?: { message?: string | null } | null } | undefined;
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        pending = (await handle.describe()).raw.pendingActivities?.[0] ?? undefined;
        if ((pending?.attempt ?? 0) >= 2) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(pending?.attempt).toBeGreaterThanOrEqual(2);
      expect(pending?.lastFailure?.message).toMatch(/unavailable/);
      expect((await handle.describe()).status.name).toBe('RUNNING');
      await handle.terminate('test done');
    } finally {
      await worker.stop();
    }
  });

  it('rejects a bad tier before any side effect', async () => {
    const worker = await startTestWorker();
    try {
      const error = await worker.env.client.workflow
        .execute('backupDatabase', { taskQueue: worker.taskQueue, workflowId: `test-badtier-${Date.now()}`, args: [{ tier: 'hourly' }] })
        .catch((e: unknown) => e);
      expect(((error as WorkflowFailedError).cause as { message?: string }).message).toMatch(/^tier: must be daily, weekly or monthly/);
    } finally {
      await worker.stop();
    }
  });
});

describe('secrets', () => {
  it('never appear in workflow histories nor in any process command line', async () => {
    const worker = await startTestWorker();
    const secrets = worker.config.secretValues;
    expect(secrets.length).toBeGreaterThanOrEqual(3); // PGPASSWORD, AWS_SECRET_ACCESS_KEY, MINIO_*_SECRET_KEY
    // Sample every process's argv while the backups run.
    let sampling = true;
    const seenTools = new Set<string>();
    const leaks: string[] = [];
    const sampler = (async () => {
      while (sampling) {
        for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
          let argv = '';
          try {
            argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
          } catch {
            continue;
          }
          const tool = /\b(pg_dump|pg_dumpall|pg_basebackup|zstd)\b/.exec(argv)?.[1];
          if (tool) seenTools.add(tool);
          for (const s of secrets) if (argv.includes(s)) leaks.push(argv);
        }
        await new Promise((r) => setImmediate(r));
      }
    })();
    // Each workflow with a text that only its decoded payloads contain (proves the search sees them).
    const runs = [
      ['backupDatabase', { tier: 'daily' }, '"tier":"daily"'],
      ['backupBase', {}, '"kind":"base"'],
      ['shipWal', {}, '"pendingCount"'],
    ] as const;
    const ids: [string, string][] = [];
    try {
      for (const [type, args, marker] of runs) {
        const id = `test-secrets-${type}-${Date.now()}`;
        ids.push([id, marker]);
        await worker.env.client.workflow.execute(type, { taskQueue: worker.taskQueue, workflowId: id, args: [args] });
      }
      for (const [id, marker] of ids) {
        const history = historyText(await worker.env.client.workflow.getHandle(id).fetchHistory());
        expect(history).toContain(marker);
        for (const s of secrets) expect(history.includes(s), `a secret is in the history of ${id}`).toBe(false);
      }
    } finally {
      sampling = false;
      await sampler;
      await worker.stop();
    }
    expect(leaks).toEqual([]);
    expect(seenTools.size).toBeGreaterThan(0); // the sampler did see the tools run
  });
});
