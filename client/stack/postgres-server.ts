/**
 * The local stack's PostgreSQL 15 cluster: creating and running a cluster is lib/servers/postgres.ts;
 * the stack's sample `corporate_intel` database is here.
 */
import { Client } from 'pg';
import { DB_SUPERUSER, type PostgresServerOptions } from '../../lib/servers/postgres';
import { SAMPLE_DATA_SQL } from './sample-data';

export {
  DB_SUPERUSER, initCluster, pgPaths, postmasterPid, startPostgres, stopPostgres, type PostgresServerOptions,
} from '../../lib/servers/postgres';

export const SAMPLE_DATABASE = 'corporate_intel';

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

