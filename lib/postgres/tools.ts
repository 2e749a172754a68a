/**
 * PostgreSQL's own client tools (pg_dump, pg_dumpall, pg_basebackup, psql, pg_restore): where they
 * are, how they are called (connection in the environment, password only in PGPASSWORD, never in
 * argv) and what their failures mean (retryable or not).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/load';
import { AuthenticationFailed, InputInvalid, PrerequisiteMissing, ServiceUnavailable, ToolFailed, type LifeboatError } from '../errors';
import type { ToolExit } from '../pipeline/child';

export type PgTool = 'pg_dump' | 'pg_dumpall' | 'pg_basebackup' | 'psql' | 'pg_restore' | 'pg_ctl' | 'initdb' | 'pg_controldata' | 'pg_waldump' | 'postgres';

/**
 * Path of a tool: PG_BIN_DIR, else the Debian directory of the server's major version (a pg_dump
 * older than the server refuses to run), else PATH.
 */
export function pgToolPath(db: Config['db'], tool: PgTool, serverMajor?: number): string {
  if (db.binDir) {
    const path = join(db.binDir, tool);
    if (!existsSync(path)) throw new PrerequisiteMissing(`${tool} not found in PG_BIN_DIR=${db.binDir}`, 'set PG_BIN_DIR to the bin directory of the server\'s major version');
    return path;
  }
  for (const major of serverMajor ? [serverMajor] : [17, 16, 15]) {
    const path = `/usr/lib/postgresql/${major}/bin/${tool}`;
    if (existsSync(path)) return path;
  }
  return tool;
}

/** Environment for a tool: libpq variables; PGPASSWORD only here, never on a command line. */
export function pgToolEnv(db: Config['db'], database = db.name, tool?: PgTool): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LANG: 'C.UTF-8',
    PGHOST: db.host,
    PGPORT: String(db.port),
    PGUSER: db.user,
    PGDATABASE: database,
    // Names the connection in pg_stat_activity (`lifeboat pg_dump`).
    PGAPPNAME: tool ? `lifeboat ${tool}` : 'lifeboat',
    PGCONNECT_TIMEOUT: '10',
  };
  if (db.password !== undefined) env.PGPASSWORD = db.password;
  else if (process.env.PGPASSFILE) env.PGPASSFILE = process.env.PGPASSFILE;
  return env;
}

/** Turn a tool's failure into a classified error that names the cause. */
export function classifyToolExit(exit: ToolExit, db: Config['db']): LifeboatError {
  const text = exit.stderrTail;
  const where = `${db.host}:${db.port}`;
  if (/password authentication failed|no password supplied|authentication failed|no pg_hba\.conf entry|role .* does not exist/i.test(text)) {
    return new AuthenticationFailed(`${exit.tool}: postgresql at ${where} rejected user "${db.user}"`, 'check DB_USER and PGPASSWORD, and pg_hba.conf (base backups need a `replication` entry)');
  }
  if (/database ".*" does not exist/i.test(text)) {
    return new InputInvalid('DB_NAME', `database "${db.name}" does not exist on ${where}`, 'set DB_NAME to an existing database');
  }
  if (/server version mismatch|aborting because of server version mismatch/i.test(text)) {
    return new PrerequisiteMissing(`${exit.tool} is older than the server at ${where}`, 'install the client tools of the server\'s major version or set PG_BIN_DIR');
  }
  if (/must be superuser|permission denied|must have REPLICATION|not permitted to start WAL sender/i.test(text)) {
    return new AuthenticationFailed(`${exit.tool}: ${lastLine(text)}`, 'grant the needed privilege to DB_USER (pg_read_all_data for dumps, REPLICATION for base backups)');
  }
  if (exit.code === null && exit.signal === null) {
    return new PrerequisiteMissing(`${exit.tool} could not be started: ${text}`, 'install the PostgreSQL client tools or set PG_BIN_DIR');
  }
  if (/could not connect|Connection refused|connection to server .* failed|timeout expired|the database system is (starting up|shutting down)|server closed the connection/i.test(text)) {
    return new ServiceUnavailable(`${exit.tool}: postgresql at ${where} is unavailable: ${lastLine(text)}`, 'check that the server is running and DB_HOST/DB_PORT are right');
  }
  return new ToolFailed(exit.message, false);
}

function lastLine(text: string): string {
  return text.trim().split('\n').pop()?.replace(/^\S+: (error: )?/, '') ?? '';
}
