/**
 * A PostgreSQL 15 cluster Lifeboat creates and runs on this machine: the embedded stack's, and the
 * new cluster of a DR `local` environment. initdb and pg_ctl run as the `postgres` OS user when we
 * are root (PostgreSQL refuses to run as root). The postmaster runs in its own session, so it
 * outlives the process that started it. WAL archiving is on from the first start, so base backups
 * and PITR have a WAL chain to work with.
 */
import { spawn } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { StackFailed } from '../errors';
import { spawnTool, type ToolExit } from '../pipeline/child';
import { postgresOsUser } from '../postgres/os-user';
import { logTail, processCommandLine, run, waitUntil } from './processes';

export interface PostgresServerOptions {
  pgBin: string;
  /** Stack directory; the cluster lives in <dir>/postgres/data. */
  dir: string;
  host: string;
  port: number;
  /** Password of the bootstrap superuser (scram-sha-256 on TCP). */
  password: string;
  /** Name of the bootstrap superuser; default `postgres`. */
  superuser?: string;
  /**
   * Listen on a unix socket in <dir>/postgres/run too (default true). Off for clusters below long
   * paths: a socket path has at most 107 bytes, and pg_ctl and Lifeboat need only TCP.
   */
  unixSocket?: boolean;
  /** archive_command for the cluster; `%p`/`%f` are PostgreSQL's placeholders. */
  archiveCommand: string;
}

export const DB_SUPERUSER = 'postgres';

export function pgPaths(dir: string): { root: string; data: string; run: string; log: string } {
  const root = join(dir, 'postgres');
  return { root, data: join(root, 'data'), run: join(root, 'run'), log: join(dir, 'logs', 'postgres.log') };
}

/** pid of the running postmaster of this data directory, if any. */
export function postmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    const argv = processCommandLine(pid);
    return argv && argv.some((a) => a.includes('postgres')) ? pid : undefined;
  } catch {
    return undefined;
  }
}

function asPostgres(): { uid?: number; gid?: number; env: NodeJS.ProcessEnv } {
  const user = postgresOsUser();
  const env = { ...process.env, LC_ALL: 'C.UTF-8', LANG: 'C.UTF-8' };
  return user ? { ...user, env: { ...env, HOME: '/var/lib/postgresql', USER: 'postgres' } } : { env };
}

/** initdb once, with scram password authentication on TCP and the stack's settings. */
export function initCluster(options: PostgresServerOptions): void {
  const paths = pgPaths(options.dir);
  if (existsSync(join(paths.data, 'PG_VERSION'))) return;
  const user = postgresOsUser();
  mkdirSync(paths.root, { recursive: true, mode: 0o700 });
  mkdirSync(paths.run, { recursive: true, mode: 0o700 });
  rmSync(paths.data, { recursive: true, force: true });
  const pwfile = join(paths.root, 'initdb.pw');
  writeFileSync(pwfile, `${options.password}\n`, { mode: 0o600 });
  if (user) for (const p of [paths.root, paths.run, pwfile]) chownSync(p, user.uid, user.gid);
  const ctx = asPostgres();
  try {
    run(join(options.pgBin, 'initdb'), ['-D', paths.data, '-U', options.superuser ?? DB_SUPERUSER, '-E', 'UTF8', '--locale=C.UTF-8', '--auth-local=peer', '--auth-host=scram-sha-256', `--pwfile=${pwfile}`, '--data-checksums'], { uid: ctx.uid, gid: ctx.gid, env: ctx.env, cwd: paths.root });
  } finally {
    rmSync(pwfile, { force: true });
  }
  // Static settings go into postgresql.conf; port, socket directory and archive_command are in an
  // included file rewritten at every start, so they follow the stack's current settings.
  appendFileSync(
    join(paths.data, 'postgresql.conf'),
    [
      '',
      '# --- added by lifeboat ---',
      "include_if_exists = 'lifeboat-stack.conf'",
      'wal_level = replica',
      'archive_mode = on',
      "archive_timeout = '60s'",
      'max_wal_senders = 10',
      'max_wal_size = 1GB',
      "log_line_prefix = '%m [%p] %q%u@%d '",
      '',
    ].join('\n'),
  );
}

/**
 * Rewrite the include file (listen address, port, socket directory, archive_command). Its name is
 * kept from the stack's first version, whose clusters include it. ALTER SYSTEM settings
 * (postgresql.auto.conf) still win over it.
 */
function writeStackConf(options: PostgresServerOptions): void {
  const paths = pgPaths(options.dir);
  const user = postgresOsUser();
  const quote = (v: string): string => `'${v.replace(/'/g, "''")}'`;
  const stackConf = join(paths.data, 'lifeboat-stack.conf');
  writeFileSync(
    stackConf,
    [
      '# rewritten by lifeboat at every start',
      `listen_addresses = ${quote(options.host)}`,
      `port = ${options.port}`,
      `unix_socket_directories = ${quote(options.unixSocket === false ? '' : paths.run)}`,
      `archive_command = ${quote(options.archiveCommand)}`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  if (user) chownSync(stackConf, user.uid, user.gid);
}

/**
 * Start the cluster. When this data directory's postmaster already runs, only its archive_command
 * is refreshed (reloaded), since the checkout it points into may have moved.
 */
export async function startPostgres(options: PostgresServerOptions): Promise<number> {
  const paths = pgPaths(options.dir);
  const ctx = asPostgres();
  writeStackConf(options);
  const existing = postmasterPid(paths.data);
  if (existing) {
    run(join(options.pgBin, 'pg_ctl'), ['-D', paths.data, 'reload'], { uid: ctx.uid, gid: ctx.gid, env: ctx.env, cwd: paths.root });
    return existing;
  }
  const user = postgresOsUser();
  if (!existsSync(paths.log)) writeFileSync(paths.log, '');
  if (user) chownSync(paths.log, user.uid, user.gid);
  // pg_ctl in a new session (detached), so the postmaster does not die with our terminal's Ctrl-C.
  await new Promise<void>((resolve, reject) => {
    const child = spawn(join(options.pgBin, 'pg_ctl'), ['-D', paths.data, '-l', paths.log, '-w', '-t', '120', 'start'], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      uid: ctx.uid,
      gid: ctx.gid,
      env: ctx.env,
      cwd: paths.root,
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new StackFailed(`pg_ctl start failed (exit ${code}): ${output.trim()}${logTail(paths.log)}`));
    });
  });
  const pid = postmasterPid(paths.data);
  if (!pid) throw new StackFailed(`postgres started but ${paths.data}/postmaster.pid is missing`);
  await waitUntil(() => canConnect(options, 'postgres'), { what: 'postgres', timeoutMs: 60_000, logFile: paths.log });
  return pid;
}

/** Stop the cluster in <dir>/postgres/data (fast shutdown) if it runs. */
export function stopPostgres(pgBin: string, dir: string): Promise<void> {
  return stopPostmaster(pgBin, pgPaths(dir).data);
}

/** Stop the postmaster of any data directory (fast shutdown, as its owner) if it runs; StackFailed when it will not stop. */
export async function stopPostmaster(pgBin: string, dataDir: string): Promise<void> {
  if (!postmasterPid(dataDir)) return;
  const ctx = asPostgres();
  const tool = spawnTool({ command: join(pgBin, 'pg_ctl'), args: ['-D', dataDir, '-m', 'fast', '-w', '-t', '60', 'stop'], uid: ctx.uid, gid: ctx.gid, env: ctx.env, cwd: '/' });
  tool.output?.resume();
  try {
    await tool.done;
  } catch (error) {
    if (postmasterPid(dataDir)) throw new StackFailed(`pg_ctl stop of ${dataDir} failed: ${(error as ToolExit).message}`);
  }
}

async function canConnect(options: PostgresServerOptions, database: string): Promise<boolean> {
  const client = new Client({ host: options.host, port: options.port, user: options.superuser ?? DB_SUPERUSER, password: options.password, database, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } finally {
    await client.end().catch(() => undefined);
  }
}
