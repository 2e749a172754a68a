/**
 * `lifeboat status` on the real stack. The deployment under test has its own BACKUP_ROOT,
 * MINIO_BACKUP_ROOT, off-site bucket, task queues and schedules (unique prefix), so what status
 * judges is only what this file made: it reads clean after the backups, names the stores when the
 * backup MinIO is unreachable (a worker configured with a dead endpoint: the shared MinIO keeps
 * running for other tests), and says which queue nobody polls.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectStatus, formatStatus, statusExitCode } from '../../client/commands/status';
import { livePollers } from '../../client/progress';
import { applySchedules } from '../../client/schedules';
import { declaredSchedules } from '../../lib/schedules/declared';
import { freePort } from '../free-port';
import { dropS3Bucket, stackEnvFile, startTestWorker, testConfig, uniqueQueues, type TestWorkerHandle } from './helpers';
import { stores as minioStores, testBucket } from './minio-helpers';

const SECTIONS = ['host', 'backups', 'base', 'wal', 'database', 'stores', 'minio', 'config', 'schedules', 'alerts', 'drill', 'workers', 'disk'] as const;

/** A drill report as the DR runbook writes it (dr-reports/<id>.json): recovered within its objective. */
function writeDrillReport(backupRoot: string): void {
  const dir = join(backupRoot, 'dr-reports');
  mkdirSync(dir, { recursive: true });
  const ended = new Date();
  const declared = new Date(ended.getTime() - 300_000);
  writeFileSync(join(dir, 'drill-status-test.json'), JSON.stringify({
    id: 'drill-status-test', runId: 'r', mode: 'drill', outcome: 'recovered', declaredAt: declared.toISOString(), endedAt: ended.toISOString(),
    totalSeconds: 300, recoverySeconds: 240, stepSeconds: 240, rtoObjectiveSeconds: 3600, rtoMet: true, estimateSeconds: 600, rpo: { disasterAt: declared.toISOString() }, steps: [],
  }));
}

/** A worker just started polls within moments; wait until Temporal lists it on both queues. */
async function pollersSeen(worker: TestWorkerHandle): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const [general, host] = await Promise.all([livePollers(worker.env.client, worker.workers.taskQueue, 'workflow'), livePollers(worker.env.client, worker.workers.hostTaskQueue, 'activity')]);
    if (general.length > 0 && host.length > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('lifeboat status on the real stack', () => {
  const id = randomUUID().slice(0, 8);
  const backupRoot = mkdtempSync('/tmp/lifeboat-status-');
  const minioRoot = mkdtempSync('/tmp/lifeboat-status-minio-');
  const bucket = testBucket('status');
  const prefix = `lbt-status-${id}-`;
  const overrides = { BACKUP_ROOT: backupRoot, MINIO_BACKUP_ROOT: minioRoot, S3_BUCKET: bucket };
  let handle: TestWorkerHandle;

  beforeAll(async () => {
    await minioStores(testConfig()).backup.ensureBucket(bucket);
    handle = await startTestWorker({ overrides });
  });
  afterAll(async () => {
    if (handle) {
      for (const d of declaredSchedules(handle.config, prefix)) await handle.env.client.schedule.getHandle(d.id).delete().catch(() => undefined);
      await handle.stop();
    }
    await dropS3Bucket(minioStores(testConfig()).backup.client, bucket).catch(() => undefined);
    rmSync(backupRoot, { recursive: true, force: true });
    rmSync(minioRoot, { recursive: true, force: true });
  });

  it('reads clean after the backups: exit 0, every section', async () => {
    const { client } = handle.env;
    await pollersSeen(handle);
    const run = (type: string, args: unknown): Promise<unknown> => client.workflow.execute(type, { taskQueue: handle.taskQueue, workflowId: `status-test-${type}-${id}`, args: [args] });
    await run('backupDatabase', { tier: 'daily' });
    await run('backupBase', {});
    await run('backupBuckets', {});
    await run('backupConfigFiles', {});
    writeDrillReport(backupRoot);
    // The cron schedules (interval ones would start runs during the test), on this file's queue.
    await applySchedules(client, declaredSchedules(handle.config, prefix).filter((d) => d.cron), prefix);

    const report = await collectStatus(client, handle.config, { schedulePrefix: prefix });
    process.stdout.write(formatStatus(report));
    expect(report.problems).toEqual([]);
    expect(report.verdict).toBe('ok');
    expect(statusExitCode(report)).toBe(0);
    for (const section of SECTIONS) expect(report[section], section).not.toBeNull();
    const daily = report.backups!.find((t) => t.tier === 'daily')!;
    expect(daily.newest).toMatchObject({ verified: 'never', offsite: true });
    expect(daily.newest!.durationSeconds).toBeGreaterThan(0);
    expect(report.base!.count).toBe(1);
    expect(report.base!.pitr.oldest).toBeDefined();
    expect(report.minio!.snapshots.every((s) => s.newest)).toBe(true);
    expect(report.config!.newestKey).toMatch(/^config\//);
    expect(report.drill!.lastSuccessful?.rtoSeconds).toBe(240);
    expect(report.schedules!.map((s) => s.id)).toContain(`${prefix}postgres-daily`);
    expect(report.schedules!.every((s) => s.nextRunAt)).toBe(true);
    expect(report.workers.map((q) => q.pollers.length > 0)).toEqual([true, true]);
    expect(report.stores!.every((s) => s.reachable)).toBe(true);
    expect(report.disk!.totalBytes).toBeGreaterThan(0);
    expect(report.wal!.rpo).toBeDefined();
  });

  it('names the unreachable backup MinIO and the off-site store on it, and exits 7', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const down = await startTestWorker({ overrides: { ...overrides, S3_ENDPOINT: dead, MINIO_BACKUP_ENDPOINT: dead } });
    try {
      await pollersSeen(down);
      const started = Date.now();
      const report = await collectStatus(down.env.client, down.config, { schedulePrefix: prefix });
      expect(Date.now() - started).toBeLessThan(60_000);
      const conditions = report.problems.map((p) => `${p.severity}:${p.condition}`);
      expect(conditions).toEqual(expect.arrayContaining(['critical:store:offsite', 'critical:store:minio-backup']));
      expect(report.problems.find((p) => p.condition === 'store:minio-backup')!.summary).toContain(dead);
      expect(report.verdict).toBe('critical');
      expect(statusExitCode(report)).toBe(7);
      // What does not depend on the dead store is still reported.
      expect(report.backups!.find((t) => t.tier === 'daily')!.count).toBe(1);
      expect(formatStatus(report)).toMatch(/CRITICAL the backup MinIO http:\/\/127\.0\.0\.1:\d+ is unreachable/);
    } finally {
      await down.stop();
    }
  });

  it('says which queue no worker polls, at once, and exits 3 (the CLI itself, --json)', () => {
    const queues = uniqueQueues();
    const started = Date.now();
    const result = spawnSync(process.execPath, [join(__dirname, '..', '..', 'bin', 'lifeboat.js'), 'status', '--json'], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', LIFEBOAT_ENV_FILE: stackEnvFile(), ...queues },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(result.status, result.stderr).toBe(3);
    const report = JSON.parse(result.stdout) as Awaited<ReturnType<typeof collectStatus>>;
    expect(report.verdict).toBe('unknown');
    expect(report.problems.map((p) => p.condition)).toEqual(expect.arrayContaining([`worker:${queues.LIFEBOAT_TASK_QUEUE}`, `worker:${queues.LIFEBOAT_TASK_QUEUE}@${queues.LIFEBOAT_HOST}`]));
    expect(report.problems[0]!.summary).toMatch(/no worker polls/);
    for (const section of SECTIONS) expect(section in report, section).toBe(true);
  });
});
