/**
 * The directory a point-in-time recovery builds and runs in, one per run, never reused:
 *
 *   <RESTORE_DATA_ROOT>/pitr-<stamp>/          0700, owned by the postgres OS user when we are root
 *     lifeboat-pitr.json                       which run created it, target, base, port
 *     data/                                    the recovered cluster's data directory
 *     wal/                                     WAL segments fetched from S3 for this run
 *     run/                                     the cluster's unix socket directory
 *     postgres.log                             the cluster's log (pg_ctl -l)
 *
 * The base backup is decrypted and decompressed in memory and streamed straight into `tar -x`
 * running as the postgres user: no plaintext tar is ever written to disk.
 */
import { chownSync, createReadStream, existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { appendFile, chmod, chown, mkdir, readdir, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Transform } from 'node:stream';
import type { PrivateKey } from 'openpgp';
import type { Encoding } from '../catalog/names';
import { ConflictingArtifact, PrerequisiteMissing, ToolFailed } from '../errors';
import { postgresOsUser, type OsOwner } from '../postgres/os-user';
import { decodeStream } from '../pipeline/codec';
import { writeFileAtomic } from '../pipeline/atomic-file';
import { killTool, spawnTool, type ToolExit } from '../pipeline/child';

export interface RecoveryPaths {
  runDir: string;
  dataDir: string;
  walDir: string;
  socketDir: string;
  logFile: string;
  markerFile: string;
}

export type { OsOwner } from '../postgres/os-user';

export interface RecoveryMarker {
  workflowId: string;
  runId: string;
  createdAt: string;
  target: string;
  baseKey: string;
  port: number;
}

export function recoveryPaths(dataRoot: string, stamp: string): RecoveryPaths {
  return recoveryPathsOf(join(resolve(dataRoot), `pitr-${stamp}`));
}

/** The paths inside a run directory. */
export function recoveryPathsOf(runDir: string): RecoveryPaths {
  return {
    runDir,
    dataDir: join(runDir, 'data'),
    walDir: join(runDir, 'wal'),
    socketDir: join(runDir, 'run'),
    logFile: join(runDir, 'postgres.log'),
    markerFile: join(runDir, 'lifeboat-pitr.json'),
  };
}

/** The run directory holding a data directory (the inverse of recoveryPaths). */
export function runDirOf(dataDir: string): string {
  return dirname(resolve(dataDir));
}

/**
 * uid/gid of the `postgres` OS user when we run as root (PostgreSQL refuses to run as root);
 * undefined otherwise, and then the cluster runs as the worker's own user.
 */
export function clusterOwner(): OsOwner | undefined {
  return postgresOsUser();
}

/** Environment for processes of the recovered cluster: nothing of the worker's (no secrets). */
export function clusterEnv(owner: OsOwner | undefined): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    LANG: 'C.UTF-8',
    LC_ALL: 'C.UTF-8',
    HOME: owner ? '/var/lib/postgresql' : (process.env.HOME ?? '/tmp'),
    ...(owner ? { USER: 'postgres', LOGNAME: 'postgres' } : {}),
  };
}

function readMarker(path: string): RecoveryMarker | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as RecoveryMarker;
  } catch {
    return undefined;
  }
}

/**
 * Create the run directory (mode 0700, owned by the cluster's user). A directory left by an earlier
 * attempt of the same run is emptied and reused; one that belongs to another run is never touched.
 */
export async function createRecoveryDirs(paths: RecoveryPaths, owner: OsOwner | undefined, marker: RecoveryMarker): Promise<void> {
  if (existsSync(paths.runDir)) {
    const existing = readMarker(paths.markerFile);
    if (!existing || existing.runId !== marker.runId) {
      throw new ConflictingArtifact(`${paths.runDir} already exists and belongs to ${existing ? `workflow ${existing.workflowId}` : 'something else'}`, 'start the recovery again (directories are named by the second), or remove that directory if it is not needed');
    }
    for (const name of await readdir(paths.runDir)) await rm(join(paths.runDir, name), { recursive: true, force: true });
  }
  await mkdir(dirname(paths.runDir), { recursive: true, mode: 0o755 });
  if (owner) assertTraversable(dirname(paths.runDir), owner);
  await mkdir(paths.runDir, { recursive: true, mode: 0o700 });
  writeFileAtomic(paths.markerFile, `${JSON.stringify(marker, null, 2)}\n`, 0o600);
  for (const dir of [paths.dataDir, paths.walDir, paths.socketDir]) await mkdir(dir, { mode: 0o700 });
  writeFileSync(paths.logFile, '', { mode: 0o600 });
  for (const path of [paths.runDir, paths.dataDir, paths.walDir, paths.socketDir, paths.logFile, paths.markerFile]) {
    await chmod(path, path === paths.logFile || path === paths.markerFile ? 0o600 : 0o700);
    if (owner) await chown(path, owner.uid, owner.gid);
  }
}

/** The cluster's user must be able to reach the run directory through every ancestor. */
function assertTraversable(dir: string, owner: OsOwner): void {
  for (let d = resolve(dir); ; d = dirname(d)) {
    const info = statSync(d);
    const mode = info.mode;
    const ok = info.uid === owner.uid ? (mode & 0o100) !== 0 : info.gid === owner.gid ? (mode & 0o010) !== 0 : (mode & 0o001) !== 0;
    if (!ok) throw new PrerequisiteMissing(`the postgres OS user cannot reach ${dir}: ${d} is mode ${(mode & 0o777).toString(8)}`, `run chmod o+x ${d}, or set RESTORE_DATA_ROOT to a directory the postgres user can reach`);
    if (dirname(d) === d) return;
  }
}

/** Remove a run directory this run created (after a failed prepare: half a cluster is no use). */
export function removeRecoveryDir(paths: RecoveryPaths, runId: string): void {
  const marker = readMarker(paths.markerFile);
  if (marker?.runId === runId) rmSync(paths.runDir, { recursive: true, force: true });
}

export interface ExtractOptions {
  /** The verified, still encoded base backup. */
  source: string;
  encoding: Encoding;
  privateKeys: PrivateKey[] | undefined;
  dataDir: string;
  owner: OsOwner | undefined;
  onBytes?: (encodedBytesRead: number) => void;
  signal?: AbortSignal;
}

/** Stream the base backup through decrypt -> decompress -> `tar -x` (as the cluster's user). */
export async function extractBaseBackup(options: ExtractOptions): Promise<void> {
  // Through spawnTool: tar dies with the worker (setpriv --pdeathsig), its stdout is owned.
  const tar = spawnTool({ command: 'tar', args: ['-x', '-f', '-', '-C', options.dataDir], uid: options.owner?.uid, gid: options.owner?.gid, env: clusterEnv(options.owner), cwd: options.dataDir }, { stdin: 'pipe' });
  tar.output!.resume();
  const exited = tar.done.then(
    () => ({ code: 0 as number | null, signal: null as NodeJS.Signals | null, error: undefined as Error | undefined }),
    (exit: ToolExit) => ({ code: exit.code, signal: exit.signal, error: exit.code === null && exit.signal === null ? new Error(exit.stderrTail) : undefined }),
  );
  const stderrOf = (): string => tar.stderr().slice(-4096);
  let read = 0;
  const source = createReadStream(options.source, { highWaterMark: 1 << 20 });
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      read += chunk.length;
      options.onBytes?.(read);
      cb(null, chunk);
    },
  });
  const abort = (): void => {
    source.destroy(new Error('cancelled'));
    killTool(tar);
  };
  options.signal?.addEventListener('abort', abort, { once: true });
  try {
    await decodeStream(source.pipe(counter), options.encoding, options.privateKeys, tar.child.stdin!);
  } catch (error) {
    killTool(tar);
    const exit = await exited;
    if (exit.error) throw new PrerequisiteMissing(`tar could not be started: ${exit.error.message}`, 'install tar');
    if (stderrOf().trim()) throw tarFailed(stderrOf());
    throw error;
  } finally {
    options.signal?.removeEventListener('abort', abort);
  }
  const exit = await exited;
  if (exit.error) throw new PrerequisiteMissing(`tar could not be started: ${exit.error.message}`, 'install tar');
  if (exit.code !== 0) throw tarFailed(stderrOf() || `exit code ${exit.code ?? exit.signal}`);
}

function tarFailed(stderr: string): ToolFailed {
  const text = stderr.trim().split('\n').slice(-3).join(' | ');
  const full = /No space left on device/i.test(stderr);
  return new ToolFailed(`tar -x into the recovery data directory failed: ${text}`, !full, full ? 'free space under RESTORE_DATA_ROOT (the cluster needs as much room as the source\'s data directory)' : 'check that the postgres OS user can write under RESTORE_DATA_ROOT');
}

/** Write one WAL file into the run's wal/ directory, readable by the cluster's user. */
export function writeFetchedWal(paths: RecoveryPaths, name: string, raw: Buffer, owner: OsOwner | undefined): void {
  const target = join(paths.walDir, name);
  writeFileAtomic(target, raw, 0o600);
  if (owner) chownSync(target, owner.uid, owner.gid);
}

export interface RecoverySettings {
  restoreCommand: string;
  /** recovery_target_time, as PitrTarget.postgres; undefined (or empty) replays to the end of the WAL (`latest`). */
  targetTime?: string;
  port: number;
  socketDir: string;
  clusterName: string;
  /** A comment line naming the run. */
  origin: string;
}

const confQuote = (value: string): string => `'${value.replace(/'/g, "''")}'`;
const shellQuote = (value: string): string => `'${value.replace(/'/g, `'\\''`)}'`;

/**
 * restore_command: Lifeboat's own `wal fetch`, local directories only (the run's wal/ first, then
 * the WAL archive). The postgres user cannot read the worker's configuration or keys, so S3 was
 * already handled while preparing; the command needs nothing but these directories.
 * A segment that is there is copied by the shell directly (starting Node for each of a thousand
 * segments would double the replay time); `wal fetch` answers for everything else, with its exit
 * codes: 1 for "no such file" (recovery ends there), 126 for a real error (recovery aborts).
 */
export function restoreCommand(nodePath: string, lifeboatBin: string, archiveDirs: readonly string[]): string {
  const direct = archiveDirs.map((d) => `{ test -f ${shellQuote(d)}/%f && cp ${shellQuote(d)}/%f %p; }`);
  const fetch = [shellQuote(nodePath), shellQuote(lifeboatBin), 'wal', 'fetch', '--no-remote', ...archiveDirs.flatMap((d) => ['--archive-dir', shellQuote(d)]), '%f', '%p'].join(' ');
  return [...direct, fetch].join(' || ');
}

/** The settings block appended to postgresql.auto.conf (read last, so it wins over everything). */
export function recoveryConf(settings: RecoverySettings): string {
  return [
    '',
    `# --- lifeboat point-in-time recovery (${settings.origin}) ---`,
    '# A restored copy: it must never archive into the production WAL archive, and listens on loopback only.',
    `restore_command = ${confQuote(settings.restoreCommand)}`,
    ...(settings.targetTime ? [`recovery_target_time = ${confQuote(settings.targetTime)}`, "recovery_target_action = 'promote'"] : ['# no recovery target: replay to the end of the archived WAL, then promote']),
    "recovery_target_timeline = 'current'",
    'archive_mode = off',
    "archive_command = ''",
    `port = ${settings.port}`,
    "listen_addresses = '127.0.0.1'",
    `unix_socket_directories = ${confQuote(settings.socketDir)}`,
    `cluster_name = ${confQuote(settings.clusterName)}`,
    '',
  ].join('\n');
}

/** Append the recovery settings, create recovery.signal, drop anything that would make it a standby. */
export async function configureRecovery(paths: RecoveryPaths, settings: RecoverySettings, owner: OsOwner | undefined): Promise<void> {
  const auto = join(paths.dataDir, 'postgresql.auto.conf');
  await appendFile(auto, recoveryConf(settings), { mode: 0o600 });
  const signal = join(paths.dataDir, 'recovery.signal');
  writeFileSync(signal, '', { mode: 0o600 });
  for (const stale of ['standby.signal', 'postmaster.pid', 'postmaster.opts']) await rm(join(paths.dataDir, stale), { force: true });
  if (owner) for (const path of [auto, signal]) await chown(path, owner.uid, owner.gid);
}

export { findLifeboatBin } from '../lifeboat-bin';
