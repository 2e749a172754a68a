/**
 * disasterRecovery on the real test stack (Temporal, PostgreSQL 15, two MinIO servers, BIND 9).
 *
 * The drill: rows, a base backup, more rows, WAL shipped; one bucket replicated to the backup MinIO
 * and one only snapshotted off-site; configuration files backed up. A drill with autoApprove then
 * runs while production keeps serving: PITR from the off-site copies into a NEW cluster, both
 * buckets into a NEW MinIO, the config files into the new environment, the drill's DNS name
 * switched in BIND, the checks, the report; then its cleanup leaves no process, port, directory or
 * DNS record behind. No secret reaches the workflow history.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DrReport } from '../../lib/dr/report';
import { switchWalAndWaitArchived } from '../../lib/postgres/switch-wal';
import { processesUnder } from '../../lib/servers/processes';
import { portOpen } from '../../lib/servers/processes';
import type { BackupBaseResult } from '../../workflows/backup-base';
import { statusQuery } from '../../workflows/step-tracker';
import { type WorkflowFailedError } from '@temporalio/client';
import { historyText, sqlAt, stackEnvFile, startTestWorker, type TestWorkerHandle } from './helpers';
import { dropBucket, sampleObjects, seedBucket, stores, testBucket } from './minio-helpers';
import type { Config } from '../../lib/config/load';

const sql = <T>(config: Config, database: string, text: string): Promise<T[]> => sqlAt<T>(config.db, config, database, text);

const switchAndArchive = (config: Config): Promise<unknown> => switchWalAndWaitArchived(config.db);

function dig(config: Config, name: string): string {
  const server = config.dns.server!;
  return execFileSync('dig', ['+short', '+norecurse', '-p', String(server.port), `@${server.host}`, name, 'A'], { encoding: 'utf8' }).trim();
}

describe('disasterRecovery drill on the real stack', () => {
  const replicated = testBucket('drrep');
  const snapshotted = testBucket('drsnap');
  const objects = sampleObjects();
  const database = `dr_drill_${Date.now()}`;
  let worker: TestWorkerHandle;
  let configDir: string;

  beforeAll(async () => {
    configDir = mkdtempSync(join(tmpdir(), 'lifeboat-dr-config-'));
    mkdirSync(join(configDir, 'app'), { recursive: true });
    writeFileSync(join(configDir, 'app', 'settings.ini'), '[app]\nmode = production\n', { mode: 0o640 });
    worker = await startTestWorker({
      overrides: { BUCKETS_TO_BACKUP: `${replicated},${snapshotted}`, CONFIG_BACKUP_PATHS: configDir, DR_CHECK_SQL: 'SELECT count(*) FROM pg_database; SELECT 1 AS one' },
    });
    const config = worker.config;
    expect(config.remote.enabled).toBe(true);
    expect(config.dns.provider).toBe('rfc2136');
    await seedBucket(config, replicated, objects);
    await seedBucket(config, snapshotted, objects.slice(0, 3));
    await sql(config, 'postgres', `CREATE DATABASE ${database}`);
    await sql(config, database, 'CREATE TABLE items (id serial PRIMARY KEY, phase text NOT NULL)');
    await sql(config, database, "INSERT INTO items (phase) SELECT 'before-base' FROM generate_series(1, 25)");
    const run = (type: string, args: unknown) => worker.env.client.workflow.execute(type, { taskQueue: worker.taskQueue, workflowId: `test-dr-${type}-${Date.now()}`, args: [args] });
    (await run('backupBase', {})) as BackupBaseResult;
    await sql(config, database, "INSERT INTO items (phase) SELECT 'after-base' FROM generate_series(1, 15)");
    await switchAndArchive(config);
    await run('shipWal', {});
    await run('mirrorBuckets', { buckets: [replicated] });
    await run('backupBuckets', { buckets: [snapshotted] });
    await run('backupConfigFiles', {});
  }, 600_000);

  afterAll(async () => {
    if (worker) {
      const s = stores(worker.config);
      for (const b of [replicated, snapshotted]) {
        await dropBucket(s.source, b).catch(() => undefined);
        await dropBucket(s.backup, b).catch(() => undefined);
      }
      await sql(worker.config, 'postgres', `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => undefined);
      await worker.stop();
    }
    if (configDir) rmSync(configDir, { recursive: true, force: true });
  });

  it('a drill with autoApprove recovers everything into a new environment while production serves, reports every step, and leaves nothing behind', { timeout: 900_000 }, async () => {
    const config = worker.config;
    const handle = await worker.env.client.workflow.start('disasterRecovery', {
      taskQueue: worker.taskQueue,
      workflowId: `test-dr-drill-${Date.now()}`,
      args: [{ mode: 'drill', autoApprove: true, incident: 'DRILL-1', declaredBy: 'vitest', reason: 'drill on the real stack' }],
    });
    // Production keeps serving while the drill runs.
    let productionQueries = 0;
    let finished = false;
    const result = handle.result().finally(() => (finished = true));
    while (!finished) {
      const [row] = await sql<{ n: string }>(config, database, 'SELECT count(*)::text AS n FROM items');
      expect(row!.n).toBe('40');
      productionQueries++;
      await delay(500);
    }
    const report = (await result) as DrReport;
    expect(productionQueries).toBeGreaterThan(0);
    expect(report.outcome).toBe('recovered');
    expect(report.steps.map((s) => `${s.name}:${s.state}`)).toEqual([
      'declare:done', 'infrastructure:done', 'download:done', 'postgres:done', 'minio:done', 'config:done', 'verify:done', 'dns:done', 'app-checks:done', 'communicate:done', 'cleanup:done',
    ]);
    // Every row committed before the last shipped segment came back (PITR from the off-site copies).
    expect(report.restored.postgres).toMatchObject({ path: 'pitr', host: '127.0.0.1' });
    expect(report.restored.postgres!.databases.find((d) => d.name === database)).toMatchObject({ tables: 1, rows: 40 });
    expect(report.plan.artifacts.map((a) => a.kind).sort()).toEqual(['base', 'config', 'snapshot']);
    // Both buckets, each from its source; verified (keys, sizes, a sample hashed).
    expect(report.restored.minio!.buckets.map((b) => [b.bucket, b.from, b.objects])).toEqual([[replicated, 'replica', objects.length], [snapshotted, 'snapshot', 3]]);
    expect(report.restored.verify).toMatchObject({ ok: true, problems: [] });
    expect(report.restored.config).toMatchObject({ files: 1 });
    // The drill's own DNS name was switched (never the production one), then removed by the cleanup.
    expect(report.restored.dns).toMatchObject({ record: 'drill.lifeboat.test', value: 'A 127.0.0.1 (ttl 60)', approvedBy: 'autoApprove (drill)' });
    expect(dig(config, 'drill.lifeboat.test')).toBe('');
    expect(dig(config, 'db.lifeboat.test')).toBe('127.0.0.1');
    expect(report.restored.checks!.checks.every((c) => c.ok)).toBe(true);
    // The report: steps sum to at most the total; written locally (and off-site).
    expect(report.stepSeconds).toBeLessThanOrEqual(report.totalSeconds);
    expect(report.rpo.lastTransactionAt).toBeDefined();
    const md = readFileSync(join(config.backupRoot, 'dr-reports', `${handle.workflowId}.md`), 'utf8');
    expect(md).toContain('| 4 | Restore PostgreSQL database | 15.0 min |');
    expect(JSON.parse(readFileSync(join(config.backupRoot, 'dr-reports', `${handle.workflowId}.json`), 'utf8'))).toMatchObject({ id: handle.workflowId, outcome: 'recovered' });
    // Nothing left: no environment directory, no process under it, no recovered cluster, no port.
    const envDir = join(config.environment.root, report.plan.environmentName);
    expect(existsSync(envDir)).toBe(false);
    expect(processesUnder(envDir)).toEqual([]);
    expect(existsSync(report.restored.postgres!.dataDir!)).toBe(false);
    expect(await portOpen('127.0.0.1', report.restored.postgres!.port)).toBe(false);
    expect(await portOpen('127.0.0.1', Number(new URL(report.restored.minio!.endpoint).port))).toBe(false);
    // ... and none of what step 3 downloaded stays in the restore caches.
    for (const a of report.plan.artifacts) {
      const cached = a.kind === 'snapshot' ? join(config.minio.backupRoot, '.restore-cache', 'snapshots', a.key) : join(config.backupRoot, '.restore-cache', a.key);
      expect(existsSync(cached), cached).toBe(false);
    }
    // The status query and no secret in history.
    expect((await handle.query(statusQuery)).state).toBe('done');
    const text = historyText(await handle.fetchHistory());
    for (const secret of config.secretValues) expect(text.includes(secret)).toBe(false);
  });

  it('refuses a garbage pitrTarget and an unconfigured environment before any side effect, naming the field', async () => {
    const start = (input: Record<string, unknown>) =>
      worker.env.client.workflow.execute('disasterRecovery', { taskQueue: worker.taskQueue, workflowId: `test-dr-bad-${Date.now()}-${Math.random().toString(36).slice(2, 6)}`, args: [input] }).then(() => undefined, (e: unknown) => e);
    const environments = (): string[] => (existsSync(worker.config.environment.root) ? readdirSync(worker.config.environment.root) : []);
    const before = environments();
    const garbage = await start({ mode: 'drill', pitrTarget: 'the day before yesterday' });
    expect((garbage as WorkflowFailedError).cause).toMatchObject({ type: 'InputInvalid', message: expect.stringMatching(/^pitrTarget: "the day before yesterday" is not a date and time/) as string });
    const command = await start({ mode: 'drill', environment: 'command' });
    expect((command as WorkflowFailedError).cause).toMatchObject({ type: 'InputInvalid', message: expect.stringMatching(/DR_ENVIRONMENT_PROVISION_COMMAND/) as string });
    expect(environments()).toEqual(before);
  });

  it('the CLI refuses bad flags before connecting, with exit code 2 and the flag named', () => {
    const cli = join(__dirname, '..', '..', 'bin', 'lifeboat.js');
    const env = { ...process.env, LIFEBOAT_ENV_FILE: stackEnvFile(), TEMPORAL_ADDRESS: '192.0.2.1:7233' };
    const run = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { env, encoding: 'utf8', timeout: 30_000 });
    const approve = run(['dr', 'start', '--failover', '--auto-approve']);
    expect(approve.status).toBe(2);
    expect(approve.stderr).toMatch(/autoApprove|--auto-approve/);
    const both = run(['dr', 'start', '--drill', '--failover']);
    expect(both.status).toBe(2);
    expect(both.stderr).toContain('--drill');
    const pitr = run(['dr', 'start', '--drill', '--pitr', 'soon']);
    expect(pitr.status).toBe(2);
    expect(pitr.stderr).toContain('--pitr');
    const step = run(['dr', 'approve', 'some-id', '--step', 'coffee', '--by', 'alice']);
    expect(step.status).toBe(2);
    expect(step.stderr).toContain('--step');
  });
});
