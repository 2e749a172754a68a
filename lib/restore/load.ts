/**
 * Loading a logical backup into a NEW database: the verified file streams through decryption and
 * decompression into psql (plain SQL, one transaction) or pg_restore (custom format). A database
 * that fails to load completely is dropped again; an existing database is never written into.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Transform } from 'node:stream';
import type { PrivateKey } from 'openpgp';
import { Client } from 'pg';
import type { LogicalMetadata } from '../catalog/metadata';
import type { Config } from '../config/load';
import { InputInvalid } from '../errors';
import { spawnTool, killTool, ToolExit } from '../pipeline/child';
import { decodeStream } from '../pipeline/codec';
import { classifyPgError, pgClientConfig } from '../postgres/connection';
import { classifyToolExit, pgToolEnv, pgToolPath } from '../postgres/tools';

export const DATABASE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export function checkDatabaseName(field: string, name: string): void {
  if (!DATABASE_NAME.test(name)) {
    throw new InputInvalid(field, `"${name}" is not a plain database name`, 'use lower-case letters, digits and underscores, at most 63 characters');
  }
}

export interface RestoreProgress {
  stage: string;
  bytesDone: number;
  bytesTotal: number;
  percent: number;
  etaSeconds?: number;
  bytesPerSecond?: number;
}

export function progressOf(stage: string, bytesDone: number, bytesTotal: number, startedMs: number, now = Date.now()): RestoreProgress {
  const elapsed = (now - startedMs) / 1000;
  const rate = elapsed > 0.5 ? bytesDone / elapsed : undefined;
  return {
    stage,
    bytesDone,
    bytesTotal,
    percent: bytesTotal > 0 ? Math.min(100, Math.round((bytesDone / bytesTotal) * 1000) / 10) : 0,
    bytesPerSecond: rate ? Math.round(rate) : undefined,
    etaSeconds: rate && rate > 0 ? Math.round((bytesTotal - bytesDone) / rate) : undefined,
  };
}

async function adminQuery(db: Config['db'], sql: string, params: unknown[] = []): Promise<{ rowCount: number | null; rows: unknown[] }> {
  const client = new Client(pgClientConfig(db, 'postgres'));
  try {
    await client.connect();
    return await client.query(sql, params);
  } catch (error) {
    if ((error as { code?: string }).code && /^[0-9A-Z]{5}$/.test((error as { code: string }).code) && !/^(42|23)/.test((error as { code: string }).code)) throw classifyPgError(error, db);
    throw error;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function databaseExists(db: Config['db'], name: string): Promise<boolean> {
  const result = await adminQuery(db, 'SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  return (result.rowCount ?? 0) > 0;
}

export async function dropDatabase(db: Config['db'], name: string): Promise<void> {
  checkDatabaseName('database', name);
  await adminQuery(db, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
}

export interface LoadOptions {
  db: Config['db'];
  file: string;
  metadata: LogicalMetadata;
  database: string;
  privateKeys: PrivateKey[] | undefined;
  onProgress?: (p: RestoreProgress) => void;
  signal?: AbortSignal;
}

export async function loadIntoNewDatabase(options: LoadOptions): Promise<{ seconds: number; bytes: number }> {
  const { db, metadata, database } = options;
  checkDatabaseName('database', database);
  if (await databaseExists(db, database)) {
    throw new InputInvalid('database', `"${database}" already exists; a restore never writes into an existing database`, 'choose another target name, or drop that database first');
  }
  await adminQuery(db, `CREATE DATABASE "${database}"`);
  const started = Date.now();
  const total = (await stat(options.file)).size;
  const serverMajor = Math.floor((metadata.server?.versionNum ?? 150000) / 10000);
  const loader =
    metadata.dumpFormat === 'plain'
      ? spawnTool(pgToolPath(db, 'psql', serverMajor), ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '--single-transaction', '-o', '/dev/null', '-d', database], { env: pgToolEnv(db, database), stdin: 'pipe' })
      : spawnTool(pgToolPath(db, 'pg_restore', serverMajor), ['--single-transaction', '--exit-on-error', '--no-password', '-d', database], { env: pgToolEnv(db, database), stdin: 'pipe' });
  let done = 0;
  let lastReport = 0;
  const counter = new Transform({
    highWaterMark: 1 << 20,
    transform(chunk: Buffer, _enc, cb) {
      done += chunk.length;
      const now = Date.now();
      if (now - lastReport > 500) {
        lastReport = now;
        options.onProgress?.(progressOf('loading', done, total, started, now));
      }
      cb(null, chunk);
    },
  });
  const abort = (): void => killTool(loader);
  options.signal?.addEventListener('abort', abort);
  try {
    await Promise.all([
      decodeStream(createReadStream(options.file, { highWaterMark: 1 << 20 }).pipe(counter), { compression: metadata.compression.algorithm, encrypted: metadata.encryption.enabled }, options.privateKeys, loader.child.stdin!),
      loader.done,
    ]);
    options.onProgress?.(progressOf('loaded', total, total, started));
    return { seconds: (Date.now() - started) / 1000, bytes: total };
  } catch (error) {
    killTool(loader);
    await dropDatabase(db, database).catch(() => undefined);
    if (error instanceof ToolExit) throw classifyToolExit(error, { ...db, name: database });
    throw error;
  } finally {
    options.signal?.removeEventListener('abort', abort);
  }
}
