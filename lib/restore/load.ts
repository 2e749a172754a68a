/**
 * Loading a logical backup into a NEW database: the verified file streams through decryption and
 * decompression into psql (plain SQL, one transaction) or pg_restore (custom format). A database
 * that fails to load completely is dropped again; an existing database is never written into.
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { PrivateKey } from 'openpgp';
import { Client } from 'pg';
import type { LogicalMetadata, TableFacts } from '../catalog/metadata';
import type { Config } from '../config/load';
import { createDecryptStream } from '../crypto/openpgp';
import { InputInvalid } from '../errors';
import { spawnChain, spawnTool, killTool, ToolExit, type ToolProcess } from '../pipeline/child';
import { createDecompressStage } from '../pipeline/compress';
import { classifyPgError, pgClientConfig } from '../postgres/connection';
import { factsPsqlScript, parseFactsOutput } from '../postgres/facts';
import { classifyToolExit, pgToolEnv, pgToolPath } from '../postgres/tools';

export const DATABASE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export function checkDatabaseName(field: string, name: string): void {
  if (!DATABASE_NAME.test(name)) {
    throw new InputInvalid(field, `"${name}" is not a plain database name`, 'use lower-case letters, digits and underscores, at most 63 characters');
  }
}

/**
 * A PostgreSQL server to restore into other than the configured one (a new cluster of a DR run):
 * an address only. The worker connects with its own DB_USER / PGPASSWORD (the new cluster is
 * created with the production role and password), so no secret is ever in a workflow input.
 */
export interface PostgresTarget {
  host: string;
  port: number;
}

/** The connection settings for `target`: the configured server's, with the target's address. */
export function targetDb(db: Config['db'], target: PostgresTarget | undefined): Config['db'] {
  return target ? { ...db, host: target.host, port: target.port } : db;
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

export interface LoadResult {
  seconds: number;
  bytes: number;
  /** Facts of the restored tables, read inside the loading transaction (plain dumps with primary keys in their metadata). */
  tables?: TableFacts[];
}

export async function loadIntoNewDatabase(options: LoadOptions): Promise<LoadResult> {
  const { db, metadata, database } = options;
  checkDatabaseName('database', database);
  if (metadata.encryption.enabled && !options.privateKeys) throw new Error('encrypted artifact but no private key loaded');
  if (await databaseExists(db, database)) {
    throw new InputInvalid('database', `"${database}" already exists; a restore never writes into an existing database`, 'choose another target name, or drop that database first');
  }
  await adminQuery(db, `CREATE DATABASE "${database}"`);
  const started = Date.now();
  const total = (await stat(options.file)).size;
  const serverMajor = Math.floor((metadata.server?.versionNum ?? 150000) / 10000);
  // Plain dumps: a second `-f` in the same transaction records the facts of the loaded tables
  // before commit (see factsPsqlScript); the script and its output hold counts and md5s only.
  const work = metadata.dumpFormat === 'plain' ? await mkdtemp(join(tmpdir(), 'lifeboat-restore-')) : undefined;
  const factsOut = work ? join(work, 'facts.jsonl') : undefined;
  const script = work && factsOut ? factsPsqlScript(metadata.tables, factsOut) : undefined;
  if (work && script) await writeFile(join(work, 'facts.sql'), script);
  const [command, args] =
    metadata.dumpFormat === 'plain'
      ? [pgToolPath(db, 'psql', serverMajor), ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '--single-transaction', '-o', '/dev/null', '-d', database, '-f', '-', ...(script ? ['-f', join(work!, 'facts.sql')] : [])]]
      : [pgToolPath(db, 'pg_restore', serverMajor), ['--single-transaction', '--exit-on-error', '--no-password', '-d', database]];
  const env = pgToolEnv(db, database);
  // zstd: the decompressor's stdout is the loader's stdin (spawnChain: a kernel pipe), so the
  // decompressed dump (about 3.5x the file) never passes through node; node only reads and decrypts
  // the file. gzip decompresses in-process, into the loader's stdin.
  let unzstd: ToolProcess | undefined;
  let loader: ToolProcess;
  const stages: NodeJS.ReadWriteStream[] = [];
  if (metadata.encryption.enabled) stages.push(createDecryptStream(options.privateKeys!));
  if (metadata.compression.algorithm === 'zstd') {
    [unzstd, loader] = spawnChain([{ command: 'zstd', args: ['-d', '-q', '-c', '--no-progress'] }, { command, args, env }], { stdin: 'pipe' }) as [ToolProcess, ToolProcess];
  } else {
    loader = spawnTool({ command, args, env }, { stdin: 'pipe' });
    stages.push(createDecompressStage(metadata.compression.algorithm).stream);
  }
  // The loader's own stdout (psql -o /dev/null, pg_restore -d) says nothing we keep: drain it.
  loader.output!.resume();
  const sink = unzstd ? unzstd.child.stdin! : loader.child.stdin!;
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
  const abort = (): void => {
    killTool(loader);
    killTool(unzstd);
  };
  options.signal?.addEventListener('abort', abort);
  try {
    await Promise.all([pipeline([createReadStream(options.file, { highWaterMark: 1 << 20 }), counter, ...stages, sink]), unzstd?.done, loader.done]);
    options.onProgress?.(progressOf('loaded', total, total, started));
    const tables = script && factsOut ? parseFactsOutput(await readFile(factsOut, 'utf8')) : undefined;
    return { seconds: (Date.now() - started) / 1000, bytes: total, tables };
  } catch (error) {
    killTool(loader);
    killTool(unzstd);
    // A broken pipe means the loader stopped reading first: its own failure (psql's SQL error) is the cause.
    let cause = error;
    if (brokenPipe(error)) {
      const failure = await loader.done.then(() => undefined, (e: unknown) => e);
      if (failure instanceof ToolExit && failure.code !== null) cause = failure;
    }
    await dropDatabase(db, database).catch(() => undefined);
    if (cause instanceof ToolExit) throw classifyToolExit(cause, { ...db, name: database });
    throw cause;
  } finally {
    options.signal?.removeEventListener('abort', abort);
    if (work) await rm(work, { recursive: true, force: true });
  }
}

/** Writing into a reader that has gone: node's EPIPE, or a tool killed by SIGPIPE / reporting it. */
function brokenPipe(error: unknown): boolean {
  if ((error as { code?: string }).code === 'EPIPE') return true;
  return error instanceof ToolExit && (error.signal === 'SIGPIPE' || /broken pipe/i.test(error.stderrTail));
}
