/**
 * The seed's names and logs on the real stack (own BACKUP_ROOT): `COMPRESSION=gzip` gives the seed's
 * exact `<db>_<tier>_<stamp>.sql.gz.gpg` and `globals_<stamp>.sql.gz.gpg`, which the seed's own
 * commands read (`gpg --decrypt | gunzip`); each backup run leaves `logs/backup-<stamp>.log` (what
 * ran, how long, result), a failed run too, and run logs older than the retention are removed.
 */
import { WorkflowFailedError } from '@temporalio/client';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatStamp } from '../../lib/catalog/names';
import type { BackupBaseResult } from '../../workflows/backup-base';
import type { BackupDatabaseResult } from '../../workflows/backup-database';
import { startTestWorker, type TestWorkerHandle } from './helpers';

const LOG_LINE = /^\[\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\] /;

describe('seed names and per-run logs', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'lifeboat-run-log-'));
  const overrides = { BACKUP_ROOT: join(scratch, 'postgres'), MINIO_BACKUP_ROOT: join(scratch, 'minio'), REMOTE_STORAGE: 'false', COMPRESSION: 'gzip' };
  let worker: TestWorkerHandle;
  const logsDir = (): string => join(worker.config.backupRoot, 'logs');

  beforeAll(async () => {
    worker = await startTestWorker({ overrides });
  });
  afterAll(async () => {
    await worker?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('COMPRESSION=gzip names dumps and globals exactly as the seed does, and the seed\'s gpg | gunzip reads them', async () => {
    const result = (await worker.env.client.workflow.execute('backupDatabase', { taskQueue: worker.taskQueue, workflowId: `test-runlog-gzip-${Date.now()}`, args: [{ tier: 'daily' }] })) as BackupDatabaseResult;
    const db = worker.config.db.name;
    expect(result.key).toMatch(new RegExp(`^daily/${db}_daily_\\d{8}-\\d{6}\\.sql\\.gz\\.gpg$`));
    const stamp = /_(\d{8}-\d{6})\.sql/.exec(result.key)![1]!;
    expect(result.globalsKey).toBe(`daily/globals_${stamp}.sql.gz.gpg`);
    const file = join(worker.config.backupRoot, result.key);
    expect(existsSync(`${file}.metadata.json`)).toBe(true);
    // The seed's "Useful Commands": gpg --decrypt backup.sql.gz.gpg | gunzip | head
    const head = spawnSync('bash', ['-o', 'pipefail', '-c', `gpg --homedir '${worker.config.encryption.gnupgHome}' --batch --quiet --decrypt '${file}' | gunzip | head -c 4096`], { encoding: 'utf8' });
    expect(head.stdout).toContain('PostgreSQL database dump');

    // The run's log, named by the backup's stamp: start, what it made, the result and how long.
    const log = readFileSync(join(logsDir(), `backup-${stamp}.log`), 'utf8');
    const lines = log.trimEnd().split('\n');
    for (const line of lines) expect(line).toMatch(LOG_LINE);
    expect(lines[0]).toMatch(/\] START backupDatabase daily \(workflow test-runlog-gzip-\d+, run [0-9a-f-]+\)$/);
    expect(log).toContain(`dump ${result.key}: ${result.bytes} bytes, ${result.tables} tables / ${result.rows} rows, sha256 ${result.sha256}`);
    expect(log).toContain(`globals ${result.globalsKey}`);
    expect(lines[lines.length - 1]).toMatch(/\] OK backupDatabase daily in \d+\.\d s$/);
  });

  it('a base backup logs its run too', async () => {
    const result = (await worker.env.client.workflow.execute('backupBase', { taskQueue: worker.taskQueue, workflowId: `test-runlog-base-${Date.now()}`, args: [{}] })) as BackupBaseResult;
    expect(result.key).toMatch(/^base\/\d{8}-\d{6}\/base\.tar\.gz\.gpg$/);
    const stamp = result.key.split('/')[1]!;
    const log = readFileSync(join(logsDir(), `backup-${stamp}.log`), 'utf8');
    expect(log).toMatch(/\] START backupBase \(workflow test-runlog-base-/);
    expect(log).toContain(`base backup ${result.key}: ${result.bytes} bytes`);
    expect(log).toMatch(/\] OK backupBase in \d+\.\d s\n$/);
  });

  it('a failed run logs FAILED with the reason, and run logs past the retention are removed', async () => {
    // Beyond RETENTION_MONTHLY months: removed when the next run writes its log; a recent one stays.
    mkdirSync(logsDir(), { recursive: true });
    writeFileSync(join(logsDir(), 'backup-20200101-020000.log'), '[2020-01-01 02:00:00] START old\n');
    const recent = `backup-${formatStamp(new Date(Date.now() - 3 * 86_400_000))}.log`;
    writeFileSync(join(logsDir(), recent), '[recent]\n');

    const bad = await startTestWorker({ overrides: { ...overrides, PGPASSWORD: 'wrong-password-7c2d' } });
    try {
      const error = await bad.env.client.workflow.execute('backupDatabase', { taskQueue: bad.taskQueue, workflowId: `test-runlog-fail-${Date.now()}`, args: [{ tier: 'weekly' }] }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WorkflowFailedError);
    } finally {
      await bad.stop();
    }
    const failed = readdirSync(logsDir())
      .filter((n) => /^backup-\d{8}-\d{6}\.log$/.test(n))
      .map((n) => readFileSync(join(logsDir(), n), 'utf8'))
      .find((text) => text.includes('START backupDatabase weekly (workflow test-runlog-fail-'));
    expect(failed).toBeDefined();
    expect(failed).toMatch(/\] {3}error: .*rejected user/);
    expect(failed).toMatch(/\] FAILED backupDatabase weekly in \d+\.\d s\n$/);
    expect(failed).not.toContain('wrong-password-7c2d');
    expect(existsSync(join(logsDir(), 'backup-20200101-020000.log'))).toBe(false);
    expect(existsSync(join(logsDir(), recent))).toBe(true);
  });
});
