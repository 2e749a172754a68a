/**
 * Logical dumps. One REPEATABLE READ transaction exports a snapshot; pg_dump runs on that snapshot
 * while the same transaction counts every table's rows and fingerprints a sample of each, so the
 * recorded facts describe exactly what is in the dump. Output goes through writeArtifact.
 */
import { Client } from 'pg';
import type { Config } from '../config/load';
import type { TableFacts } from '../catalog/metadata';
import type { EncryptionKey } from '../crypto/openpgp';
import { ToolExit, type SpawnOptions } from '../pipeline/child';
import { endsWithin, writeArtifact, type ArtifactFacts, type ContentExpectation } from '../pipeline/artifact';
import { CLIENT_CHECK_INTERVAL_MS, classifyPgError, clientCheckEnv, pgClientConfig } from './connection';
import { tableFacts } from './facts';
import { classifyToolExit, pgToolEnv, pgToolPath } from './tools';

export { FINGERPRINT_SETTINGS, SAMPLE_ROWS, listTables, tableFacts } from './facts';



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

export interface DumpOptions {
  db: Config['db'];
  target: string;
  format: 'plain' | 'custom';
  compression: { algorithm: 'zstd' | 'gzip'; level: number };
  encryptionKey?: EncryptionKey;
  onProgress?: (rawBytes: number, writtenBytes: number) => void;
  onSpawn?: SpawnOptions['onSpawn'];
  signal?: AbortSignal;
}

/** What pg_dump always starts with: the plain format's comment header, the custom format's magic. */
export function dumpExpectation(format: 'plain' | 'custom'): ContentExpectation {
  return format === 'plain'
    ? {
        what: 'a plain pg_dump', minBytes: 64, magic: { offset: 0, bytes: Buffer.from('--\n-- PostgreSQL database dump\n--\n') },
        ending: { what: 'a finished plain pg_dump', test: endsWithin('-- PostgreSQL database dump complete') },
      }
    : // The custom format has no trailer (written to a pipe, its table of contents comes first).
      { what: 'a custom-format pg_dump', minBytes: 64, magic: { offset: 0, bytes: Buffer.from('PGDMP') } };
}

/** pg_dumpall --globals-only always writes its header and the SET preamble, even with no roles. */
export const GLOBALS_EXPECTATION: ContentExpectation = {
  what: 'pg_dumpall --globals-only output',
  minBytes: 64,
  magic: { offset: 0, bytes: Buffer.from('--\n-- PostgreSQL database cluster dump\n--\n') },
  ending: { what: 'a finished pg_dumpall', test: endsWithin('-- PostgreSQL database cluster dump complete') },
};

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
  try {
    const server = await readServerFacts(client, db);
    if (server.versionNum >= 140000) await client.query(`SET client_connection_check_interval = ${CLIENT_CHECK_INTERVAL_MS}`);
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const snapshot = (await client.query<{ s: string }>('SELECT pg_export_snapshot() AS s')).rows[0]!.s;
    const args = ['--no-password', `--snapshot=${snapshot}`, options.format === 'plain' ? '--format=plain' : '--format=custom'];
    // Custom format compresses internally; we compress outside, once, with the configured algorithm.
    if (options.format === 'custom') args.push('--compress=0');
    const producer = { command: pgToolPath(db, 'pg_dump', Math.floor(server.versionNum / 10000)), args, env: { ...pgToolEnv(db, db.name, 'pg_dump'), ...clientCheckEnv(server.versionNum) } };
    // The facts are computed on the same snapshot while pg_dump streams.
    const [artifact, tables] = await Promise.all([
      writeArtifact({
        source: { tool: producer }, target: options.target, compression: options.compression, encryptionKey: options.encryptionKey, expect: dumpExpectation(options.format),
        onProgress: options.onProgress, onSpawn: options.onSpawn, signal: options.signal,
      }),
      tableFacts(client),
    ]);
    await client.query('COMMIT');
    return { ...artifact, server, snapshot, tables };
  } catch (error) {
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
  onSpawn?: SpawnOptions['onSpawn'];
  /** Test hook (see writeArtifact). */
  beforeConsume?: () => Promise<void>;
}

/** Roles, tablespaces and their grants (`pg_dumpall --globals-only`). */
export async function dumpGlobals(options: GlobalsOptions): Promise<ArtifactFacts> {
  const { db } = options;
  const producer = { command: pgToolPath(db, 'pg_dumpall', options.serverMajor), args: ['--globals-only', '--no-password'], env: pgToolEnv(db, 'postgres', 'pg_dumpall') };
  try {
    return await writeArtifact({
      source: { tool: producer }, target: options.target, compression: options.compression, encryptionKey: options.encryptionKey, expect: GLOBALS_EXPECTATION,
      onSpawn: options.onSpawn, beforeConsume: options.beforeConsume,
    });
  } catch (error) {
    if (error instanceof ToolExit) throw classifyToolExit(error, db);
    throw error;
  }
}
