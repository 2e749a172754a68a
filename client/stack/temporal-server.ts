/**
 * The local stack's Temporal dev server: SQLite persistence in the stack directory (state survives
 * restarts), the Web UI, Lifeboat's search attributes, and namespace retention raised so closed
 * histories stay available for audit replay longer than the dev server's 24 h default.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import { startDaemon, waitUntil } from './processes';

/** Custom search attributes Lifeboat sets on its workflows (Keyword unless stated). */
export const SEARCH_ATTRIBUTES: Record<string, 'Keyword' | 'KeywordList' | 'Int' | 'Datetime' | 'Bool'> = {
  LifeboatKind: 'Keyword',
  LifeboatTier: 'Keyword',
  LifeboatDatabase: 'Keyword',
  LifeboatBucket: 'Keyword',
  LifeboatBackupId: 'Keyword',
  // One entry per bucket, so `LifeboatBuckets = 'embeddings'` filters one bucket (LifeboatBucket,
  // Keyword, keeps the comma-joined names: a registered attribute's type cannot change).
  LifeboatBuckets: 'KeywordList',
};

export const RETENTION_DAYS = 30;

export interface TemporalServerOptions {
  binary: string;
  dir: string;
  host: string;
  port: number;
  uiPort: number;
}

export function temporalPaths(dir: string): { db: string; log: string } {
  return { db: join(dir, 'temporal', 'temporal.db'), log: join(dir, 'logs', 'temporal.log') };
}

export function temporalMarkers(binary: string, dir: string): string[] {
  return [binary, temporalPaths(dir).db];
}

export function startTemporal(options: TemporalServerOptions): number {
  const paths = temporalPaths(options.dir);
  mkdirSync(join(options.dir, 'temporal'), { recursive: true });
  const args = [
    'server', 'start-dev',
    '--ip', options.host,
    '--port', String(options.port),
    '--ui-port', String(options.uiPort),
    '--db-filename', paths.db,
    '--log-level', 'warn',
    ...Object.entries(SEARCH_ATTRIBUTES).flatMap(([name, type]) => ['--search-attribute', `${name}=${type}`]),
  ];
  return startDaemon({ command: options.binary, args, logFile: paths.log, env: { ...process.env, HOME: options.dir }, cwd: options.dir });
}

export async function waitForTemporal(options: TemporalServerOptions, stillRunning: () => boolean): Promise<void> {
  const address = `${options.host}:${options.port}`;
  await waitUntil(
    async () => {
      const connection = await Connection.connect({ address, connectTimeout: 2000 });
      try {
        await connection.workflowService.describeNamespace({ namespace: 'default' });
        return true;
      } finally {
        await connection.close();
      }
    },
    { what: 'temporal dev server', timeoutMs: 120_000, intervalMs: 500, logFile: temporalPaths(options.dir).log, stillRunning },
  );
}

/**
 * Register the search attributes a server started by an older Lifeboat lacks (start-dev registers
 * only those named at its start; the SQLite state outlives it). Idempotent.
 */
export async function addMissingSearchAttributes(options: TemporalServerOptions, namespace = 'default'): Promise<string[]> {
  const connection = await Connection.connect({ address: `${options.host}:${options.port}` });
  try {
    const listed = await connection.operatorService.listSearchAttributes({ namespace });
    const missing = Object.entries(SEARCH_ATTRIBUTES).filter(([name]) => !(name in (listed.customAttributes ?? {})));
    if (missing.length === 0) return [];
    const type = temporal.api.enums.v1.IndexedValueType;
    const types = { Keyword: type.INDEXED_VALUE_TYPE_KEYWORD, KeywordList: type.INDEXED_VALUE_TYPE_KEYWORD_LIST, Int: type.INDEXED_VALUE_TYPE_INT, Datetime: type.INDEXED_VALUE_TYPE_DATETIME, Bool: type.INDEXED_VALUE_TYPE_BOOL };
    await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: Object.fromEntries(missing.map(([name, t]) => [name, types[t]])) });
    return missing.map(([name]) => name);
  } finally {
    await connection.close();
  }
}

/** Raise the namespace's retention (idempotent). */
export async function raiseRetention(options: TemporalServerOptions, namespace = 'default'): Promise<void> {
  const connection = await Connection.connect({ address: `${options.host}:${options.port}` });
  try {
    const seconds = RETENTION_DAYS * 86_400;
    const current = await connection.workflowService.describeNamespace({ namespace });
    if (Number(current.config?.workflowExecutionRetentionTtl?.seconds ?? 0) === seconds) return;
    await connection.workflowService.updateNamespace({
      namespace,
      config: { workflowExecutionRetentionTtl: msToTs(`${RETENTION_DAYS} days`) },
    });
  } finally {
    await connection.close();
  }
}
