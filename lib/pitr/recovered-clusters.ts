/**
 * The clusters point-in-time recovery left under RESTORE_DATA_ROOT (one `pitr-<stamp>/` run
 * directory each, see ./recovery-dir.ts): list them with their state and size, discard the data of
 * a failed run, and stop and remove one. A recovered cluster keeps running after its workflow ends,
 * so these are how an operator gets the port and the disk back (`lifeboat pitr list|remove`).
 * Stopping uses pg_ctl as the cluster's OS user (./cluster.ts), never sudo.
 */
import { existsSync, lstatSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BackupNotFound, InputInvalid } from '../errors';
import { writeFileAtomic } from '../pipeline/atomic-file';
import { postmasterPid, stopCluster } from './cluster';
import { clusterOwner, recoveryPaths, recoveryPathsOf, type RecoveryMarker, type RecoveryPaths } from './recovery-dir';

/** The id of a run: its directory name under RESTORE_DATA_ROOT. */
const RUN_ID = /^pitr-\d{8}-\d{6}(?:-[a-z0-9]+)?$/;

export type RecoveredClusterState =
  /** The postmaster runs (recovered, or still recovering when its workflow runs). */
  | 'running'
  /** A data directory without a running server. */
  | 'stopped'
  /** The run failed: its data was discarded, the log and marker are kept. */
  | 'failed'
  /** No data directory and no failure recorded: a run being prepared, or one that died while preparing. */
  | 'incomplete';

export interface RecoveredCluster {
  /** `pitr-<stamp>`: what `lifeboat pitr remove` takes. */
  id: string;
  state: RecoveredClusterState;
  port: number | null;
  /** The recovery target (ISO UTC). */
  target: string | null;
  baseKey: string | null;
  createdAt: string | null;
  workflowId: string | null;
  /** Bytes on disk under the run directory (allocated blocks). */
  bytes: number;
  runDir: string;
  dataDir: string;
  logFile: string;
  /** Why the run failed (state `failed`). */
  error?: string;
}

/** Allocated bytes under `path` (not following symlinks); unreadable entries count 0. */
export function diskUsage(path: string): number {
  let total = 0;
  const walk = (p: string): void => {
    let info;
    try {
      info = lstatSync(p);
    } catch {
      return;
    }
    total += info.blocks * 512;
    if (info.isDirectory()) {
      let names: string[] = [];
      try {
        names = readdirSync(p);
      } catch {
        return;
      }
      for (const name of names) walk(join(p, name));
    }
  };
  walk(path);
  return total;
}

export interface FailedMarker extends RecoveryMarker {
  failed?: { at: string; error: string };
}

function readMarker(path: string): FailedMarker | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as FailedMarker;
  } catch {
    return undefined;
  }
}

function describe(paths: RecoveryPaths, id: string): RecoveredCluster {
  const marker = readMarker(paths.markerFile);
  const hasData = existsSync(join(paths.dataDir, 'PG_VERSION'));
  const state: RecoveredClusterState = postmasterPid(paths.dataDir) ? 'running' : marker?.failed ? 'failed' : hasData ? 'stopped' : 'incomplete';
  return {
    id,
    state,
    port: marker?.port ?? null,
    target: marker?.target ?? null,
    baseKey: marker?.baseKey ?? null,
    createdAt: marker?.createdAt ?? null,
    workflowId: marker?.workflowId ?? null,
    bytes: diskUsage(paths.runDir),
    runDir: paths.runDir,
    dataDir: paths.dataDir,
    logFile: paths.logFile,
    ...(marker?.failed ? { error: marker.failed.error } : {}),
  };
}

/** Every run directory under `dataRoot`, oldest first (a missing root has none). */
export function listRecoveredClusters(dataRoot: string): RecoveredCluster[] {
  const root = resolve(dataRoot);
  const names = existsSync(root) ? readdirSync(root).filter((n) => RUN_ID.test(n)).sort() : [];
  return names.map((id) => describe(recoveryPathsOf(join(root, id)), id));
}

/** The run directory of an id (`pitr-<stamp>` or just `<stamp>`), checked to be one of ours. */
export function recoveryRunPaths(dataRoot: string, id: string): { id: string; paths: RecoveryPaths } {
  const text = String(id ?? '').trim();
  const full = text.startsWith('pitr-') ? text : `pitr-${text}`;
  if (!RUN_ID.test(full)) throw new InputInvalid('id', `"${text}" is not a recovered cluster id (pitr-YYYYMMDD-HHMMSS)`, 'see `lifeboat pitr list`');
  const paths = recoveryPaths(dataRoot, full.slice('pitr-'.length));
  if (!existsSync(paths.runDir)) throw new BackupNotFound(`no recovered cluster ${full} under ${resolve(dataRoot)}`, 'see `lifeboat pitr list`');
  return { id: full, paths };
}

/** The major version of a data directory (PG_VERSION), to stop it with the matching pg_ctl. */
export function dataDirMajor(dataDir: string): number | undefined {
  try {
    const n = parseInt(readFileSync(join(dataDir, 'PG_VERSION'), 'utf8').trim(), 10);
    return Number.isInteger(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/**
 * After a failed recovery or verification: stop the cluster, remove its data (and the WAL fetched
 * for it), record the failure in the marker; the log stays for diagnosis. Only the run that created
 * the directory may discard it. Returns the bytes freed.
 */
export async function discardFailedRun(paths: RecoveryPaths, runId: string, error: string, pgCtlFor: (major?: number) => string): Promise<{ freedBytes: number }> {
  const marker = readMarker(paths.markerFile);
  if (!marker || marker.runId !== runId) return { freedBytes: 0 };
  const before = diskUsage(paths.runDir);
  await stopCluster(pgCtlFor(dataDirMajor(paths.dataDir)), paths, clusterOwner());
  for (const dir of [paths.dataDir, paths.walDir, paths.socketDir]) rmSync(dir, { recursive: true, force: true });
  writeFileAtomic(paths.markerFile, `${JSON.stringify({ ...marker, failed: { at: new Date().toISOString(), error: error.slice(0, 2000) } }, null, 2)}\n`, 0o600);
  return { freedBytes: Math.max(0, before - diskUsage(paths.runDir)) };
}

/** Stop a recovered cluster (if it runs) and remove its run directory. */
export async function removeRecoveredCluster(dataRoot: string, id: string, pgCtlFor: (major?: number) => string): Promise<{ id: string; wasRunning: boolean; freedBytes: number; port: number | null }> {
  const { id: full, paths } = recoveryRunPaths(dataRoot, id);
  const info = describe(paths, full);
  const wasRunning = info.state === 'running';
  if (wasRunning) await stopCluster(pgCtlFor(dataDirMajor(paths.dataDir)), paths, clusterOwner());
  rmSync(paths.runDir, { recursive: true, force: true });
  return { id: full, wasRunning, freedBytes: info.bytes, port: info.port };
}
