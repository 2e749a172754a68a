/**
 * The operator's view of the CLI on the real stack (issue 14, in part):
 *  - output through a pipe is complete: `backups list --json | wc -c` counts every byte of a listing
 *    well over 64 KB, the same as the command redirected to a file (it stopped at 65536 before), for
 *    the built CLI (dist/client/main.js) and the `lifeboat` wrapper alike;
 *  - `--json` on the verbs that print data (`restore --list`, `minio restore --list`, `backup postgres`,
 *    `schedules list`), and `backups list` shows each backup's duration;
 *  - no silent waits: no worker on the task queue exits 3 at once, a worker that has just exited
 *    (still listed by Temporal) exits 3 after a short wait, an activity being retried is reported
 *    with its reason while the CLI waits, and an unreachable Temporal exits 3 with a hint;
 *  - refusals in the client before anything starts: an unknown schedule name lists the known ones,
 *    a restore into an existing database names --target, a bucket restore into a bucket that holds
 *    objects names --overwrite (each on a task queue no worker polls: a started workflow would exit 3).
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../free-port';
import { queryDb, stackEnvFile, startTestWorker, testConfig, uniqueQueues, type TestWorkerHandle } from './helpers';
import { dropBucket, stores, testBucket } from './minio-helpers';

const ROOT = join(__dirname, '..', '..');
const MAIN = join(ROOT, 'dist', 'client', 'main.js');
const WRAPPER = join(ROOT, 'bin', 'lifeboat.js');
const FIXTURE_DIR = join(ROOT, 'test', 'fixtures', 'backups', 'good', 'daily');
const FIXTURE_FILE = 'fixture_db_daily_20250101-000000.sql.zst.gpg';

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

const baseEnv = (env: Record<string, string>): NodeJS.ProcessEnv => ({ PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', LIFEBOAT_ENV_FILE: stackEnvFile(), ...env });

/** Run a program with stdout and stderr on pipes; `onStderr` sees stderr as it arrives. */
function run(file: string, args: string[], env: Record<string, string>, options: { timeoutMs?: number; onStderr?: (text: string, kill: () => void) => void } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(file, args, { env: baseEnv(env), stdio: ['ignore', 'pipe', 'pipe'], timeout: options.timeoutMs ?? 120_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      options.onStderr?.(stderr, () => child.kill('SIGTERM'));
    });
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr, seconds: (Date.now() - started) / 1000 }));
  });
}

const lifeboat = (args: string[], env: Record<string, string>, options?: Parameters<typeof run>[3]): Promise<Run> => run(process.execPath, [MAIN, ...args], env, options);
const shell = (command: string, env: Record<string, string>): Promise<Run> => run('/bin/sh', ['-c', command], env);

/** `count` copies of the fixture dump under BACKUP_ROOT/daily, each with its own stamp and metadata. */
function seedCatalog(backupRoot: string, count: number): void {
  const daily = join(backupRoot, 'daily');
  mkdirSync(daily, { recursive: true });
  const metadata = JSON.parse(readFileSync(join(FIXTURE_DIR, `${FIXTURE_FILE}.metadata.json`), 'utf8')) as Record<string, unknown>;
  for (let i = 0; i < count; i++) {
    const day = new Date(Date.UTC(2025, 0, 1) + i * 86_400_000);
    const stamp = `${day.toISOString().slice(0, 10).replace(/-/g, '')}-020000`;
    const file = `fixture_db_daily_${stamp}.sql.zst.gpg`;
    copyFileSync(join(FIXTURE_DIR, FIXTURE_FILE), join(daily, file));
    const started = new Date(day.getTime() + 2 * 3600_000);
    const finished = new Date(started.getTime() + (30 + i) * 1000);
    writeFileSync(join(daily, `${file}.metadata.json`), JSON.stringify({ ...metadata, key: `daily/${file}`, file, startedAt: started.toISOString(), finishedAt: finished.toISOString(), durationSeconds: 30 + i }, null, 2));
  }
}

describe('output through a pipe', () => {
  let dir: string;
  let env: Record<string, string>;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'lifeboat-cli-output-'));
    seedCatalog(join(dir, 'backups'), 150);
    env = { BACKUP_ROOT: join(dir, 'backups'), MINIO_BACKUP_ROOT: join(dir, 'minio'), REMOTE_STORAGE: 'false' };
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('backups list --json writes every byte to a pipe, as many as to a file (built CLI and wrapper)', async () => {
    const file = join(dir, 'list.json');
    const toFile = await shell(`"${process.execPath}" "${MAIN}" backups list --json --local > "${file}"`, env);
    expect(toFile.status).toBe(0);
    const size = statSync(file).size;
    expect(size).toBeGreaterThan(2 * 65_536);
    // The reader starts late: everything must still be in the pipe or written after the buffer frees.
    for (const cli of [MAIN, WRAPPER]) {
      const piped = await shell(`"${process.execPath}" "${cli}" backups list --json --local | (sleep 1; wc -c)`, env);
      expect(piped.status).toBe(0);
      expect(Number(piped.stdout.trim())).toBe(size);
    }
    const listed = JSON.parse(readFileSync(file, 'utf8')) as { key: string; durationSeconds: number | null }[];
    expect(listed).toHaveLength(150);
    // Duration from the metadata, on every entry.
    expect(listed.find((e) => e.key === 'daily/fixture_db_daily_20250101-020000.sql.zst.gpg')?.durationSeconds).toBe(30);
  });

  it('restore --list --json reads whole through a pipe, one documented object per backup', async () => {
    const piped = await lifeboat(['restore', '--list', '--json'], env);
    expect(piped.status).toBe(0);
    expect(piped.stdout.length).toBeGreaterThan(65_536);
    const rows = JSON.parse(piped.stdout) as Record<string, unknown>[];
    expect(rows).toHaveLength(150);
    expect(Object.keys(rows[0]!).sort()).toEqual(['bytes', 'copies', 'database', 'durationSeconds', 'encrypted', 'finishedAt', 'keyFingerprint', 'key', 'kind', 'sha256', 'startedAt', 'tier', 'verification'].sort());
    expect(rows[0]).toMatchObject({ kind: 'logical', tier: 'daily', copies: ['local'], encrypted: true });
  });

  it('backups list shows a DURATION column', async () => {
    const table = await lifeboat(['backups', 'list', '--local'], env);
    expect(table.status).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/AGE\s+DURATION\s+SIZE/);
    expect(table.stdout).toMatch(/daily\s+2025-01-01 02:00:30\s+\S+\s+30s\s/);
  });

  it('minio restore --list --json prints an array', async () => {
    const listed = await lifeboat(['minio', 'restore', '--list', '--json'], env);
    expect(listed.status).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([]);
  });
});

describe('--json on verbs that start workflows', () => {
  let dir: string;
  let worker: TestWorkerHandle;
  let env: Record<string, string>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lifeboat-cli-json-'));
    const overrides = { ...uniqueQueues(), BACKUP_ROOT: join(dir, 'backups'), REMOTE_STORAGE: 'false' };
    worker = await startTestWorker({ overrides });
    env = overrides;
  });
  afterAll(async () => {
    await worker?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('backup postgres --wait --json prints {workflowId, runId, result}; backups list --json gives its duration', async () => {
    const backup = await lifeboat(['backup', 'postgres', 'daily', '--wait', '--json'], env);
    expect(backup.status, backup.stderr).toBe(0);
    const printed = JSON.parse(backup.stdout) as { workflowId: string; runId: string; result: { key: string; bytes: number } };
    expect(printed.workflowId).toMatch(/^backup-postgres-daily-/);
    expect(printed.runId).toMatch(/^[0-9a-f-]{36}$/);
    expect(printed.result.key).toMatch(/^daily\//);
    // The "started" line is for people: on stderr, so stdout stays one JSON document.
    expect(backup.stderr).toContain(`started workflow ${printed.workflowId}`);
    const listed = JSON.parse((await lifeboat(['backups', 'list', '--json', '--local'], env)).stdout) as { key: string; durationSeconds: number }[];
    const entry = listed.find((e) => e.key === printed.result.key);
    expect(entry?.durationSeconds).toBeGreaterThan(0);
  });

  it('schedules list --json prints an array', async () => {
    const listed = await lifeboat(['schedules', 'list', '--json'], env);
    expect(listed.status, listed.stderr).toBe(0);
    expect(Array.isArray(JSON.parse(listed.stdout))).toBe(true);
  });
});

describe('no silent waits', () => {
  it('health exits 3 at once when no worker polls its task queue', async () => {
    const env = uniqueQueues() as Record<string, string>;
    const result = await lifeboat(['health'], env, { timeoutMs: 60_000 });
    expect(result.status).toBe(3);
    expect(result.stderr).toContain(`no worker polls task queue ${env.LIFEBOAT_TASK_QUEUE}`);
    expect(result.stderr).toMatch(/hint: start a worker/);
    expect(result.seconds).toBeLessThan(15);
  });

  it('health exits 3 soon after the worker exited (Temporal still lists it), terminating the untouched run', async () => {
    const worker = await startTestWorker();
    // Long enough for its pollers to reach both queues: Temporal then lists them as polling just now.
    await new Promise((r) => setTimeout(r, 3000));
    await worker.stop();
    const env = { LIFEBOAT_TASK_QUEUE: worker.config.temporal.taskQueue, LIFEBOAT_HOST: worker.config.temporal.hostTaskQueue.split('@')[1]! };
    const result = await lifeboat(['health'], env, { timeoutMs: 90_000 });
    expect(result.status).toBe(3);
    expect(result.stderr).toMatch(/waiting: no worker has picked up the workflow task/);
    expect(result.stderr).toMatch(/no worker picked up workflow health-\S+ on task queue \S+ within 20 s; it was terminated before it did anything/);
    expect(result.seconds).toBeLessThan(45);
  });

  it('an activity being retried is reported with its reason while the CLI waits', async () => {
    const deadPort = await freePort();
    const overrides = { ...(uniqueQueues() as Record<string, string>), MINIO_SOURCE_ENDPOINT: `http://127.0.0.1:${deadPort}` };
    const worker = await startTestWorker({ overrides });
    try {
      const result = await lifeboat(['health'], overrides, {
        timeoutMs: 150_000,
        onStderr: (text, kill) => {
          if (/retrying \S+ \(attempt \d\/5[^)]*\): .+\n/.test(text)) kill();
        },
      });
      // What is retried, which attempt, and why (the activity's last failure), before the run gives up.
      expect(result.stderr).toMatch(new RegExp(`retrying probeMinio \\(attempt [2-5]/5(, next in \\d+ s)?\\): object storage at http://127\\.0\\.0\\.1:${deadPort} is unreachable`));
    } finally {
      await worker.stop();
    }
  });

  it('an unreachable Temporal exits 3 with a hint', async () => {
    const result = await lifeboat(['schedules', 'list'], { TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}` }, { timeoutMs: 60_000 });
    expect(result.status).toBe(3);
    expect(result.stderr).toMatch(/cannot reach the temporal server/);
    expect(result.stderr).toMatch(/hint: .*TEMPORAL_ADDRESS/);
  });
});

describe('refused in the client before anything starts', () => {
  // No worker polls this queue: a command that started a workflow would end with exit 3 instead.
  const env = (extra: Record<string, string> = {}): Record<string, string> => ({ ...(uniqueQueues() as Record<string, string>), ...extra });

  it('schedules trigger with an unknown name lists the known names', async () => {
    const result = await lifeboat(['schedules', 'trigger', 'nope'], env());
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('no schedule "nope"');
    expect(result.stderr).toMatch(/hint: known schedules: .*postgres-daily/);
    expect(result.stderr).not.toMatch(/workflow not found/i);
  });

  it('restore into an existing database names --target', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lifeboat-cli-refuse-'));
    const config = testConfig();
    const existing = `cli_output_exists_${Date.now().toString(36)}`;
    try {
      mkdirSync(join(dir, 'daily'), { recursive: true });
      for (const f of [FIXTURE_FILE, `${FIXTURE_FILE}.metadata.json`]) copyFileSync(join(FIXTURE_DIR, f), join(dir, 'daily', f));
      await queryDb(config, 'postgres', `CREATE DATABASE ${existing}`);
      const result = await lifeboat(['restore', FIXTURE_FILE, '--target', existing], env({ BACKUP_ROOT: dir, REMOTE_STORAGE: 'false' }));
      expect(result.status).toBe(2);
      expect(result.stderr).toContain(`database "${existing}" already exists`);
      expect(result.stderr).toMatch(/hint: .*--target NAME/);
      expect(result.stderr).not.toContain('started workflow');
    } finally {
      await queryDb(config, 'postgres', `DROP DATABASE IF EXISTS ${existing}`);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a bucket restore into a bucket that holds objects names --overwrite', async () => {
    const config = testConfig();
    const { source } = stores(config);
    const bucket = testBucket('nonempty');
    try {
      await source.ensureBucket(bucket);
      await source.putBuffer(bucket, 'keep-me.txt', Buffer.from('still here'), { contentType: 'text/plain', metadata: {} });
      const result = await lifeboat(['minio', 'restore', '--from-replica', bucket], env());
      expect(result.status).toBe(5);
      expect(result.stderr).toContain(`target bucket ${bucket}`);
      expect(result.stderr).toMatch(/hint: add --overwrite/);
      expect(result.stderr).not.toContain('started workflow');
    } finally {
      await dropBucket(source, bucket);
    }
  });
});
