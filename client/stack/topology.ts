/**
 * The production topology of the local stack (`lifeboat stack up --topology production`): instead
 * of the CLI's dev server, the real Temporal server (lib/servers/temporal-server.ts) on its own
 * PostgreSQL 15 cluster, and Lifeboat workers standing for separate hosts:
 *
 *   general-1     a worker host with no local duties (general queue `lifeboat`)
 *   db-host       the database host (its pinned queue `lifeboat@db-host`)
 *   backup-host   owns BACKUP_ROOT (its pinned queue `lifeboat@backup-host`, LIFEBOAT_BACKUP_HOST)
 *
 * Every Lifeboat worker process serves the general queue and its own host's queue (workers/worker.ts).
 * Each runs in its own UTS namespace (`unshare --uts`, root only) with its host name set, so the
 * worker identity Temporal records names that host; without unshare the host name is only in
 * LIFEBOAT_HOST (and in the pinned queue's name).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import { StackFailed } from '../../lib/errors';
import { findLifeboatBin } from '../../lib/lifeboat-bin';
import { DB_SUPERUSER, initCluster, pgPaths, postmasterPid, startPostgres, stopPostgres, type PostgresServerOptions } from '../../lib/servers/postgres';
import { isOurProcess, startDaemon, stopProcess, waitUntil } from '../../lib/servers/processes';
import {
  realTemporalServerMarkers, setupTemporalSchema, startRealTemporalServer, TEMPORAL_DB_ROLE, temporalServerPorts, type RealTemporalServerOptions, type TemporalServerBinaries,
} from '../../lib/servers/temporal-server';
import type { StackSettings } from './settings';
import { RETENTION_DAYS, SEARCH_ATTRIBUTES } from './temporal-server';

export type Topology = 'dev' | 'production';
export const TOPOLOGIES: readonly Topology[] = ['dev', 'production'];

/** The host the production topology's BACKUP_ROOT belongs to (LIFEBOAT_BACKUP_HOST of every worker). */
export const BACKUP_HOST = 'backup-host';
export const DB_HOST = 'db-host';
/** Worker roles `stack up` starts; `general-2` is started on demand (tests of spreading work). */
export const TOPOLOGY_WORKERS = ['general-1', DB_HOST, BACKUP_HOST] as const;
export type WorkerHost = (typeof TOPOLOGY_WORKERS)[number] | `general-${number}`;

export interface TopologySecrets {
  temporalDbSuperuserPassword: string;
  temporalDbPassword: string;
}

/** Where the server's own PostgreSQL and the server's root live inside the stack directory. */
export function topologyPaths(dir: string): { persistenceDir: string; serverRoot: string; serverLog: string } {
  return { persistenceDir: join(dir, 'temporal-persistence'), serverRoot: join(dir, 'temporal-server'), serverLog: join(dir, 'logs', 'temporal-server.log') };
}

export function persistenceOptions(settings: StackSettings, pgBin: string, secrets: TopologySecrets): PostgresServerOptions {
  return {
    pgBin,
    dir: topologyPaths(settings.dir).persistenceDir,
    host: settings.host,
    port: settings.ports.temporalPersistence ?? settings.ports.postgres + 5,
    password: secrets.temporalDbSuperuserPassword,
    // Temporal's own database is not what Lifeboat protects here: WAL is not archived anywhere.
    archiveCommand: '/bin/true',
  };
}

export function serverOptions(settings: StackSettings, binaries: TemporalServerBinaries, persistence: PostgresServerOptions, secrets: TopologySecrets): RealTemporalServerOptions {
  const paths = topologyPaths(settings.dir);
  return {
    binaries,
    root: paths.serverRoot,
    host: settings.host,
    ports: temporalServerPorts(settings.ports.temporal),
    persistence: { host: persistence.host, port: persistence.port, user: TEMPORAL_DB_ROLE, password: secrets.temporalDbPassword },
    logFile: paths.serverLog,
  };
}

/** The server's own cluster: initdb once, start, role, databases and schema (all idempotent). */
export async function startTemporalPersistence(options: PostgresServerOptions, binaries: TemporalServerBinaries, secrets: TopologySecrets): Promise<{ pid: number; started: boolean }> {
  mkdirSync(join(options.dir, 'logs'), { recursive: true });
  initCluster(options);
  const started = !postmasterPid(pgPaths(options.dir).data);
  const pid = await startPostgres(options);
  await setupTemporalSchema({
    binaries,
    persistence: { host: options.host, port: options.port, user: TEMPORAL_DB_ROLE, password: secrets.temporalDbPassword },
    superuser: DB_SUPERUSER,
    superuserPassword: secrets.temporalDbSuperuserPassword,
  });
  return { pid, started };
}

export function stopTemporalPersistence(pgBin: string, dir: string): Promise<void> {
  return stopPostgres(pgBin, topologyPaths(dir).persistenceDir);
}

export function temporalPersistenceRunning(dir: string): number | undefined {
  return postmasterPid(pgPaths(topologyPaths(dir).persistenceDir).data);
}

/** Start the real server (detached). Markers recognise it again. */
export function startProductionTemporal(options: RealTemporalServerOptions): { pid: number; markers: string[] } {
  mkdirSync(options.root, { recursive: true });
  return { pid: startRealTemporalServer(options), markers: realTemporalServerMarkers(options) };
}

/**
 * Wait until the frontend answers, then register the `default` namespace (retention 30 days) and
 * Lifeboat's search attributes, each only when missing.
 */
export async function prepareProductionTemporal(options: RealTemporalServerOptions, stillRunning: () => boolean, namespace = 'default'): Promise<void> {
  const address = `${options.host}:${options.ports.frontend}`;
  const withConnection = async <T>(fn: (c: Connection) => Promise<T>): Promise<T> => {
    const connection = await Connection.connect({ address, connectTimeout: 2000 });
    try {
      return await fn(connection);
    } finally {
      await connection.close();
    }
  };
  await waitUntil(() => withConnection(async (c) => { await c.workflowService.getSystemInfo({}); return true; }), {
    what: 'temporal server', timeoutMs: 180_000, intervalMs: 500, logFile: options.logFile, stillRunning,
  });
  await withConnection(async (c) => {
    const retention = msToTs(`${RETENTION_DAYS} days`);
    const existing = await c.workflowService.describeNamespace({ namespace }).catch(() => undefined);
    if (!existing) {
      await c.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: retention, description: 'Lifeboat (production topology)' }).catch((error: unknown) => {
        if (!/already exists/i.test(String(error))) throw error;
      });
    } else if (Number(existing.config?.workflowExecutionRetentionTtl?.seconds ?? 0) !== RETENTION_DAYS * 86_400) {
      await c.workflowService.updateNamespace({ namespace, config: { workflowExecutionRetentionTtl: retention } });
    }
  });
  await waitUntil(() => withConnection(async (c) => { await c.workflowService.describeNamespace({ namespace }); return true; }), {
    what: `namespace ${namespace}`, timeoutMs: 60_000, intervalMs: 500, logFile: options.logFile, stillRunning,
  });
  // A namespace just registered is not yet known to every service for a moment: retried until done.
  await waitUntil(() => withConnection(async (c) => {
    const listed = await c.operatorService.listSearchAttributes({ namespace });
    const missing = Object.entries(SEARCH_ATTRIBUTES).filter(([name]) => !(name in (listed.customAttributes ?? {})));
    if (missing.length === 0) return true;
    const type = temporal.api.enums.v1.IndexedValueType;
    const types = { Keyword: type.INDEXED_VALUE_TYPE_KEYWORD, KeywordList: type.INDEXED_VALUE_TYPE_KEYWORD_LIST, Int: type.INDEXED_VALUE_TYPE_INT, Datetime: type.INDEXED_VALUE_TYPE_DATETIME, Bool: type.INDEXED_VALUE_TYPE_BOOL };
    await c.operatorService.addSearchAttributes({ namespace, searchAttributes: Object.fromEntries(missing.map(([name, t]) => [name, types[t]])) });
    return false; // listed again on the next round: done once they all show
  }), { what: `search attributes of ${namespace}`, timeoutMs: 60_000, intervalMs: 1000, logFile: options.logFile, stillRunning });
}

let unshareWorks: boolean | undefined;
/** True when this process may give a child its own host name (root, and unshare(1) allowed here). */
export function canSetHostName(): boolean {
  unshareWorks ??= process.getuid?.() === 0 && spawnSync('unshare', ['--uts', '--', 'hostname', 'lifeboat-probe'], { stdio: 'ignore' }).status === 0;
  return unshareWorks;
}

export interface WorkerSpec {
  host: WorkerHost;
  envFile: string;
  logFile: string;
  /** Settings on top of the env file for this worker only (tests: a throttled uplink). */
  extraEnv?: Record<string, string>;
}

/** Start `lifeboat worker` for one host: config only from the stack's env file plus LIFEBOAT_HOST. */
export function startTopologyWorker(spec: WorkerSpec): { pid: number; markers: string[] } {
  const bin = findLifeboatBin();
  if (!existsSync(join(bin, '..', '..', 'dist', 'client', 'main.js'))) {
    throw new StackFailed('the production topology runs `lifeboat worker` from dist/, which is not built', 'run `npm run build` first');
  }
  const argv = [process.execPath, bin, 'worker'];
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH, HOME: process.env.HOME, LANG: process.env.LANG ?? 'C.UTF-8',
    LIFEBOAT_ENV_FILE: spec.envFile, LIFEBOAT_HOST: spec.host,
    // The backup metrics describe BACKUP_ROOT: only its host serves them (one port, one owner).
    ...(spec.host === BACKUP_HOST ? {} : { BACKUP_METRICS_PORT: '' }),
    ...spec.extraEnv,
  };
  // `hostname "$1"` inside the new UTS namespace, then exec the worker: same pid, own host name.
  const [command, args]: [string, string[]] = canSetHostName()
    ? ['unshare', ['--uts', '--', 'sh', '-c', 'hostname "$1" && shift && exec "$@"', 'lifeboat-host', spec.host, ...argv]]
    : [process.execPath, argv.slice(1)];
  const pid = startDaemon({ command, args, env, logFile: spec.logFile, cwd: '/' });
  return { pid, markers: [bin, 'worker'] };
}

/** Wait until the worker for `host` polls its pinned activity queue (a poll seen after `since`). */
export async function waitForWorker(address: string, host: string, since: Date, stillRunning: () => boolean, logFile: string, namespace = 'default', taskQueue = 'lifeboat'): Promise<void> {
  await waitUntil(
    async () => {
      const connection = await Connection.connect({ address, connectTimeout: 2000 });
      try {
        const described = await connection.workflowService.describeTaskQueue({
          namespace, taskQueue: { name: `${taskQueue}@${host}` }, taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
        });
        return (described.pollers ?? []).some((p) => Number(p.lastAccessTime?.seconds ?? 0) * 1000 >= since.getTime() - 1000);
      } finally {
        await connection.close();
      }
    },
    { what: `lifeboat worker on ${host}`, timeoutMs: 90_000, intervalMs: 500, logFile, stillRunning },
  );
}

export function workerProcessName(host: WorkerHost): string {
  return `worker-${host}`;
}

export async function stopTopologyWorker(pid: number | undefined, markers: string[]): Promise<void> {
  if (pid && isOurProcess(pid, markers)) await stopProcess(pid);
}
