/**
 * Logical dumps. One REPEATABLE READ transaction exports a snapshot; pg_dump runs on that snapshot
 * while the same transaction counts every table's rows and fingerprints a sample of each, so the
 * recorded facts describe exactly what is in the dump. Output goes through writeArtifact.
 */
import { Client } from 'pg';
import type { Config } from '../config/load';
import type { TableFacts } from '../catalog/metadata';
import type { EncryptionKey } from '../crypto/openpgp';
import { spawnTool, ToolExit, killTool } from '../pipeline/child';
import { writeArtifact, type ArtifactFacts } from '../pipeline/artifact';
import { classifyPgError, pgClientConfig } from './connection';
import { classifyToolExit, pgToolEnv, pgToolPath } from './tools';

/** Session settings under which row fingerprints are computed, at backup and at verification. */
export const FINGERPRINT_SETTINGS = [
  "SET TimeZone = 'UTC'",
  "SET DateStyle = 'ISO, YMD'",
  "SET IntervalStyle = 'postgres'",
  'SET extra_float_digits = 1',
  "SET bytea_output = 'hex'",
];

export const SAMPLE_ROWS = 1000;

export interface ServerFacts {
  host: string;
  port: number;
  version: string;
  versionNum: number;
  systemIdentifier?: string;
  walSegmentSize: number;
}

export async function readServerFacts(client: Client, db: Config['db']): Promise<ServerFacts> {
  const { rows } = await client.query<{ version: string; num: string; seg: string }>(
    "SELECT current_setting('server_version') AS version, current_setting('server_version_num') AS num, current_setting('wal_segment_size') AS seg",
  );
  const row = rows[0]!;
  let systemIdentifier: string | undefined;
  try {
    const sys = await client.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()');
    systemIdentifier = sys.rows[0]?.id;
  } catch {
    // pg_control_system() is superuser-only by default; the identifier is informative only.
  }
  return { host: db.host, port: db.port, version: row.version.split(' ')[0]!, versionNum: Number(row.num), systemIdentifier, walSegmentSize: parseSize(row.seg) };
}

function parseSize(text: string): number {
  const m = /^(\d+)\s*(kB|MB|GB)?$/.exec(text.trim());
  if (!m) return 16 * 1024 * 1024;
  const unit = { kB: 1024, MB: 1024 * 1024, GB: 1024 * 1024 * 1024 }[m[2] as 'kB' | 'MB' | 'GB'] ?? 1;
  return Number(m[1]) * unit;
}

const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/** Every ordinary table with its primary-key columns (empty when it has none). */
export async function listTables(client: Client): Promise<{ schema: string; name: string; pk: string[] }[]> {
  const { rows } = await client.query<{ schema: string; name: string; pk: string[] | null }>(`
    SELECT n.nspname AS schema, c.relname AS name,
           (SELECT array_agg(a.attname::text ORDER BY k.ord)
              FROM pg_index i
              CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
              JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
             WHERE i.indrelid = c.oid AND i.indisprimary) AS pk
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
     ORDER BY 1, 2`);
  return rows.map((r) => ({ schema: r.schema, name: r.name, pk: r.pk ?? [] }));
}

/**
 * Row count of every table and an md5 of its first SAMPLE_ROWS rows by primary key. Runs on the
 * caller's client (inside the snapshot transaction when called during a backup).
 */
export async function tableFacts(client: Client): Promise<TableFacts[]> {
  for (const statement of FINGERPRINT_SETTINGS) await client.query(statement);
  const facts: TableFacts[] = [];
  for (const table of await listTables(client)) {
    const rel = `${quoteIdent(table.schema)}.${quoteIdent(table.name)}`;
    const count = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${rel}`);
    const fact: TableFacts = { schema: table.schema, name: table.name, rows: Number(count.rows[0]!.n) };
    if (table.pk.length > 0) {
      const order = table.pk.map(quoteIdent).join(', ');
      const sample = await client.query<{ md5: string | null; n: string }>(
        `SELECT md5(coalesce(string_agg(t::text, E'\\n'), '')) AS md5, count(*) AS n FROM (SELECT * FROM ${rel} ORDER BY ${order} LIMIT ${SAMPLE_ROWS}) t`,
      );
      fact.sampleMd5 = sample.rows[0]!.md5 ?? undefined;
      fact.sampleRows = Number(sample.rows[0]!.n);
    }
    facts.push(fact);
  }
  return facts;
}

export interface DumpOptions {
  db: Config['db'];
  target: string;
  format: 'plain' | 'custom';
  compression: { algorithm: 'zstd' | 'gzip'; level: number };
  encryptionKey?: EncryptionKey;
  onProgress?: (rawBytes: number, writtenBytes: number) => void;
  signal?: AbortSignal;
}

export interface DumpResult extends ArtifactFacts {
  server: ServerFacts;
  snapshot: string;
  tables: TableFacts[];
}

export async function dumpDatabase(options: DumpOptions): Promise<DumpResult> {
  const { db } = options;
  const client = new Client(pgClientConfig(db));
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw classifyPgError(error, db);
  }
  let producer: ReturnType<typeof spawnTool> | undefined;
  try {
    const server = await readServerFacts(client, db);
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const snapshot = (await client.query<{ s: string }>('SELECT pg_export_snapshot() AS s')).rows[0]!.s;
    const args = ['--no-password', `--snapshot=${snapshot}`, options.format === 'plain' ? '--format=plain' : '--format=custom'];
    // Custom format compresses internally; we compress outside, once, with the configured algorithm.
    if (options.format === 'custom') args.push('--compress=0');
    producer = spawnTool(pgToolPath(db, 'pg_dump', Math.floor(server.versionNum / 10000)), args, { env: pgToolEnv(db) });
    // The facts are computed on the same snapshot while pg_dump streams.
    const [artifact, tables] = await Promise.all([
      writeArtifact({ source: producer.child.stdout, producer, target: options.target, compression: options.compression, encryptionKey: options.encryptionKey, onProgress: options.onProgress, signal: options.signal }),
      tableFacts(client),
    ]);
    await client.query('COMMIT');
    return { ...artifact, server, snapshot, tables };
  } catch (error) {
    killTool(producer);
    if (error instanceof ToolExit) throw classifyToolExit(error, db);
    if ((error as { code?: string }).code && typeof (error as { code?: string }).code === 'string' && /^[0-9A-Z]{5}$/.test((error as { code: string }).code)) {
      throw classifyPgError(error, db);
    }
    throw error;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export interface GlobalsOptions {
  db: Config['db'];
  target: string;
  compression: { algorithm: 'zstd' | 'gzip'; level: number };
  encryptionKey?: EncryptionKey;
  serverMajor?: number;
}

/** Roles, tablespaces and their grants (`pg_dumpall --globals-only`). */
export async function dumpGlobals(options: GlobalsOptions): Promise<ArtifactFacts> {
  const { db } = options;
  const producer = spawnTool(pgToolPath(db, 'pg_dumpall', options.serverMajor), ['--globals-only', '--no-password'], { env: pgToolEnv(db, 'postgres') });
  try {
    return await writeArtifact({ source: producer.child.stdout, producer, target: options.target, compression: options.compression, encryptionKey: options.encryptionKey });
  } catch (error) {
    if (error instanceof ToolExit) throw classifyToolExit(error, db);
    throw error;
  }
}
