/**
 * Restore and verification activities (backup host). Each does one thing; the workflows
 * restoreDatabase and verifyBackups put them in runbook order.
 *
 *  findBackup            name/path/key -> the backup and where its copies are (refuses bad input)
 *  fetchBackup           a local copy whose sha256 matches the metadata (download if needed)
 *  restoreBackup         decrypt + decompress + load into a NEW database, progress in the heartbeat details
 *  checkRestoredDatabase tables, row counts, row fingerprints against the metadata
 *  dropVerifyDatabase    drop a temporary `lifeboat_verify_*` database (never anything else)
 *  dropStagedDatabase    drop the staged copy of a replace restore that did not swap (never production or a kept copy)
 *  replaceDatabase       swap a checked restored database in under the production name
 * The verification activities (verifyStoredBackup, recordVerification, ...) are in ./verify.
 */
import { Context } from '@temporalio/activity';
import { Client } from 'pg';
import type { LogicalMetadata, TableFacts } from '../lib/catalog/metadata';
import type { Deps } from '../lib/deps';
import { InputInvalid, OperationRefused } from '../lib/errors';
import { pgClientConfig } from '../lib/postgres/connection';
import { compareDatabase, compareTables, type ComparisonResult } from '../lib/restore/compare';
import { ensureLocalCopy, type CopySource } from '../lib/restore/fetch';
import { checkDatabaseName, databaseExists, dropDatabase, loadIntoNewDatabase, targetDb, type LoadResult, type PostgresTarget, type RestoreProgress } from '../lib/restore/load';
import { locateBackup } from '../lib/restore/locate';
import { stagedDatabaseProblem } from '../lib/restore/staged-name';
import type { S3Store } from '../lib/storage/s3-store';
import { withHeartbeats } from './heartbeat';

export const VERIFY_DATABASE_PREFIX = 'lifeboat_verify_';

export interface FoundBackup {
  key: string;
  kind: 'logical' | 'globals' | 'base' | 'wal' | 'config';
  tier?: string;
  database?: string;
  finishedAt: string;
  bytes: number;
  fingerprint?: string;
  local: boolean;
  remote: boolean;
  /** A dump's globals artifact from the same run (roles, tablespaces), when its metadata names one. */
  globalsKey?: string;
}

export function createRestoreActivities({ config, logger, stores, keys: keyRing }: Pick<Deps, 'config' | 'logger' | 'stores' | 'keys'>) {
  const { local } = stores;
  const remote = (): S3Store | undefined => stores.remote;
  const privateKeys = async () => (config.encryption.enabled ? keyRing.privateKeys() : undefined);
  const logicalMetadata = async (key: string): Promise<LogicalMetadata> => {
    const found = await locateBackup(key, local, remote());
    if (found.metadata.kind !== 'logical') throw new InputInvalid('backup', `${key} is a ${found.metadata.kind} backup, not a database dump`, found.metadata.kind === 'base' ? 'restore base backups with `lifeboat restore --pitr TIME`' : undefined);
    return found.metadata;
  };

  return {
    async findBackup(input: { backup: string }): Promise<FoundBackup> {
      const found = await locateBackup(input.backup, local, remote());
      const m = found.metadata;
      return {
        key: found.key,
        kind: m.kind,
        tier: 'tier' in m ? m.tier : undefined,
        database: m.kind === 'logical' ? m.database : undefined,
        finishedAt: m.finishedAt,
        bytes: m.bytes,
        fingerprint: m.encryption.fingerprint,
        local: found.local,
        remote: found.remote,
        ...(m.kind === 'logical' && m.globalsKey ? { globalsKey: m.globalsKey } : {}),
      };
    },

    /** `source`: only the local copy, only the off-site copy, or local first then off-site (default `auto`). */
    async fetchBackup(input: { key: string; source?: CopySource }): Promise<{ path: string; source: 'local' | 'remote'; localProblem?: string }> {
      const metadata = await logicalMetadata(input.key);
      const started = Date.now();
      // Progress is in the heartbeat details (the CLI reads them from the pending activity).
      return withHeartbeats<{ bytes: number } & Partial<RestoreProgress>, Awaited<ReturnType<typeof ensureLocalCopy>>>({ bytes: 0 }, (beats) =>
        ensureLocalCopy(config.backupRoot, metadata, remote(), (n, total) => {
          beats.update({ bytes: n, stage: 'checking', bytesDone: n, bytesTotal: total, percent: Math.round((n / total) * 1000) / 10, bytesPerSecond: Math.round(n / Math.max(0.001, (Date.now() - started) / 1000)) });
        }, input.source ?? 'auto'),
      );
    },

    /** `target`: another PostgreSQL server (address only; the worker's DB_USER / PGPASSWORD); default the configured one. */
    async restoreBackup(input: { key: string; path: string; database: string; target?: PostgresTarget }): Promise<{ database: string } & LoadResult> {
      const metadata = await logicalMetadata(input.key);
      const keys = await privateKeys();
      const result = await withHeartbeats<RestoreProgress | undefined, LoadResult>(undefined, (beats) =>
        loadIntoNewDatabase({
          db: targetDb(config.db, input.target),
          file: input.path,
          metadata,
          database: input.database,
          privateKeys: keys,
          signal: Context.current().cancellationSignal,
          // Progress is in the heartbeat details (the CLI reads them from the pending activity).
          onProgress: (p) => beats.update(p),
        }),
      );
      logger.info({ key: input.key, database: input.database, ...(input.target ? { target: `${input.target.host}:${input.target.port}` } : {}), seconds: result.seconds }, 'backup restored');
      return { database: input.database, ...result };
    },

    /** Compare with the metadata: the facts read during the load when given, else read now. */
    async checkRestoredDatabase(input: { key: string; database: string; tables?: TableFacts[]; target?: PostgresTarget }): Promise<ComparisonResult> {
      const metadata = await logicalMetadata(input.key);
      return input.tables ? compareTables(metadata.tables, input.tables) : compareDatabase(targetDb(config.db, input.target), input.database, metadata.tables);
    },

    async dropVerifyDatabase(input: { database: string; target?: PostgresTarget }): Promise<void> {
      if (!input.database.startsWith(VERIFY_DATABASE_PREFIX)) throw new OperationRefused(`refusing to drop "${input.database}": only ${VERIFY_DATABASE_PREFIX}* databases are dropped`);
      await dropDatabase(targetDb(config.db, input.target), input.database);
    },

    /**
     * Cleanup of a production-replace restore that failed or was cancelled before the swap: drop its
     * staged `<production>_restore_<stamp>_<run>` database if it exists. Refuses any other name, so
     * production and the kept `_pre_restore_` copies are never dropped. Idempotent.
     */
    async dropStagedDatabase(input: { database: string }): Promise<{ dropped: boolean }> {
      checkDatabaseName('database', input.database);
      const problem = stagedDatabaseProblem(input.database, config.db.name);
      if (problem) throw new OperationRefused(`refusing to drop ${problem}`);
      if (!(await databaseExists(config.db, input.database))) return { dropped: false };
      await dropDatabase(config.db, input.database);
      logger.info({ database: input.database }, 'staged restore database dropped');
      return { dropped: true };
    },

    /**
     * Put a restored, checked database in place of production. Production is kept under `keepAs`,
     * never dropped. Connections to production are closed first; the two renames are one transaction.
     */
    async replaceDatabase(input: { restored: string; keepAs: string }): Promise<{ production: string; keptAs: string }> {
      const production = config.db.name;
      checkDatabaseName('restored', input.restored);
      checkDatabaseName('keepAs', input.keepAs);
      const restoredExists = await databaseExists(config.db, input.restored);
      if (await databaseExists(config.db, input.keepAs)) {
        // An earlier attempt already swapped: production is the restored copy now.
        if (!restoredExists) return { production, keptAs: input.keepAs };
        throw new OperationRefused(`"${input.keepAs}" already exists; will not overwrite it`);
      }
      if (!restoredExists) throw new InputInvalid('restored', `database "${input.restored}" does not exist`);
      const client = new Client(pgClientConfig(config.db, 'postgres'));
      await client.connect();
      try {
        await client.query(`ALTER DATABASE "${production}" ALLOW_CONNECTIONS false`);
        await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [production]);
        await client.query('BEGIN');
        await client.query(`ALTER DATABASE "${production}" RENAME TO "${input.keepAs}"`);
        await client.query(`ALTER DATABASE "${input.restored}" RENAME TO "${production}"`);
        await client.query('COMMIT');
        await client.query(`ALTER DATABASE "${input.keepAs}" ALLOW_CONNECTIONS true`);
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        await client.query(`ALTER DATABASE "${production}" ALLOW_CONNECTIONS true`).catch(() => undefined);
        throw error;
      } finally {
        await client.end();
      }
      logger.warn({ production, keptAs: input.keepAs }, 'production database replaced by a restored copy');
      return { production, keptAs: input.keepAs };
    },
  };
}

/** The last verification recorded for a key (kept here for the callers that import it from here). */
export { readVerification } from '../lib/verify/record';
