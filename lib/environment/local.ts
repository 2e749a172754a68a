/**
 * The `local` environment provider: a NEW PostgreSQL 15 cluster and a NEW MinIO server on this
 * machine, on free loopback ports, with fresh data directories. What tests and drills use.
 *
 *   <DR_ENVIRONMENT_ROOT>/<name>/           0755 (the postgres OS user traverses it)
 *     environment.json                      ports, pid, binary: the state, never a secret
 *     postgres/data, postgres/run           the new cluster (owned by `postgres` when we are root)
 *     minio-server/data                     the new MinIO's objects
 *     config/                               0700: runbook step 6 restores configuration files here
 *     logs/postgres.log, logs/minio-server.log
 *     (anything a restore creates here, e.g. a point-in-time recovery's cluster: teardown stops and
 *      removes it with the rest)
 *   <DR_ENVIRONMENT_ROOT>/.<name>.lock      held while one call changes the environment
 *
 * Credentials are production's: the cluster's bootstrap superuser is DB_USER with PGPASSWORD, the
 * MinIO's root user is MINIO_SOURCE_ACCESS_KEY / _SECRET_KEY, so the worker reaches both with what
 * it already has and no secret enters a workflow. The servers are daemons (their own sessions): a
 * dying worker leaves them running, and the next provision finds them by the state's pid and its
 * command line (or, for a MinIO started just before a crash, by its data directory on a command
 * line) and starts only what is dead. Teardown does not trust the state: it stops every postmaster
 * whose data directory is below the environment and every process with the environment's directory
 * on its command line, then deletes the directory.
 *
 * WAL: the cluster runs with wal_level=replica and archive_mode=on, and archive_command=/bin/true
 * until someone protects it (ALTER SYSTEM SET archive_command ...; SELECT pg_reload_conf() wins over
 * the file this module writes), so re-protecting a failed-over primary needs no restart.
 */
import { randomBytes } from 'node:crypto';
import { accessSync, chmodSync, constants, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { InputInvalid, PrerequisiteMissing, ServiceUnavailable, StackFailed } from '../errors';
import type { Logger } from '../logger';
import { writeFileAtomic } from '../pipeline/atomic-file';
import { startTicksOf } from '../pipeline/child';
import { findMinioBinary, findPgBin } from '../servers/binaries';
import { minioMarkers, minioPaths, startMinio, waitForMinio, type MinioServerOptions } from '../servers/minio';
import { freePorts } from '../servers/ports';
import { initCluster, pgPaths, postmasterPid, startPostgres, stopPostmaster, type PostgresServerOptions } from '../servers/postgres';
import { isOurProcess, portOpen, processCommandLine, processesUnder, processesWorkingIn, stopProcess } from '../servers/processes';
import { checkEnvironmentName, ENVIRONMENT_NAME } from './kinds';
import type { EnvironmentDescription, EnvironmentProvider, ProvisionedEnvironment, ProvisionOptions } from './provider';

const STATE_FILE = 'environment.json';
const MINIO_ROLE = 'server';
/** archive_command until the environment is protected (see the module comment). */
const UNPROTECTED_ARCHIVE_COMMAND = '/bin/true';
/** How long a call waits for another one changing the same environment. */
const LOCK_WAIT_MS = 15 * 60_000;

export interface LocalEnvironmentOptions {
  /** DR_ENVIRONMENT_ROOT: one directory per environment below it. */
  root: string;
  /** Production's role and password: the new cluster's bootstrap superuser. binDir: PG_BIN_DIR. */
  db: { user: string; password: string | undefined; binDir?: string };
  /** The source MinIO's keys: the new MinIO's root credentials. binary: DR_ENVIRONMENT_MINIO_BIN. */
  minio: { accessKey: string; secretKey: string | undefined; binary?: string };
  /** LIFEBOAT_HOST of this worker (the result's `host`). */
  workerHost: string;
  /** Loopback address the servers listen on; default 127.0.0.1. */
  listenHost?: string;
  logger?: Logger;
}

/** environment.json: where the servers are; no secret. */
interface LocalState {
  version: 1;
  name: string;
  createdAt: string;
  host: string;
  /** Absent while no call asked for PostgreSQL (`postgres: 'none'`). */
  postgres?: { port: number };
  minio: { port: number; consolePort: number; binary: string; pid?: number };
}

interface Binaries {
  pgBin?: string;
  minio: string;
}

export class LocalEnvironmentProvider implements EnvironmentProvider {
  readonly kind = 'local' as const;
  private readonly host: string;

  constructor(private readonly options: LocalEnvironmentOptions) {
    this.host = options.listenHost ?? '127.0.0.1';
  }

  /** The environment's directory (names are checked: they become directory names). */
  directoryOf(name: string): string {
    return join(this.options.root, checkEnvironmentName(name));
  }

  async provision(name: string, options: ProvisionOptions = {}): Promise<ProvisionedEnvironment> {
    const dir = this.directoryOf(name);
    const mode = options.postgres ?? 'server';
    const credentials = this.credentials(mode);
    const binaries = this.binaries(mode);
    return this.locked(name, async () => {
      const started = Date.now();
      let state = readState(dir);
      // Ports of an environment created by this call may be re-picked when another process grabs
      // one first; an existing environment keeps its endpoints or fails saying which port is taken.
      const fresh = state === undefined;
      if (!state) {
        mkdirSync(dir, { recursive: true, mode: 0o755 });
        chmodSync(dir, 0o755);
        const [port, consolePort] = await freePorts(2, this.host);
        state = { version: 1, name, createdAt: new Date().toISOString(), host: this.host, minio: { port: port!, consolePort: consolePort!, binary: binaries.minio } };
        saveState(dir, state);
      }
      mkdirSync(join(dir, 'logs'), { recursive: true, mode: 0o755 });
      mkdirSync(join(dir, 'config'), { recursive: true, mode: 0o700 });
      if (mode !== 'none' && !state.postgres) {
        const [port] = await freePorts(1, this.host, [state.minio.port, state.minio.consolePort]);
        state.postgres = { port: port! };
        saveState(dir, state);
      }
      const current = state;
      await Promise.all([
        mode === 'server' ? this.ensurePostgres(dir, current, fresh, binaries.pgBin!, credentials.dbPassword!) : Promise.resolve(),
        this.ensureMinio(dir, current, fresh, binaries.minio, credentials),
      ]);
      this.options.logger?.info({ environment: name, postgres: current.postgres?.port, minio: current.minio.port, ms: Date.now() - started }, 'local DR environment ready');
      return this.environmentOf(dir, current);
    });
  }

  async describe(name: string): Promise<EnvironmentDescription | undefined> {
    const dir = this.directoryOf(name);
    if (!existsSync(dir)) return undefined;
    const state = readState(dir);
    if (!state) return { name, kind: this.kind, dataDir: dir, host: this.options.workerHost, running: { postgres: false, minio: false } };
    const running = {
      ...(state.postgres ? { postgres: servingPostmaster(dir, state.postgres.port) !== undefined } : {}),
      minio: this.runningMinio(dir, state) !== undefined,
    };
    return { ...this.environmentOf(dir, state), running };
  }

  list(): Promise<string[]> {
    let entries: string[];
    try {
      entries = readdirSync(this.options.root);
    } catch {
      return Promise.resolve([]);
    }
    return Promise.resolve(entries.filter((entry) => ENVIRONMENT_NAME.test(entry) && statSync(join(this.options.root, entry)).isDirectory()).sort());
  }

  async teardown(name: string): Promise<void> {
    const dir = this.directoryOf(name);
    await this.locked(name, async () => {
      await this.stopEverythingBelow(dir);
      if (existsSync(dir)) {
        // Renamed first, so an interrupted delete never leaves a half environment under its name.
        const trash = join(this.options.root, `.trash-${name}-${randomBytes(4).toString('hex')}`);
        renameSync(dir, trash);
        await rm(trash, { recursive: true, force: true });
      }
      await this.sweepTrash();
      this.options.logger?.info({ environment: name }, 'local DR environment removed');
    });
  }

  // ---- servers ----------------------------------------------------------------------------------

  /**
   * Whether `port` is open. For an existing environment whose server just died, wait a moment: a
   * killed multi-threaded server (MinIO) looks dead before its last thread has closed the sockets.
   */
  private async stillOpen(port: number, fresh: boolean): Promise<boolean> {
    const deadline = Date.now() + (fresh ? 0 : 5000);
    for (;;) {
      if (!(await portOpen(this.host, port, 500))) return false;
      if (Date.now() >= deadline) return true;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  private async ensurePostgres(dir: string, state: LocalState, fresh: boolean, pgBin: string, password: string): Promise<void> {
    const pg = state.postgres!;
    if (servingPostmaster(dir, pg.port) !== undefined) return;
    if (await this.stillOpen(pg.port, fresh)) {
      if (!fresh) throw portTaken(state.name, 'PostgreSQL', pg.port);
      [pg.port] = (await freePorts(1, this.host, [state.minio.port, state.minio.consolePort])) as [number];
      saveState(dir, state);
    }
    // TCP only: a socket path below a long environment name would pass the 107-byte limit.
    const options: PostgresServerOptions = { pgBin, dir, host: this.host, port: pg.port, password, superuser: this.options.db.user, archiveCommand: UNPROTECTED_ARCHIVE_COMMAND, unixSocket: false };
    // A killed postmaster stays a zombie until it is reaped, and its children linger a moment in
    // the data directory holding its shared memory: PostgreSQL will not start until all are gone.
    const dataDir = pgPaths(dir).data;
    const previous = previousPostmaster(dataDir);
    await waitForNone(() => [...(previous !== undefined && existsSync(`/proc/${previous}`) && postmasterPid(dataDir) === undefined ? [previous] : []), ...processesWorkingIn(dataDir)], 30_000, `the previous postmaster of environment "${state.name}" and its processes did not exit`);
    initCluster(options);
    await startPostgres(options);
  }

  private async ensureMinio(dir: string, state: LocalState, fresh: boolean, binary: string, credentials: { minioUser: string; minioPassword: string }): Promise<void> {
    const m = state.minio;
    let pid = this.runningMinio(dir, state);
    if (pid === undefined) {
      if ((await this.stillOpen(m.port, fresh)) || (await this.stillOpen(m.consolePort, fresh))) {
        if (!fresh) throw portTaken(state.name, 'MinIO', (await portOpen(this.host, m.port, 500)) ? m.port : m.consolePort);
        [m.port, m.consolePort] = (await freePorts(2, this.host, state.postgres ? [state.postgres.port] : [])) as [number, number];
      }
      m.binary = binary;
      pid = startMinio(this.minioOptions(dir, state, credentials));
    }
    if (pid !== m.pid) {
      m.pid = pid;
      saveState(dir, state);
    }
    const markers = minioMarkers(m.binary, dir, MINIO_ROLE);
    const alive = pid;
    await waitForMinio(this.minioOptions(dir, state, credentials), () => isOurProcess(alive, markers));
  }

  /** pid of this environment's MinIO: the recorded one if it is still ours, else any process serving its data directory. */
  private runningMinio(dir: string, state: LocalState): number | undefined {
    const m = state.minio;
    if (m.pid !== undefined && isOurProcess(m.pid, minioMarkers(m.binary, dir, MINIO_ROLE))) return m.pid;
    return processesUnder(minioPaths(dir, MINIO_ROLE).data)[0];
  }

  private minioOptions(dir: string, state: LocalState, credentials: { minioUser: string; minioPassword: string }): MinioServerOptions {
    const m = state.minio;
    return { binary: m.binary, dir, role: MINIO_ROLE, host: this.host, port: m.port, consolePort: m.consolePort, rootUser: credentials.minioUser, rootPassword: credentials.minioPassword };
  }

  /** Stop every postmaster with a data directory below `dir` (fast shutdown), then every process with `dir` on its command line. */
  private async stopEverythingBelow(dir: string): Promise<void> {
    const pgBin = this.options.db.binDir && hasInitdb(this.options.db.binDir) ? this.options.db.binDir : findPgBin();
    for (const dataDir of postmasterDataDirs(dir)) {
      if (!pgBin) break;
      await stopPostmaster(pgBin, dataDir).catch((error: unknown) => this.options.logger?.warn({ dataDir, err: (error as Error).message }, 'pg_ctl stop failed; stopping the postmaster by signal'));
    }
    for (const pid of processesUnder(dir)) await stopProcess(pid);
    // A postmaster's children (working in its data directory) leave after it.
    await waitForNone(() => [...processesUnder(dir), ...postgresChildrenIn(dir)], 10_000, `processes still run in ${dir} after stopping them`);
  }

  /** Remove what an interrupted teardown renamed but did not delete. */
  private async sweepTrash(): Promise<void> {
    for (const entry of readdirSync(this.options.root)) {
      if (!entry.startsWith('.trash-')) continue;
      const path = join(this.options.root, entry);
      if (processesUnder(path).length === 0) await rm(path, { recursive: true, force: true });
    }
  }

  private environmentOf(dir: string, state: LocalState): ProvisionedEnvironment {
    return {
      name: state.name,
      kind: this.kind,
      ...(state.postgres ? { postgres: { host: state.host, port: state.postgres.port } } : {}),
      minio: { endpoint: `http://${state.host}:${state.minio.port}` },
      dataDir: dir,
      configDir: join(dir, 'config'),
      host: this.options.workerHost,
    };
  }

  // ---- preconditions ----------------------------------------------------------------------------

  private credentials(mode: ProvisionOptions['postgres']): { dbPassword?: string; minioUser: string; minioPassword: string } {
    const { db, minio } = this.options;
    if (mode === 'server' && !db.password) {
      throw new InputInvalid('PGPASSWORD', 'is required by the local DR environment: its new cluster gets DB_USER with this password', 'set PGPASSWORD in the worker\'s configuration, or use DR_ENVIRONMENT=command or existing');
    }
    if (minio.accessKey.length < 3) {
      throw new InputInvalid('MINIO_SOURCE_ACCESS_KEY', 'must have 3 or more characters: it becomes the local DR environment\'s MinIO root user', 'set MINIO_SOURCE_ACCESS_KEY to the source MinIO\'s access key');
    }
    if (!minio.secretKey || minio.secretKey.length < 8) {
      throw new InputInvalid('MINIO_SOURCE_SECRET_KEY', 'must have 8 or more characters: it becomes the local DR environment\'s MinIO root password', 'set MINIO_SOURCE_SECRET_KEY to the source MinIO\'s secret key');
    }
    return { dbPassword: db.password, minioUser: minio.accessKey, minioPassword: minio.secretKey };
  }

  private binaries(mode: ProvisionOptions['postgres']): Binaries {
    const { db, minio } = this.options;
    let pgBin: string | undefined;
    if (mode === 'server') {
      pgBin = db.binDir && hasInitdb(db.binDir) ? db.binDir : findPgBin();
      if (!pgBin) throw new PrerequisiteMissing('the PostgreSQL 15 server binaries (initdb, pg_ctl) were not found', 'install postgresql-15 (Debian), or set PG_BIN_DIR to a directory with initdb and pg_ctl');
    }
    if (minio.binary) {
      try {
        accessSync(minio.binary, constants.X_OK);
      } catch {
        throw new PrerequisiteMissing(`DR_ENVIRONMENT_MINIO_BIN: ${minio.binary} is not an executable file`, 'point DR_ENVIRONMENT_MINIO_BIN at a minio server binary, or unset it to use the tool cache');
      }
    }
    const binary = minio.binary ?? findMinioBinary();
    if (!binary) throw new PrerequisiteMissing('the minio server binary was not found (tool cache, PATH)', 'run `lifeboat stack up` once (it builds MinIO into ~/.cache/lifeboat/bin), or set DR_ENVIRONMENT_MINIO_BIN');
    return { pgBin, minio: binary };
  }

  // ---- one call at a time per environment ---------------------------------------------------------

  /**
   * Run `fn` holding <root>/.<name>.lock. A lock whose holder is gone (pid and start time no longer
   * match: a dead worker) is taken over; a live holder (another attempt still running) is waited for.
   */
  private async locked<T>(name: string, fn: () => Promise<T>): Promise<T> {
    mkdirSync(this.options.root, { recursive: true, mode: 0o755 });
    const lock = join(this.options.root, `.${name}.lock`);
    const token = randomBytes(8).toString('hex');
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (;;) {
      try {
        writeFileSync(lock, JSON.stringify({ pid: process.pid, startTicks: startTicksOf(process.pid), token }), { flag: 'wx', mode: 0o600 });
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const holder = readLock(lock);
      if (!holder.alive) {
        rmSync(lock, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new ServiceUnavailable(`environment "${name}" is being changed by process ${holder.pid ?? '?'} (lock ${lock})`, 'retry when that call has finished');
      await delay(200);
    }
    try {
      return await fn();
    } finally {
      if (readLock(lock).token === token) rmSync(lock, { force: true });
    }
  }
}

/** Poll until `find` returns nothing; StackFailed with `what` and the pids after `timeoutMs`. */
async function waitForNone(find: () => number[], timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = find();
    if (left.length === 0) return;
    if (Date.now() > deadline) throw new StackFailed(`${what} (pids ${left.join(', ')})`, 'stop them by hand, then try again');
    await delay(100);
  }
}

/** The pid a data directory's postmaster.pid names, alive or not. */
function previousPostmaster(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Processes of a PostgreSQL server working below `dir` (their command line is `postgres: ...`). */
function postgresChildrenIn(dir: string): number[] {
  return processesWorkingIn(dir).filter((pid) => processCommandLine(pid)?.[0]?.startsWith('postgres') === true);
}

function readLock(path: string): { pid?: number; token?: string; alive: boolean } {
  try {
    const text = readFileSync(path, 'utf8');
    if (text === '') return { alive: Date.now() - statSync(path).mtimeMs < 5000 }; // being written
    const held = JSON.parse(text) as { pid: number; startTicks?: number; token: string };
    return { pid: held.pid, token: held.token, alive: startTicksOf(held.pid) !== undefined && startTicksOf(held.pid) === held.startTicks };
  } catch {
    return { alive: false };
  }
}

function readState(dir: string): LocalState | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, STATE_FILE), 'utf8')) as LocalState;
  } catch {
    return undefined;
  }
}

function saveState(dir: string, state: LocalState): void {
  writeFileAtomic(join(dir, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`, 0o644);
}

function hasInitdb(binDir: string): boolean {
  return existsSync(join(binDir, 'initdb')) && existsSync(join(binDir, 'pg_ctl'));
}

function portTaken(name: string, what: string, port: number): StackFailed {
  return new StackFailed(`port ${port} of environment "${name}"'s ${what} is taken by a process that is not the environment's`, `stop that process, or tear the environment down and provision it again (new ports)`);
}

/** Data directories up to three levels below `dir` whose postmaster runs (postgres/data, pitr-<stamp>/data, ...). */
function postmasterDataDirs(dir: string): string[] {
  const found: string[] = [];
  const visit = (path: string, depth: number): void => {
    if (existsSync(join(path, 'postmaster.pid'))) {
      if (postmasterPid(path) !== undefined) found.push(path);
      return;
    }
    if (depth === 0) return;
    let entries: string[];
    try {
      entries = readdirSync(path);
    } catch {
      return;
    }
    for (const entry of entries) {
      const child = join(path, entry);
      try {
        if (statSync(child).isDirectory()) visit(child, depth - 1);
      } catch {
        // vanished
      }
    }
  };
  visit(dir, 3);
  return found;
}

/** The data directory below `dir` whose running postmaster listens on `port` (postmaster.pid line 4). */
function servingPostmaster(dir: string, port: number): string | undefined {
  return postmasterDataDirs(dir).find((dataDir) => {
    try {
      return Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[3]) === port;
    } catch {
      return false;
    }
  });
}
