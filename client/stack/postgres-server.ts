/**
 * The local stack's PostgreSQL 15 cluster. initdb and pg_ctl run as the `postgres` OS user when we
 * are root (PostgreSQL refuses to run as root). WAL archiving is on from the first start, so base
 * backups and PITR have a WAL chain to work with.
 */
import { spawn } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { StackFailed } from '../../lib/errors';
import { postgresOsUser } from '../../lib/postgres/os-user';
import { processCommandLine, run, waitUntil } from './processes';
import { SAMPLE_DATA_SQL } from './sample-data';

export interface PostgresServerOptions {
  pgBin: string;
  /** Stack directory; the cluster lives in <dir>/postgres/data. */
  dir: string;
  host: string;
  port: number;
  password: string;
  /** archive_command for the cluster; `%p`/`%f` are PostgreSQL's placeholders. */
  archiveCommand: string;
}

export const DB_SUPERUSER = 'postgres';
export const SAMPLE_DATABASE = 'corporate_intel';


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
    run(join(options.pgBin, 'initdb'), ['-D', paths.data, '-U', DB_SUPERUSER, '-E', 'UTF8', '--locale=C.UTF-8', '--auth-local=peer', '--auth-host=scram-sha-256', `--pwfile=${pwfile}`, '--data-checksums'], { uid: ctx.uid, gid: ctx.gid, env: ctx.env, cwd: paths.root });
  } finally {
    rmSync(pwfile, { force: true });
  }
  // Static settings go into postgresql.conf; port, socket directory and archive_command are in an
  // included file rewritten at every start, so they follow the stack's current settings.
  appendFileSync(
    join(paths.data, 'postgresql.conf'),
    [
      '',
      '# --- added by lifeboat stack ---',
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

/** Rewrite the stack's include file (listen address, port, socket directory, archive_command). */
function writeStackConf(options: PostgresServerOptions): void {
  const paths = pgPaths(options.dir);
  const user = postgresOsUser();
  const quote = (v: string): string => `'${v.replace(/'/g, "''")}'`;
  const stackConf = join(paths.data, 'lifeboat-stack.conf');
  writeFileSync(
    stackConf,
    [
      '# rewritten by `lifeboat stack up` at every start',
      `listen_addresses = ${quote(options.host)}`,
      `port = ${options.port}`,
      `unix_socket_directories = ${quote(paths.run)}`,
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
      else reject(new StackFailed(`pg_ctl start failed (exit ${code}): ${output.trim()}; see ${paths.log}`));
    });
  });
  const pid = postmasterPid(paths.data);
  if (!pid) throw new StackFailed(`postgres started but ${paths.data}/postmaster.pid is missing`);
  await waitUntil(() => canConnect(options, 'postgres'), { what: 'postgres', timeoutMs: 60_000, logFile: paths.log });
  return pid;
}

export async function stopPostgres(pgBin: string, dir: string): Promise<void> {
  const paths = pgPaths(dir);
  if (!postmasterPid(paths.data)) return;
  const ctx = asPostgres();
  run(join(pgBin, 'pg_ctl'), ['-D', paths.data, '-m', 'fast', '-w', '-t', '60', 'stop'], { uid: ctx.uid, gid: ctx.gid, env: ctx.env, cwd: paths.root });
}

async function canConnect(options: PostgresServerOptions, database: string): Promise<boolean> {
  const client = new Client({ host: options.host, port: options.port, user: DB_SUPERUSER, password: options.password, database, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Create the sample `corporate_intel` database with realistic data, once. */
export async function ensureSampleDatabase(options: PostgresServerOptions): Promise<{ created: boolean }> {
  const admin = new Client({ host: options.host, port: options.port, user: DB_SUPERUSER, password: options.password, database: 'postgres' });
  await admin.connect();
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [SAMPLE_DATABASE]);
    if (exists.rowCount && exists.rowCount > 0) {
      // A database left half-loaded by an interrupted run has no `embeddings` table yet.
      const db = new Client({ host: options.host, port: options.port, user: DB_SUPERUSER, password: options.password, database: SAMPLE_DATABASE });
      await db.connect();
      try {
        const complete = await db.query("SELECT to_regclass('public.embeddings') IS NOT NULL AS ok");
        if ((complete.rows[0] as { ok: boolean }).ok) return { created: false };
      } finally {
        await db.end();
      }
      await admin.query(`DROP DATABASE ${SAMPLE_DATABASE}`);
    }
    await admin.query(`CREATE DATABASE ${SAMPLE_DATABASE}`);
  } finally {
    await admin.end();
  }
  const db = new Client({ host: options.host, port: options.port, user: DB_SUPERUSER, password: options.password, database: SAMPLE_DATABASE });
  await db.connect();
  try {
    await db.query(SAMPLE_DATA_SQL);
  } finally {
    await db.end();
  }
  return { created: true };
}

