/**
 * Collecting `lifeboat status`'s facts on the backup host (the reportStatus workflow's activity):
 * first whether each store answers (so a dead off-site store is a finding, not a minute of retries),
 * then the monitoring collector's facts over the stores that do, plus what status shows beyond
 * monitoring: base backups and the PITR window, MinIO snapshots per bucket, and the alerts
 * monitoring recorded as firing. Never throws because a store is down.
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import { readBaseBackups } from '../catalog/catalog';
import { walArchiveDir } from '../catalog/paths';
import { listSnapshots } from '../catalog/snapshots';
import { archivedSegmentSize, listArchivedWal } from '../catalog/wal';
import type { Config } from '../config/load';
import type { Stores } from '../deps';
import { collectMonitorFacts, type WorkflowCounter } from '../monitor/collect';
import type { Thresholds } from '../monitor/evaluate';
import { readAlertState } from '../notify/state';
import { scrubSecrets } from '../secrets';
import { minioServerInfo } from '../storage/minio';
import type { HostStatusFacts, SnapshotFact, StoreProbe } from './facts';
import { pitrWindow } from './pitr-window';

/** How long a store may take to answer the probe before it counts as unreachable. */
export const PROBE_TIMEOUT_MS = 15_000;

async function probe(name: StoreProbe['name'], location: string, secrets: readonly string[], call: () => Promise<unknown>): Promise<StoreProbe> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${PROBE_TIMEOUT_MS / 1000} s`)), PROBE_TIMEOUT_MS);
  });
  try {
    await Promise.race([call(), timeout]);
    return { name, location, reachable: true };
  } catch (error) {
    return { name, location, reachable: false, error: scrubSecrets(error instanceof Error ? error.message : String(error), secrets) };
  } finally {
    clearTimeout(timer);
  }
}

/** The stores this deployment uses, probed in parallel: one cheap call each. */
export async function probeStores(config: Config, stores: Pick<Stores, 'remote'>): Promise<StoreProbe[]> {
  const secrets = config.secretValues;
  const probes: Promise<StoreProbe>[] = [];
  if (stores.remote) {
    const remote = stores.remote;
    probes.push(probe('offsite', `${config.remote.endpoint} (${remote.location})`, secrets, () => remote.stat('.lifeboat-status-probe')));
  }
  probes.push(probe('minio-source', config.minio.source.endpoint, secrets, () => minioServerInfo(config.minio.source)));
  const backup = config.minio.backup;
  if (backup) probes.push(probe('minio-backup', backup.endpoint, secrets, () => minioServerInfo(backup)));
  return Promise.all(probes);
}

export async function collectHostStatus(config: Config, stores: Pick<Stores, 'local' | 'remote' | 'snapshots'>, count: WorkflowCounter, thresholds: Thresholds, now = new Date()): Promise<HostStatusFacts> {
  // 1. Which stores answer: an unreachable off-site store is left out of everything below.
  const probes = await probeStores(config, stores);
  const remote = probes.find((p) => p.name === 'offsite')?.reachable ? stores.remote : undefined;
  // 2. Monitoring's facts: catalog, WAL and RPO exposure, configuration backups, drills, disk, database.
  const monitor = await collectMonitorFacts(config, { local: stores.local, remote }, count);
  // 3. Base backups and the point-in-time recovery window (the PITR planner's own verdict).
  const archiveDir = walArchiveDir(config.backupRoot);
  const { bases, copies } = await readBaseBackups(stores.local, remote);
  const { files, localNames } = await listArchivedWal(archiveDir, remote);
  const pitr = pitrWindow(bases, files, await archivedSegmentSize(archiveDir, localNames), now);
  // 4. MinIO snapshots, the newest per bucket (snapshots exist only with a backup MinIO configured).
  let snapshots: SnapshotFact[] = [];
  if (config.minio.backup) {
    const listed = await listSnapshots({ snapshots: stores.snapshots, remote });
    snapshots = config.minio.buckets.map((bucket) => {
      const s = listed.find((l) => l.bucket === bucket);
      return { bucket, ...(s ? { newest: { file: s.file, finishedAt: s.finishedAt, bytes: s.bytes, objects: s.objects, local: s.local, remote: s.remote } } : {}) };
    });
  }
  // 5. What monitoring last recorded as firing.
  const alerts = (await readAlertState(join(config.backupRoot, 'metrics', 'alert-state.json'))).firing;
  return {
    host: hostname(),
    backupRoot: config.backupRoot,
    monitor,
    thresholds,
    stores: probes,
    bases: bases
      .map((b) => ({ key: b.key, finishedAt: b.finishedAt, bytes: b.bytes, durationSeconds: b.durationSeconds, copies: copies.get(b.key) ?? [] }))
      .sort((a, b) => b.finishedAt.localeCompare(a.finishedAt)),
    pitr,
    snapshots,
    alerts,
  };
}
