/**
 * `lifeboat stack up|down|status`: the embedded local stack (Temporal dev server, PostgreSQL 15,
 * MinIO source and backup, BIND 9 with the DR demo zone) on loopback, for development, the main job
 * and the test suite.
 *
 * up:     builds/installs missing tools, starts what is not already running (a second `up` starts
 *         nothing), waits for readiness by polling, seeds sample data once, writes lifeboat.env.
 * down:   stops exactly the processes recorded in stack.json whose command line is still ours.
 * status: what runs, where, and whether it answers.
 *
 * With `topology: 'production'` (client/stack/topology.ts) the dev server is replaced by the real
 * Temporal server on its own PostgreSQL, and `up` also starts the workers standing for the hosts.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { walArchiveDir } from '../../lib/catalog/paths';
import { StackFailed } from '../../lib/errors';
import { walArchiveCommand } from '../../lib/lifeboat-bin';
import { postgresOsUser } from '../../lib/postgres/os-user';
import { ensureStackKeys, STACK_KEY_EMAIL, stackKeyPaths, stopGpgAgent } from './keys';
import { ensureBucket, ensureSourceBuckets, minioClient, minioMarkers, minioPaths, startMinio, waitForMinio, type MinioServerOptions } from './minio-server';
import {
  ensureSampleDatabase, initCluster, pgPaths, postmasterPid, SAMPLE_DATABASE, startPostgres, stopPostgres, type PostgresServerOptions,
} from './postgres-server';
import { isOurProcess, portOpen, stopProcess } from './processes';
import type { StackSettings } from './settings';
import { addMissingSearchAttributes, raiseRetention, startTemporal, temporalMarkers, temporalPaths, waitForTemporal, type TemporalServerOptions } from './temporal-server';
import { ensureTemporalServer, ensureTools, findPgBin, type Tools } from './tools';
import {
  BACKUP_HOST, persistenceOptions, prepareProductionTemporal, serverOptions, startProductionTemporal, startTemporalPersistence, startTopologyWorker,
  stopTemporalPersistence, stopTopologyWorker, temporalPersistenceRunning, topologyPaths, TOPOLOGY_WORKERS, waitForWorker, workerProcessName, type WorkerHost,
} from './topology';
import type { TemporalServerBinaries } from '../../lib/servers/temporal-server';
import { bindMarkers, bindSettings, startBind, STACK_DNS_ZONE, waitForBind, type BindServerOptions } from './bind-server';

export const SOURCE_BUCKETS = ['company-data', 'embeddings', 'user-uploads'] as const;
export const OFFSITE_BUCKET = 'corporate-intel-backups';

interface StackSecrets {
  postgresPassword: string;
  minioUser: string;
  minioSourcePassword: string;
  minioBackupPassword: string;
  /** Production topology: the server's own cluster (superuser) and its `temporal` role. */
  temporalDbSuperuserPassword?: string;
  temporalDbPassword?: string;
}

interface StackState {
  version: 1;
  processes: Record<string, { pid: number; markers: string[] } | undefined>;
  pgBin?: string;
}

export interface StackPaths {
  state: string;
  secrets: string;
  envFile: string;
  logs: string;
  backupRoot: string;
  walArchive: string;
  minioBackupRoot: string;
}

export function stackPaths(dir: string): StackPaths {
  return {
    state: join(dir, 'stack.json'),
    secrets: join(dir, 'secrets.json'),
    envFile: join(dir, 'lifeboat.env'),
    logs: join(dir, 'logs'),
    backupRoot: join(dir, 'backups', 'postgres'),
    walArchive: walArchiveDir(join(dir, 'backups', 'postgres')),
    minioBackupRoot: join(dir, 'backups', 'minio'),
  };
}

function loadSecrets(path: string, production = false): StackSecrets {
  const secret = (): string => randomBytes(18).toString('base64url');
  const secrets: StackSecrets = existsSync(path)
    ? (JSON.parse(readFileSync(path, 'utf8')) as StackSecrets)
    : { postgresPassword: secret(), minioUser: 'lifeboat-admin', minioSourcePassword: secret(), minioBackupPassword: secret() };
  const missing = !existsSync(path) || (production && (!secrets.temporalDbSuperuserPassword || !secrets.temporalDbPassword));
  if (production) {
    secrets.temporalDbSuperuserPassword ??= secret();
    secrets.temporalDbPassword ??= secret();
  }
  if (missing) writeFileSync(path, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
}

function topologySecrets(secrets: StackSecrets): { temporalDbSuperuserPassword: string; temporalDbPassword: string } {
  if (!secrets.temporalDbSuperuserPassword || !secrets.temporalDbPassword) throw new StackFailed('the stack\'s secrets.json has no Temporal database passwords');
  return { temporalDbSuperuserPassword: secrets.temporalDbSuperuserPassword, temporalDbPassword: secrets.temporalDbPassword };
}

function loadState(path: string): StackState {
  if (!existsSync(path)) return { version: 1, processes: {} };
  return JSON.parse(readFileSync(path, 'utf8')) as StackState;
}

function saveState(path: string, state: StackState): void {
  writeFileSync(path, JSON.stringify(state, null, 2));
}


/**
 * archive_command of the stack's cluster: Lifeboat's own `wal archive` into the stack's WAL archive,
 * compiled (tools/wal-archive, built by ensureTools before this is asked) unless Go is missing.
 * `up` rewrites it into the cluster's lifeboat-stack.conf and reloads a running cluster, so a
 * rebuilt archiver is named at the next `up`.
 */
export function stackArchiveCommand(paths: StackPaths): string {
  return walArchiveCommand(paths.walArchive);
}

interface Components {
  temporal: TemporalServerOptions;
  postgres: PostgresServerOptions;
  minioSource: MinioServerOptions;
  minioBackup: MinioServerOptions;
  bind: BindServerOptions;
}

function components(settings: StackSettings, tools: Pick<Tools, 'temporal' | 'minio' | 'pgBin' | 'named' | 'tsigKeygen'>, secrets: StackSecrets): Components {
  const { dir, host, ports } = settings;
  const paths = stackPaths(dir);
  return {
    temporal: { binary: tools.temporal, dir, host, port: ports.temporal, uiPort: ports.temporalUi },
    postgres: { pgBin: tools.pgBin, dir, host, port: ports.postgres, password: secrets.postgresPassword, archiveCommand: stackArchiveCommand(paths) },
    minioSource: { binary: tools.minio, dir, role: 'source', host, port: ports.minioSource, consolePort: ports.minioSourceConsole, rootUser: secrets.minioUser, rootPassword: secrets.minioSourcePassword },
    minioBackup: { binary: tools.minio, dir, role: 'backup', host, port: ports.minioBackup, consolePort: ports.minioBackupConsole, rootUser: secrets.minioUser, rootPassword: secrets.minioBackupPassword },
    // The demo zone: db.<zone> is the production name (pointing at the stack's PostgreSQL host) a
    // failover switches; a drill switches drill.<zone> and removes it again.
    bind: { named: tools.named, tsigKeygen: tools.tsigKeygen, dir, host, port: ports.dns, zone: STACK_DNS_ZONE, records: [{ name: 'db', type: 'A', value: host }], logFile: join(paths.logs, 'bind.log') },
  };
}

export interface UpResult {
  started: string[];
  alreadyRunning: string[];
  envFile: string;
  /** The dev server's Web UI; empty for the production topology (the real server has none built in). */
  uiUrl: string;
  seeded: { database: boolean; objects: number };
}

type Progress = (line: string) => void;

async function ensureFree(host: string, port: number, what: string, envName: string): Promise<void> {
  if (await portOpen(host, port, 500)) {
    throw new StackFailed(`port ${port} needed by ${what} is in use by a process this stack did not start`, `stop that process or set ${envName} to a free port`);
  }
}

/** Bring the stack up; idempotent. */
export async function stackUp(settings: StackSettings, progress: Progress = (l) => process.stderr.write(`${l}\n`)): Promise<UpResult> {
  const tools = await ensureTools(settings.toolsDir, progress);
  const production = settings.topology === 'production';
  const serverBinaries = production ? await ensureTemporalServer(progress) : undefined;
  const paths = stackPaths(settings.dir);
  for (const d of [settings.dir, paths.logs, join(settings.dir, 'backups'), paths.backupRoot, paths.minioBackupRoot]) mkdirSync(d, { recursive: true });
  mkdirSync(paths.walArchive, { recursive: true });
  const pgUser = postgresOsUser();
  if (pgUser) {
    // The cluster and its archive_command run as `postgres`: it must traverse the stack directory.
    chmodSync(settings.dir, 0o755);
    chownSync(paths.walArchive, pgUser.uid, pgUser.gid);
  }
  const secrets = loadSecrets(paths.secrets, production);
  const keys = ensureStackKeys(tools.gpg, settings.dir);
  const c = components(settings, tools, secrets);
  const state = loadState(paths.state);
  state.pgBin = tools.pgBin;
  const started: string[] = [];
  const alreadyRunning: string[] = [];

  const startDaemonComponent = async (
    name: string, markers: string[], port: number, portEnv: string, start: () => number, wait: (alive: () => boolean) => Promise<void>,
  ): Promise<void> => {
    const known = state.processes[name];
    if (known && isOurProcess(known.pid, known.markers)) {
      alreadyRunning.push(name);
    } else {
      await ensureFree(settings.host, port, name, portEnv);
      progress(`starting ${name} on ${settings.host}:${port}`);
      const pid = start();
      state.processes[name] = { pid, markers };
      saveState(paths.state, state);
      started.push(name);
    }
    const pid = state.processes[name]?.pid;
    await wait(() => isOurProcess(pid, markers));
  };

  const startPg = async (): Promise<void> => {
    initCluster(c.postgres);
    const running = postmasterPid(pgPaths(settings.dir).data);
    if (running) {
      alreadyRunning.push('postgres');
    } else {
      await ensureFree(settings.host, settings.ports.postgres, 'postgres', 'LIFEBOAT_STACK_PG_PORT');
      progress(`starting postgres on ${settings.host}:${settings.ports.postgres}`);
      started.push('postgres');
    }
    const pid = await startPostgres(c.postgres);
    state.processes.postgres = { pid, markers: [pgPaths(settings.dir).data] };
  };

  // Production topology: the server's own cluster (role, databases, schema), then the real server,
  // its namespace and search attributes.
  const startProductionServer = async (binaries: TemporalServerBinaries): Promise<void> => {
    const persistence = persistenceOptions(settings, tools.pgBin, topologySecrets(secrets));
    if (!temporalPersistenceRunning(settings.dir)) {
      await ensureFree(settings.host, persistence.port, 'temporal-postgres', 'LIFEBOAT_STACK_TEMPORAL_PG_PORT');
      progress(`starting temporal-postgres on ${settings.host}:${persistence.port}`);
      started.push('temporal-postgres');
    } else {
      alreadyRunning.push('temporal-postgres');
    }
    const { pid } = await startTemporalPersistence(persistence, binaries, topologySecrets(secrets));
    state.processes['temporal-postgres'] = { pid, markers: [pgPaths(persistence.dir).data] };
    const server = serverOptions(settings, binaries, persistence, topologySecrets(secrets));
    await startDaemonComponent('temporal', [binaries.server, server.root], settings.ports.temporal, 'LIFEBOAT_STACK_TEMPORAL_PORT',
      () => startProductionTemporal(server).pid, (alive) => prepareProductionTemporal(server, alive));
  };

  // Start all four at once; each waits for its own readiness. If any fails, stop what this call
  // started, so a failed `up` leaves nothing running behind it.
  const results = await Promise.allSettled([
    serverBinaries
      ? startProductionServer(serverBinaries)
      : startDaemonComponent('temporal', temporalMarkers(tools.temporal, settings.dir), settings.ports.temporal, 'LIFEBOAT_STACK_TEMPORAL_PORT',
        () => startTemporal(c.temporal), (alive) => waitForTemporal(c.temporal, alive)),
    startDaemonComponent('minio-source', minioMarkers(tools.minio, settings.dir, 'source'), settings.ports.minioSource, 'LIFEBOAT_STACK_MINIO_SOURCE_PORT',
      () => startMinio(c.minioSource), (alive) => waitForMinio(c.minioSource, alive)),
    startDaemonComponent('minio-backup', minioMarkers(tools.minio, settings.dir, 'backup'), settings.ports.minioBackup, 'LIFEBOAT_STACK_MINIO_BACKUP_PORT',
      () => startMinio(c.minioBackup), (alive) => waitForMinio(c.minioBackup, alive)),
    startDaemonComponent('bind', bindMarkers(tools.named, settings.dir), settings.ports.dns, 'LIFEBOAT_STACK_DNS_PORT',
      () => startBind(c.bind), (alive) => waitForBind(c.bind, alive)),
    startPg(),
  ]);
  saveState(paths.state, state);
  const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure) {
    await stopComponents(settings, started);
    throw failure.reason;
  }

  // One-time seeding and idempotent settings.
  await raiseRetention(c.temporal);
  await addMissingSearchAttributes(c.temporal);
  const database = await ensureSampleDatabase(c.postgres);
  if (database.created) progress(`loaded sample database ${SAMPLE_DATABASE}`);
  const objects = await ensureSourceBuckets(minioClient(c.minioSource), SOURCE_BUCKETS);
  if (objects > 0) progress(`put ${objects} sample objects into ${SOURCE_BUCKETS.join(', ')}`);
  await ensureBucket(minioClient(c.minioBackup), OFFSITE_BUCKET);

  writeEnvFile(settings, tools, secrets, keys, bindSettings(c.bind));
  if (production) {
    for (const host of TOPOLOGY_WORKERS) {
      const outcome = await ensureStackWorker(settings, host, progress);
      (outcome === 'started' ? started : alreadyRunning).push(workerProcessName(host));
    }
  }
  return { started, alreadyRunning, envFile: paths.envFile, uiUrl: production ? '' : `http://${settings.host}:${settings.ports.temporalUi}`, seeded: { database: database.created, objects } };
}

/** The configuration files of the stack that `backupConfigFiles` archives (CONFIG_BACKUP_PATHS). */
export function stackConfigFiles(dir: string): string[] {
  const { data } = pgPaths(dir);
  return [stackPaths(dir).envFile, join(data, 'postgresql.conf'), join(data, 'pg_hba.conf')];
}

function writeEnvFile(settings: StackSettings, tools: Pick<Tools, 'pgBin'>, secrets: StackSecrets, keys: ReturnType<typeof ensureStackKeys>, dns: [string, string][]): void {
  const paths = stackPaths(settings.dir);
  const { host, ports } = settings;
  const lines: [string, string][] = [
    ['DB_HOST', host], ['DB_PORT', String(ports.postgres)], ['DB_NAME', SAMPLE_DATABASE], ['DB_USER', 'postgres'],
    ['PGPASSWORD', secrets.postgresPassword], ['PG_BIN_DIR', tools.pgBin],
    ['BACKUP_ROOT', paths.backupRoot],
    ['RESTORE_DATA_ROOT', join(settings.dir, 'restore')], ['RESTORE_PORT', String(ports.postgres + 1)],
    ['BACKUP_METRICS_PORT', String(ports.postgres + 2)],
    ['ENCRYPT_BACKUPS', 'true'], ['GPG_RECIPIENT', STACK_KEY_EMAIL], ['GPG_PUBLIC_KEY_FILE', keys.publicKeyFile],
    ['GPG_PRIVATE_KEY_FILE', keys.privateKeyFile], ['GNUPGHOME', keys.gnupgHome],
    ['REMOTE_STORAGE', 'true'], ['S3_BUCKET', OFFSITE_BUCKET], ['S3_ENDPOINT', `http://${host}:${ports.minioBackup}`],
    ['AWS_ACCESS_KEY_ID', secrets.minioUser], ['AWS_SECRET_ACCESS_KEY', secrets.minioBackupPassword],
    ['MINIO_SOURCE_ENDPOINT', `http://${host}:${ports.minioSource}`], ['MINIO_SOURCE_ACCESS_KEY', secrets.minioUser], ['MINIO_SOURCE_SECRET_KEY', secrets.minioSourcePassword],
    ['MINIO_BACKUP_ENDPOINT', `http://${host}:${ports.minioBackup}`], ['MINIO_BACKUP_ACCESS_KEY', secrets.minioUser], ['MINIO_BACKUP_SECRET_KEY', secrets.minioBackupPassword],
    ['BUCKETS_TO_BACKUP', SOURCE_BUCKETS.join(',')], ['MINIO_BACKUP_ROOT', paths.minioBackupRoot],
    ['TEMPORAL_ADDRESS', `${host}:${ports.temporal}`], ['TEMPORAL_NAMESPACE', 'default'],
    // The seed's defaults (/etc/default/..., /etc/postgresql/14/...) do not exist here: back up the
    // stack's own equivalents, this file and its cluster's configuration.
    ['CONFIG_BACKUP_PATHS', stackConfigFiles(settings.dir).join(',')],
    ...dns,
    // Production topology: dumps, uploads and WAL work go to the queue of the host owning BACKUP_ROOT.
    ...(settings.topology === 'production' ? [['LIFEBOAT_BACKUP_HOST', BACKUP_HOST] as [string, string]] : []),
  ];
  const text = [
    `# Written by \`lifeboat stack up\` for the local stack in ${settings.dir}.`,
    '# Holds generated local-only credentials; not for production. Same format as /etc/default/corporate-intel-backup.',
    ...lines.map(([k, v]) => `export ${k}='${v}'`),
    '',
  ].join('\n');
  writeFileSync(paths.envFile, text, { mode: 0o600 });
}

export interface ComponentStatus {
  name: string;
  running: boolean;
  pid?: number;
  address: string;
  answering: boolean;
}

export async function stackStatus(settings: StackSettings): Promise<ComponentStatus[]> {
  const state = loadState(stackPaths(settings.dir).state);
  const { host, ports } = settings;
  const entries: [string, number | undefined][] = [['temporal', ports.temporal], ['postgres', ports.postgres], ['minio-source', ports.minioSource], ['minio-backup', ports.minioBackup], ['bind', ports.dns]];
  if (settings.topology === 'production') {
    entries.push(['temporal-postgres', ports.temporalPersistence ?? ports.postgres + 5]);
    for (const name of Object.keys(state.processes).filter((n) => n.startsWith('worker-'))) entries.push([name, undefined]);
  }
  return Promise.all(
    entries.map(async ([name, port]) => {
      const known = state.processes[name];
      const pid = name === 'postgres' ? postmasterPid(pgPaths(settings.dir).data)
        : name === 'temporal-postgres' ? temporalPersistenceRunning(settings.dir)
          : known && isOurProcess(known.pid, known.markers) ? known.pid : undefined;
      // A worker listens on nothing: it answers when it runs (it polls Temporal).
      const answering = pid !== undefined && (port === undefined || (await portOpen(host, port, 500)));
      return { name, running: pid !== undefined, pid, address: port === undefined ? 'polls temporal' : `${host}:${port}`, answering };
    }),
  );
}

const COMPONENT_NAMES = ['temporal', 'postgres', 'minio-source', 'minio-backup', 'bind', 'temporal-postgres'];

/** Stop the named components if they are (still) ours; returns the names actually stopped. */
async function stopComponents(settings: StackSettings, names: readonly string[]): Promise<string[]> {
  const paths = stackPaths(settings.dir);
  const state = loadState(paths.state);
  const stopped: string[] = [];
  const jobs = names.map(async (name) => {
    if (name === 'postgres') {
      const pgBin = state.pgBin ?? findPgBin();
      if (!pgBin || !postmasterPid(pgPaths(settings.dir).data)) return;
      await stopPostgres(pgBin, settings.dir);
    } else if (name === 'temporal-postgres') {
      const pgBin = state.pgBin ?? findPgBin();
      if (!pgBin || !temporalPersistenceRunning(settings.dir)) return;
      await stopTemporalPersistence(pgBin, settings.dir);
    } else {
      const known = state.processes[name];
      if (!known || !isOurProcess(known.pid, known.markers)) return;
      await stopProcess(known.pid);
    }
    stopped.push(name);
    delete state.processes[name];
  });
  await Promise.all(jobs);
  if (existsSync(paths.state)) saveState(paths.state, state);
  return stopped;
}

/** Stop exactly the processes this stack started (and the stack's gpg-agent). Returns the names stopped. */
export async function stackDown(settings: StackSettings): Promise<string[]> {
  // Workers first (they would only log the servers going away), then the servers.
  const workers = Object.keys(loadState(stackPaths(settings.dir).state).processes).filter((n) => n.startsWith('worker-'));
  const stopped = [...(await stopComponents(settings, workers)), ...(await stopComponents(settings, COMPONENT_NAMES))];
  stopGpgAgent(stackKeyPaths(settings.dir).gnupgHome);
  return stopped;
}

/**
 * Test stacks only: a stack directory whose servers are not all running was left by a run that was
 * killed (or a reboot), and its PostgreSQL may need crash recovery that cannot succeed (a test's
 * tablespace under a temporary directory that is gone). Stop what still runs and remove the
 * directory, so the next `up` starts from nothing. Returns true when it discarded something.
 * Never used for the developer's stack, whose data is kept.
 */
export async function discardStaleTestStack(settings: StackSettings, progress: Progress = () => undefined): Promise<boolean> {
  if (!existsSync(stackPaths(settings.dir).state)) return false;
  const components = await stackStatus(settings);
  const down = components.filter((c) => !c.name.startsWith('worker-') && !c.running).map((c) => c.name);
  if (down.length === 0) return false;
  progress(`discarding the stale stack in ${settings.dir} (not running: ${down.join(', ')}): starting from nothing`);
  await stackDown(settings);
  rmSync(settings.dir, { recursive: true, force: true });
  return true;
}

export { temporalPaths, minioPaths };

/**
 * Production topology: make sure the worker standing for `host` runs (start it when it does not)
 * and polls its queues. Used by `up` for the three standing workers and by tests to bring a killed
 * worker back or to add `general-2`.
 */
export async function ensureStackWorker(
  settings: StackSettings, host: WorkerHost, progress: Progress = () => undefined, extraEnv?: Record<string, string>,
): Promise<'started' | 'running'> {
  const paths = stackPaths(settings.dir);
  const state = loadState(paths.state);
  const name = workerProcessName(host);
  const known = state.processes[name];
  const logFile = join(paths.logs, `${name}.log`);
  const since = new Date();
  let outcome: 'started' | 'running' = 'running';
  if (!known || !isOurProcess(known.pid, known.markers)) {
    progress(`starting lifeboat worker on ${host}`);
    state.processes[name] = startTopologyWorker({ host, envFile: paths.envFile, logFile, extraEnv });
    saveState(paths.state, state);
    outcome = 'started';
  }
  const entry = state.processes[name];
  await waitForWorker(`${settings.host}:${settings.ports.temporal}`, host, outcome === 'started' ? since : new Date(0), () => isOurProcess(entry?.pid, entry?.markers ?? []), logFile);
  return outcome;
}

/** Production topology: stop the worker standing for `host` (SIGTERM, then SIGKILL after 20 s). */
export async function stopStackWorker(settings: StackSettings, host: WorkerHost): Promise<void> {
  const paths = stackPaths(settings.dir);
  const state = loadState(paths.state);
  const known = state.processes[workerProcessName(host)];
  if (known) await stopTopologyWorker(known.pid, known.markers);
  delete state.processes[workerProcessName(host)];
  saveState(paths.state, state);
}

/** pid of a running stack component (`temporal`, `worker-backup-host`, ...) from stack.json, if it is still ours. */
export function stackProcessPid(settings: StackSettings, name: string): number | undefined {
  const known = loadState(stackPaths(settings.dir).state).processes[name];
  return known && isOurProcess(known.pid, known.markers) ? known.pid : undefined;
}

export { topologyPaths };
