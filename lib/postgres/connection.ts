/**
 * Connections to the PostgreSQL server being backed up, and classification of its errors:
 * a refused connection is transient (retry), a refused password or a missing database is not.
 */
import { Client, type ClientConfig } from 'pg';
import type { Config } from '../config/load';
import { AuthenticationFailed, InputInvalid, ServiceUnavailable, type LifeboatError } from '../errors';

export function pgClientConfig(db: Config['db'], database = db.name): ClientConfig {
  return { host: db.host, port: db.port, user: db.user, password: db.password, database, connectionTimeoutMillis: 10_000, application_name: 'lifeboat' };
}

/**
 * A backend notices a client that has gone (a killed worker, a killed pg_dump) only when it next
 * talks to it; one waiting on a lock would hold its snapshot for as long as the lock. PostgreSQL 14+
 * checks the socket every client_connection_check_interval while a query runs: set it for Lifeboat's
 * own long connections, so their backends end within seconds of their client.
 */
export const CLIENT_CHECK_INTERVAL_MS = 2000;

/** `PGOPTIONS` for a libpq tool on a server that has the setting (14+); empty otherwise. */
export function clientCheckEnv(serverVersionNum: number): NodeJS.ProcessEnv {
  return serverVersionNum >= 140000 ? { PGOPTIONS: `-c client_connection_check_interval=${CLIENT_CHECK_INTERVAL_MS}` } : {};
}

export function classifyPgError(error: unknown, db: Config['db']): LifeboatError {
  const e = error as { code?: string; message?: string };
  const where = `${db.host}:${db.port}`;
  switch (e.code) {
    case '28P01':
    case '28000':
      return new AuthenticationFailed(`postgresql at ${where} rejected user "${db.user}" (${e.code})`, 'check DB_USER and PGPASSWORD, and pg_hba.conf on the server');
    case '3D000':
      return new InputInvalid('DB_NAME', `database "${db.name}" does not exist on ${where}`, 'set DB_NAME to an existing database');
    default:
      return new ServiceUnavailable(`postgresql at ${where} is unavailable: ${e.code ?? ''} ${e.message ?? String(error)}`.replace(/\s+/g, ' ').trim(), 'check that the server is running and DB_HOST/DB_PORT are right');
  }
}

/** Run `fn` with a connected client; errors are classified, the connection always closed. */
export async function withPg<T>(db: Config['db'], fn: (client: Client) => Promise<T>, database?: string): Promise<T> {
  const client = new Client(pgClientConfig(db, database));
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw classifyPgError(error, db);
  }
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export interface PostgresServerInfo {
  host: string;
  port: number;
  database: string;
  version: string;
  serverVersionNum: number;
  databaseSizeBytes: number;
  inRecovery: boolean;
}

export async function postgresServerInfo(db: Config['db']): Promise<PostgresServerInfo> {
  return withPg(db, async (client) => {
    const { rows } = await client.query<{ version: string; num: string; size: string; recovery: boolean }>(
      "SELECT current_setting('server_version') AS version, current_setting('server_version_num') AS num, pg_database_size(current_database()) AS size, pg_is_in_recovery() AS recovery",
    );
    const row = rows[0]!;
    return { host: db.host, port: db.port, database: db.name, version: row.version, serverVersionNum: Number(row.num), databaseSizeBytes: Number(row.size), inRecovery: row.recovery };
  });
}
