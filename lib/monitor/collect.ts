/**
 * Collecting the monitoring facts on the backup host: the catalog (local and remote copies, last
 * verification), configuration file backups (newest run, success rate), disaster-recovery drills
 * (the newest reports in dr-reports/), disk usage of BACKUP_ROOT, whether PostgreSQL answers, WAL
 * archiving (local archive, pg_stat_archiver and the `.ready` backlog in pg_wal, files not yet
 * shipped) and writing the seed's metrics JSON. Nothing here throws because PostgreSQL is down: that is a fact to report.
 */
import { mkdir, readdir, readFile, rm, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { readCatalog } from '../catalog/catalog';
import { listConfigBackups } from '../catalog/config';
import { formatStamp } from '../catalog/names';
import { walArchiveDir } from '../catalog/paths';
import { readStoredVerification } from '../catalog/verification';
import { localWalFiles } from '../catalog/wal';
import type { Config } from '../config/load';
import { readDrillSummary } from '../dr/drill-reports';
import { scrubSecrets } from '../secrets';
import { writeFileAtomic } from '../pipeline/atomic-file';
import { withPg } from '../postgres/connection';
import type { Stores } from '../deps';
import type { S3Store } from '../storage/s3-store';
import { readRpoExposure } from '../wal/exposure';
import { remoteWalFiles } from '../wal/remote';
import type { MonitorFacts, SeedMetrics } from './evaluate';

export const METRICS_KEEP_DAYS = 7;

/** The previous run's facts (`metrics/lifeboat-status.json`), for what changed since. */
async function previousFacts(config: Config): Promise<Partial<MonitorFacts> | undefined> {
  try {
    return JSON.parse(await readFile(join(config.backupRoot, 'metrics', 'lifeboat-status.json'), 'utf8')) as Partial<MonitorFacts>;
  } catch {
    return undefined;
  }
}

/**
 * WAL archiving facts, and whether PostgreSQL answers at all: a server that is down is recorded
 * (`database.reachable: false`, with the classified reason), never thrown, so monitoring can raise it.
 */
async function walAndDatabaseFacts(config: Config, remote: S3Store | undefined, previous: Partial<MonitorFacts> | undefined): Promise<Pick<MonitorFacts, 'wal' | 'database' | 'rpo'>> {
  const dir = walArchiveDir(config.backupRoot);
  const names = (await localWalFiles(dir)).filter((n) => !n.endsWith('.history'));
  const newest = names[names.length - 1];
  const newestInfo = newest ? await stat(join(dir, newest)).catch(() => undefined) : undefined;
  const facts: NonNullable<MonitorFacts['wal']> = {
    newestArchivedName: newest,
    newestArchivedAgeSeconds: newestInfo ? Math.round((Date.now() - newestInfo.mtimeMs) / 1000) : undefined,
    // The last failure count seen (carried over runs in which the database was down).
    previousArchiverFailedCount: previous?.wal?.archiverFailedCount ?? previous?.wal?.previousArchiverFailedCount,
  };
  const database: NonNullable<MonitorFacts['database']> = { host: config.db.host, port: config.db.port, reachable: false };
  let currentLsn: string | undefined;
  try {
    await withPg(config.db, async (client) => {
      database.reachable = true;
      // For the RPO exposure: nothing written since the newest shipped segment means nothing at risk.
      currentLsn = (await client.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn').catch(() => undefined))?.rows[0]?.lsn;
      const a = (await client.query<{ failed_count: string; last_failed_wal: string | null; last_failed_time: Date | null; last_archived_time: Date | null }>('SELECT failed_count, last_failed_wal, last_failed_time, last_archived_time FROM pg_stat_archiver')).rows[0];
      if (a) {
        facts.archiverFailedCount = Number(a.failed_count);
        facts.lastFailedWal = a.last_failed_wal ?? undefined;
        facts.lastFailedAt = a.last_failed_time?.toISOString();
        facts.lastArchivedAt = a.last_archived_time?.toISOString();
        facts.failingNow = Boolean(a.last_failed_time && (!a.last_archived_time || a.last_failed_time > a.last_archived_time));
      }
      const ready = await client.query<{ n: string }>("SELECT count(*) AS n FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready'").catch(() => undefined);
      if (ready) facts.readyFiles = Number(ready.rows[0]!.n);
    });
  } catch (error) {
    if (!database.reachable) database.error = scrubSecrets(error instanceof Error ? error.message : String(error), config.secretValues);
    // Reachable but a query failed: the WAL facts are best effort.
  }
  let rpo: MonitorFacts['rpo'];
  if (remote) {
    const shipped = await remoteWalFiles(remote).catch(() => undefined);
    if (shipped) facts.unshipped = names.filter((n) => !shipped.has(n)).length;
    rpo = await readRpoExposure(dir, remote, config.monitor.rpoTargetSeconds, currentLsn).catch(() => undefined);
  }
  return { wal: facts, database, ...(rpo ? { rpo } : {}) };
}

/** Closed and completed Lifeboat workflows of the last 7 days on this deployment's task queue. */
export type WorkflowCounter = (query: string) => Promise<number>;

/**
 * The workflow types the success rate covers (docs/operations.md lists them): backups, shipping,
 * verification, pruning, MinIO, restores (database, point in time, bucket, configuration files) and
 * the audit export. Not counted: DR runs (their own drill-age and RTO conditions), the checks
 * (health, monitorBackups, reportStatus) and repairBackup (its alert says what it did).
 */
export const MONITORED_WORKFLOWS = [
  'backupDatabase', 'backupBase', 'shipWal', 'verifyBackups', 'pruneBackups', 'backupBuckets', 'mirrorBuckets', 'replicateBuckets', 'backupConfigFiles',
  'restoreDatabase', 'restorePointInTime', 'restoreBucket', 'restoreConfigFiles', 'verifyBuckets', 'exportAuditTrail',
];

export async function collectMonitorFacts(config: Config, stores: Pick<Stores, 'local' | 'remote'>, count: WorkflowCounter): Promise<MonitorFacts> {
  const previous = await previousFacts(config);
  const { local, remote } = stores;
  const entries = await readCatalog(local, remote);
  const backups: MonitorFacts['backups'] = [];
  const latestFailed: string[] = [];
  let newestVerification: string | undefined;
  const seenTiers = new Set<string>();
  for (const e of entries) {
    if (e.metadata.kind !== 'logical' || !e.local) continue;
    const v = await readStoredVerification(local, e.key);
    if (v && (!newestVerification || v.verifiedAt > newestVerification)) newestVerification = v.verifiedAt;
    backups.push({ key: e.key, tier: e.metadata.tier, finishedAt: e.metadata.finishedAt, bytes: e.metadata.bytes, good: v ? v.ok : undefined, remote: remote ? Boolean(e.remote) : undefined, durationSeconds: e.metadata.durationSeconds, verifiedAt: v?.verifiedAt });
    // "Latest": the newest backup of each tier (entries are newest first).
    if (!seenTiers.has(e.metadata.tier)) {
      seenTiers.add(e.metadata.tier);
      if (v && !v.ok) latestFailed.push(e.key);
    }
  }
  const fs = await statfs(config.backupRoot);
  const total = fs.blocks * fs.bsize;
  const free = fs.bavail * fs.bsize;
  const since = new Date(Date.now() - 7 * 86_400_000).toISOString();
  const scope = `TaskQueue = '${config.temporal.taskQueue}' AND WorkflowType IN (${MONITORED_WORKFLOWS.map((w) => `'${w}'`).join(', ')}) AND CloseTime >= '${since}'`;
  const [closed, completed] = await Promise.all([count(`${scope} AND ExecutionStatus != 'Running'`), count(`${scope} AND ExecutionStatus = 'Completed'`)]);
  // Configuration file backups: the newest run, and their own success rate.
  const configScope = `TaskQueue = '${config.temporal.taskQueue}' AND WorkflowType = 'backupConfigFiles' AND CloseTime >= '${since}'`;
  const [configClosed, configCompleted] = await Promise.all([count(`${configScope} AND ExecutionStatus != 'Running'`), count(`${configScope} AND ExecutionStatus = 'Completed'`)]);
  const newestConfig = (await listConfigBackups(local, remote))[0];
  return {
    now: new Date().toISOString(),
    backups,
    disk: { usedPercent: total > 0 ? ((total - free) / total) * 100 : 0, freeBytes: free, totalBytes: total },
    workflows: { completed, closed },
    remoteEnabled: Boolean(remote),
    ...(await walAndDatabaseFacts(config, remote, previous)),
    verification: { latestFailed, newestAt: newestVerification },
    config: {
      ...(newestConfig ? { newestKey: newestConfig.key, newestAt: newestConfig.finishedAt, newestOutcome: newestConfig.kind === 'archive' ? 'archived' : 'unchanged', newestWarnings: (newestConfig.kind === 'archive' ? newestConfig.metadata.warnings : newestConfig.record.warnings).length } : {}),
      workflows: { completed: configCompleted, closed: configClosed },
    },
    drill: await readDrillSummary(config.backupRoot),
  };
}

/**
 * Write the seed's metrics JSON as `metrics/backup-metrics-<stamp>.json` and `metrics/latest.json`,
 * plus every fact as `metrics/lifeboat-status.json`; files older than 7 days are removed.
 */
export async function writeMetrics(config: Config, metrics: SeedMetrics, facts: MonitorFacts): Promise<string> {
  const dir = join(config.backupRoot, 'metrics');
  const file = join(dir, `backup-metrics-${formatStamp(new Date(facts.now))}.json`);
  const text = `${JSON.stringify(metrics, null, 2)}\n`;
  await mkdir(dir, { recursive: true });
  writeFileAtomic(file, text);
  writeFileAtomic(join(dir, 'latest.json'), text);
  writeFileAtomic(join(dir, 'lifeboat-status.json'), `${JSON.stringify(facts, null, 2)}\n`);
  for (const name of await readdir(dir)) {
    if (!/^backup-metrics-\d{8}-\d{6}\.json$/.test(name)) continue;
    const info = await stat(join(dir, name)).catch(() => undefined);
    if (info && Date.now() - info.mtimeMs > METRICS_KEEP_DAYS * 86_400_000) await rm(join(dir, name), { force: true });
  }
  return file;
}
