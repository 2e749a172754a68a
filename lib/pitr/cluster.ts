/**
 * Running the recovered cluster: pg_ctl start/stop as the cluster's OS user (detached, so it
 * outlives the worker), polling until recovery has ended, and inspecting what came back. The server
 * is connected to over 127.0.0.1 with the same role and password as the source (it is a copy), and
 * never with anything from the worker's environment in its own.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { Client, type ClientConfig } from 'pg';
import type { Config } from '../config/load';
import { AuthenticationFailed, BackupNotFound, ToolFailed } from '../errors';
import { listTables } from '../postgres/dump';
import { clusterEnv, type OsOwner, type RecoveryPaths } from './recovery-dir';
import { parseRecoveryLog, type RecoveryLogFacts } from './recovery-log';

/** pid of the postmaster running on `dataDir`, if any (pid file present and the process is a postgres). */
export function postmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(`${dataDir}/postmaster.pid`, 'utf8').split('\n')[0]);
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return argv.includes('postgres') || argv.includes('postmaster') ? pid : undefined;
  } catch {
    return undefined;
  }
}

function runPgCtl(pgCtl: string, args: string[], paths: RecoveryPaths, owner: OsOwner | undefined, detached: boolean): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(pgCtl, ['-D', paths.dataDir, ...args], {
      detached,
      stdio: ['ignore', 'pipe', 'pipe'],
      uid: owner?.uid,
      gid: owner?.gid,
      env: clusterEnv(owner),
      cwd: paths.runDir,
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output: output.trim() }));
  });
}

/**
 * Start the cluster without waiting (pg_ctl -W): recovery can take hours, and waitForRecovery
 * watches it. In its own session, so the postmaster does not die with the worker.
 */
export async function startCluster(pgCtl: string, paths: RecoveryPaths, owner: OsOwner | undefined): Promise<void> {
  const { code, output } = await runPgCtl(pgCtl, ['-l', paths.logFile, '-W', 'start'], paths, owner, true);
  if (code !== 0) throw new ToolFailed(`pg_ctl start failed (exit ${code}): ${output}; see ${paths.logFile}`, true, 'check the log; the port may be taken or the data directory unreadable by the postgres user');
}

/** Stop the cluster (fast shutdown) if it runs. */
export async function stopCluster(pgCtl: string, paths: RecoveryPaths, owner: OsOwner | undefined): Promise<void> {
  if (!postmasterPid(paths.dataDir)) return;
  const { code, output } = await runPgCtl(pgCtl, ['-m', 'fast', '-w', '-t', '120', 'stop'], paths, owner, false);
  if (code !== 0 && postmasterPid(paths.dataDir)) throw new ToolFailed(`pg_ctl stop failed (exit ${code}): ${output}`, false);
}

export function recoveredClientConfig(db: Config['db'], port: number, database = 'postgres'): ClientConfig {
  return { host: '127.0.0.1', port, user: db.user, password: db.password, database, connectionTimeoutMillis: 5000, application_name: 'lifeboat-pitr' };
}

export interface RecoveryState {
  inRecovery: boolean;
  /** Commit time of the last replayed transaction, ISO 8601 UTC with microseconds. */
  replayTimestamp?: string;
  replayLsn?: string;
}

/** `2025-10-17 14:30:01.5` (a UTC timestamp as PostgreSQL prints it) -> `2025-10-17T14:30:01.500000Z`. */
export function asIsoUtc(text: string | null): string | undefined {
  if (!text) return undefined;
  const [whole, fraction = ''] = text.split('.');
  return `${whole!.replace(' ', 'T')}.${fraction.padEnd(6, '0')}Z`;
}

/** Transient connection errors while the server starts or replays (not ready yet). */
function notReady(error: unknown): boolean {
  const e = error as { code?: string; message?: string };
  return e.code === '57P03' || e.code === 'ECONNREFUSED' || e.code === 'ECONNRESET' || e.code === 'ENOENT' || /starting up|not yet accepting|shutting down|Connection terminated|timeout/i.test(e.message ?? '');
}

async function withRecoveredClient<T>(db: Config['db'], port: number, database: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client(recoveredClientConfig(db, port, database));
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await fn(client);
  } catch (error) {
    const code = (error as { code?: string }).code;
    // A source without a `postgres` database: template1 is always there.
    if (code === '3D000' && database === 'postgres') return withRecoveredClient(db, port, 'template1', fn);
    if (code === '28P01' || code === '28000') {
      throw new AuthenticationFailed(`the recovered cluster on 127.0.0.1:${port} rejected user "${db.user}" (${code})`, 'its pg_hba.conf and roles are those of the source: allow host connections from 127.0.0.1 for DB_USER there');
    }
    throw error;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The server's recovery state, or undefined while it does not accept connections yet. */
export async function readRecoveryState(db: Config['db'], port: number): Promise<RecoveryState | undefined> {
  try {
    return await withRecoveredClient(db, port, 'postgres', async (client) => {
      const { rows } = await client.query<{ r: boolean; t: string | null; lsn: string | null }>(
        "SELECT pg_is_in_recovery() AS r, (pg_last_xact_replay_timestamp() AT TIME ZONE 'UTC')::text AS t, pg_last_wal_replay_lsn()::text AS lsn",
      );
      const row = rows[0]!;
      return { inRecovery: row.r, replayTimestamp: asIsoUtc(row.t), replayLsn: row.lsn ?? undefined };
    });
  } catch (error) {
    if (notReady(error)) return undefined;
    throw error;
  }
}

export interface RecoveryProgress {
  phase: 'starting' | 'replaying' | 'promoted';
  restoredFiles: number;
  lastRestoredFile?: string;
  replayTimestamp?: string;
  replayLsn?: string;
}

export interface RecoveryOutcome {
  state: RecoveryState;
  log: RecoveryLogFacts;
  /** The recovered cluster's timeline after promotion. */
  timeline?: number;
}

/** How a cluster that stopped during recovery failed, from its log. */
export function recoveryFailure(log: RecoveryLogFacts, logFile: string): Error {
  if (log.endedBeforeTarget) {
    const last = log.lastCompletedTransactionAt ? `; the last transaction replayed committed at ${log.lastCompletedTransactionAt}` : '';
    return new BackupNotFound(
      `recovery ended before the target was reached: the WAL available stops at ${log.lastRestoredFile ?? 'the base backup\'s own WAL'}${last}`,
      'the WAL after that point is missing or not archived yet (run SELECT pg_switch_wal() on the source); or choose an earlier time',
    );
  }
  const fatal = log.fatal.length > 0 ? log.fatal.slice(-3).join(' | ') : 'it exited without a FATAL message';
  return new ToolFailed(`the recovering cluster stopped: ${fatal}; see ${logFile}`, true, 'read the cluster log; the data directory is kept for inspection');
}

/**
 * Poll until the server has left recovery (promoted at the target). Fails, permanently, when the
 * postmaster exits instead. Heartbeat-friendly: `onProgress` runs at every poll.
 */
export async function waitForRecovery(options: {
  db: Config['db'];
  port: number;
  paths: RecoveryPaths;
  onProgress?: (p: RecoveryProgress) => void;
  signal?: AbortSignal;
  pollMs?: number;
  /** How long the postmaster may take to write its pid file after pg_ctl returned. */
  startGraceMs?: number;
}): Promise<RecoveryOutcome> {
  const { db, port, paths } = options;
  const startBy = Date.now() + (options.startGraceMs ?? 60_000);
  let seen = false;
  for (;;) {
    options.signal?.throwIfAborted();
    const log = parseRecoveryLog(readFileSync(paths.logFile, 'utf8'));
    const pid = postmasterPid(paths.dataDir);
    if (!pid) {
      if (seen || log.fatal.length > 0 || Date.now() > startBy) throw recoveryFailure(log, paths.logFile);
    } else {
      seen = true;
      const state = await readRecoveryState(db, port);
      const progress: RecoveryProgress = { phase: state ? (state.inRecovery ? 'replaying' : 'promoted') : 'starting', restoredFiles: log.restoredFiles, lastRestoredFile: log.lastRestoredFile, replayTimestamp: state?.replayTimestamp, replayLsn: state?.replayLsn };
      options.onProgress?.(progress);
      if (state && !state.inRecovery) {
        const timeline = await withRecoveredClient(db, port, 'postgres', async (client) => {
          const { rows } = await client.query<{ tli: string }>('SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) AS tli');
          return parseInt(rows[0]!.tli, 16);
        });
        return { state, log: parseRecoveryLog(readFileSync(paths.logFile, 'utf8')), timeline };
      }
    }
    await delay(options.pollMs ?? 1000, undefined, { signal: options.signal });
  }
}

export interface DatabaseContents {
  name: string;
  tables: { schema: string; name: string; rows: number }[];
}

export interface ClusterInspection {
  inRecovery: boolean;
  systemIdentifier?: string;
  serverVersion: string;
  databases: DatabaseContents[];
}

/** Connect, list the databases and count every table's rows. */
export async function inspectCluster(db: Config['db'], port: number, onTable?: (database: string, table: string) => void): Promise<ClusterInspection> {
  const head = await withRecoveredClient(db, port, 'postgres', async (client) => {
    const info = await client.query<{ r: boolean; v: string }>("SELECT pg_is_in_recovery() AS r, current_setting('server_version') AS v");
    let systemIdentifier: string | undefined;
    try {
      systemIdentifier = (await client.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()')).rows[0]?.id;
    } catch {
      // superuser-only by default; informative only
    }
    const dbs = await client.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname');
    return { inRecovery: info.rows[0]!.r, serverVersion: info.rows[0]!.v, systemIdentifier, names: dbs.rows.map((r) => r.datname) };
  });
  const databases: DatabaseContents[] = [];
  for (const name of head.names) {
    const tables = await withRecoveredClient(db, port, name, async (client) => {
      const out: DatabaseContents['tables'] = [];
      for (const t of await listTables(client)) {
        onTable?.(name, `${t.schema}.${t.name}`);
        const quoted = `"${t.schema.replace(/"/g, '""')}"."${t.name.replace(/"/g, '""')}"`;
        const { rows } = await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${quoted}`);
        out.push({ schema: t.schema, name: t.name, rows: Number(rows[0]!.n) });
      }
      return out;
    });
    databases.push({ name, tables });
  }
  return { inRecovery: head.inRecovery, systemIdentifier: head.systemIdentifier, serverVersion: head.serverVersion, databases };
}
