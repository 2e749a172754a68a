/**
 * Monitoring sees a dead database: with DB_PORT pointing at a closed port (the shared test
 * PostgreSQL keeps running), `monitorBackups` raises the critical `database-unreachable` alert and
 * still writes the seed's metrics; with the real port again it sends the resolve. pg_stat_archiver's
 * failure count is read from the real server and carried across the run in which it could not be.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MonitorFacts } from '../../lib/monitor/evaluate';
import type { MonitorBackupsResult } from '../../workflows/monitor-backups';
import { startTestWorker, testConfig, type TestWorkerHandle } from './helpers';

/** A loopback port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

describe('monitoring a database that is down, then back', () => {
  let backupRoot: string;
  let deadPort: number;
  const workers: TestWorkerHandle[] = [];
  beforeAll(async () => {
    backupRoot = mkdtempSync('/tmp/lifeboat-monitor-db-');
    deadPort = await closedPort();
  });
  afterAll(async () => {
    for (const w of workers) await w.stop();
    rmSync(backupRoot, { recursive: true, force: true });
  });

  /** One monitoring run on a worker whose DB_PORT is `port` (same BACKUP_ROOT, so the same alert state). */
  async function monitorWith(port: number): Promise<{ result: MonitorBackupsResult; facts: MonitorFacts; ms: number }> {
    const worker = await startTestWorker({ overrides: { BACKUP_ROOT: backupRoot, REMOTE_STORAGE: 'false', DB_HOST: '127.0.0.1', DB_PORT: String(port) } });
    workers.push(worker);
    const started = Date.now();
    const result = (await worker.env.client.workflow.execute('monitorBackups', { taskQueue: worker.taskQueue, workflowId: `test-monitor-db-${port}-${Date.now()}`, args: [{}] })) as MonitorBackupsResult;
    const ms = Date.now() - started;
    await worker.stop();
    workers.pop();
    return { result, facts: JSON.parse(readFileSync(join(backupRoot, 'metrics', 'lifeboat-status.json'), 'utf8')) as MonitorFacts, ms };
  }

  let baselineFailed: number;
  it('with the database up: no database alert, and the archiver failure count read from pg_stat_archiver', async () => {
    const { result, facts } = await monitorWith(testConfig().db.port);
    expect(facts.database).toEqual({ host: '127.0.0.1', port: testConfig().db.port, reachable: true });
    expect(result.firing.map((e) => e.condition)).not.toContain('database-unreachable');
    expect(typeof facts.wal?.archiverFailedCount).toBe('number');
    baselineFailed = facts.wal!.archiverFailedCount!;
  });

  it('with the database unreachable: a critical database-unreachable alert naming the server, and the metrics still written', async () => {
    const { result, facts, ms } = await monitorWith(deadPort);
    const alert = result.firing.find((e) => e.condition === 'database-unreachable');
    expect(alert).toMatchObject({ severity: 'critical', summary: expect.stringMatching(new RegExp(`^postgresql at 127\\.0\\.0\\.1:${deadPort} is unreachable: .*ECONNREFUSED`)) });
    expect(result.sent).toContainEqual({ condition: 'database-unreachable', resolved: false, severity: 'critical' });
    expect(ms).toBeLessThan(60_000);
    // Recorded, not thrown; the archiver cannot be asked, its last known count is carried.
    expect(facts.database).toMatchObject({ reachable: false, port: deadPort });
    expect(facts.wal?.archiverFailedCount).toBeUndefined();
    expect(facts.wal?.previousArchiverFailedCount).toBe(baselineFailed);
    expect(result.firing.map((e) => e.condition)).not.toContain('archiver-failing');
    // The seed's metrics JSON keeps exactly its fields.
    const metrics = JSON.parse(readFileSync(result.metricsFile, 'utf8')) as { metrics: Record<string, number> };
    expect(Object.keys(metrics)).toEqual(['timestamp', 'metrics']);
    expect(Object.keys(metrics.metrics)).toEqual(['last_backup_age_hours', 'last_backup_size_mb', 'disk_usage_percent', 'success_rate_percent', 'daily_backup_count', 'weekly_backup_count', 'monthly_backup_count']);
    // The alert reached the alert log (no channel is configured here).
    const log = readFileSync(join(backupRoot, 'logs', 'alerts.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { condition: string; severity: string; resolved?: boolean });
    expect(log).toContainEqual(expect.objectContaining({ condition: 'database-unreachable', severity: 'critical' }));
  });

  it('deduplicates while it stays down', async () => {
    const { result } = await monitorWith(deadPort);
    expect(result.firing.map((e) => e.condition)).toContain('database-unreachable');
    expect(result.sent.filter((s) => s.condition === 'database-unreachable')).toEqual([]);
  });

  it('resolves when the database answers again', async () => {
    const { result, facts } = await monitorWith(testConfig().db.port);
    expect(result.firing.map((e) => e.condition)).not.toContain('database-unreachable');
    expect(result.sent).toContainEqual({ condition: 'database-unreachable', resolved: true, severity: 'critical' });
    const log = readFileSync(join(backupRoot, 'logs', 'alerts.jsonl'), 'utf8');
    expect(log).toMatch(/"condition":"database-unreachable"[^\n]*"resolved":true/);
    // Failures are counted against the last count seen before the outage.
    expect(facts.wal?.previousArchiverFailedCount).toBe(baselineFailed);
    const archiver = result.firing.find((e) => e.condition === 'archiver-failing');
    expect(Boolean(archiver)).toBe(Boolean(facts.wal?.failingNow) || facts.wal!.archiverFailedCount! > baselineFailed);
  });
});
