/**
 * Point-in-time recovery activities (all on the backup host's queue: they read BACKUP_ROOT and build
 * the cluster under RESTORE_DATA_ROOT there). Each carries out one step of the plan lib/pitr/plan.ts
 * makes; inputs and results name things and never hold a secret. What is archived (base backups,
 * WAL, locally and off-site) comes from the catalog (lib/catalog).
 *
 *  planPointInTimeRecovery  read-only: parse the target, choose the base, check the WAL, check the port
 *  prepareRecoveryDataDir   new data directory: verified base extracted as postgres, S3-only WAL fetched,
 *                           recovery settings and recovery.signal written
 *  startRecoveryCluster     pg_ctl start (detached), heartbeat until the server has promoted at the target
 *  verifyRecoveredCluster   connect, list databases and table row counts, check identity and position
 */
import { Context } from '@temporalio/activity';
import { createServer } from 'node:net';
import { relative, resolve, sep } from 'node:path';
import { walArchiveDir } from '../lib/catalog/paths';
import type { Deps } from '../lib/deps';
import { BackupNotFound, ChecksumMismatch, InputInvalid } from '../lib/errors';
import { inspectCluster, postmasterPid, startCluster, waitForRecovery, type DatabaseContents, type RecoveryProgress } from '../lib/pitr/cluster';
import { planRecovery } from '../lib/pitr/plan-recovery';
import { discardFailedRun, listRecoveredClusters, removeRecoveredCluster, type RecoveredCluster } from '../lib/pitr/recovered-clusters';
import { expandRun, segmentRuns, type SegmentRun } from '../lib/pitr/segments';
import { parseTargetTime, type PitrTarget } from '../lib/pitr/target-time';
import {
  clusterOwner, configureRecovery, createRecoveryDirs, extractBaseBackup, findLifeboatBin, recoveryPaths, removeRecoveryDir, restoreCommand, runDirOf, writeFetchedWal, type RecoveryPaths,
} from '../lib/pitr/recovery-dir';
import { describeStop } from '../lib/pitr/recovery-log';
import { parseLsn } from '../lib/postgres/basebackup';
import { ensureLocalCopy, type CopySource } from '../lib/restore/fetch';
import { locateBackup } from '../lib/restore/locate';
import { fetchWalRemote } from '../lib/wal/remote';
import { withHeartbeats } from './heartbeat';

/** What the workflow carries from step to step: facts and names only. */
export interface PitrPlanSummary {
  target: PitrTarget;
  base: {
    key: string;
    finishedAt: string;
    startLsn: string;
    stopLsn: string;
    startWal: string;
    stopWal: string;
    timeline: number;
    bytes: number;
    /** Where the base backup is: a local copy, or only on S3 (downloaded and verified while preparing). */
    copies: ('local' | 'remote')[];
    serverMajor?: number;
    systemIdentifier?: string;
  };
  /** The WAL replay needs, as runs of consecutive segments with the same source. */
  segmentRuns: SegmentRun[];
  segmentCount: number;
  /** Segments only on S3 (fetched into the run's wal/ directory while preparing). */
  remoteSegments: number;
  segmentSize: number;
  /** The first segment archived at or after the target. */
  reachedBy: { segment: string; archivedAt: string };
  warnings: string[];
  port: number;
  dataRoot: string;
  /** The copies planned from (and the only ones read while preparing and replaying). */
  source: CopySource;
}

export interface PreparedRecovery {
  runDir: string;
  dataDir: string;
  logFile: string;
  port: number;
  baseSource: 'local' | 'remote';
  fetchedSegments: number;
  extractSeconds: number;
}

export interface RecoveryPoint {
  /** Commit time of the last transaction replayed (pg_last_xact_replay_timestamp), ISO UTC. */
  lastTransactionAt?: string;
  /** The server's own words on where it stopped, e.g. "recovery stopping before commit of transaction 745, time ...". */
  stoppedAt?: string;
  /** Last WAL location replayed. */
  replayLsn?: string;
  /** The timeline the promoted cluster continues on. */
  timeline?: number;
}

export interface RecoveryRun {
  recoveryPoint: RecoveryPoint;
  /** WAL files restore_command delivered (the rest came from the base backup's own pg_wal). */
  restoredSegments: number;
  /** Bytes of WAL between the base backup's start LSN and the last replayed location. */
  walBytesReplayed?: number;
  replaySeconds: number;
}

export interface VerifiedCluster {
  port: number;
  serverVersion: string;
  systemIdentifier?: string;
  databases: { name: string; tables: number; rows: number; tableRows?: DatabaseContents['tables'] }[];
}

function portFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', () => done(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => done(true)));
  });
}

export function createPitrActivities({ config, logger, stores, keys: keyRing, pgTools }: Pick<Deps, 'config' | 'logger' | 'stores' | 'keys' | 'pgTools'>) {
  const { local } = stores;
  const archiveDir = walArchiveDir(config.backupRoot);

  /** A run directory named by the workflow must be one of ours, under RESTORE_DATA_ROOT. */
  const pathsOf = (dataDir: string): RecoveryPaths => {
    const root = resolve(config.restore.dataRoot);
    const runDir = runDirOf(dataDir);
    const rel = relative(root, runDir);
    if (rel === '' || rel.startsWith('..') || rel.includes(sep) || !rel.startsWith('pitr-')) {
      throw new InputInvalid('dataDir', `${dataDir} is not a recovery data directory under RESTORE_DATA_ROOT (${root})`);
    }
    return recoveryPaths(root, rel.slice('pitr-'.length));
  };

  return {
    /**
     * Decide everything before doing anything: a malformed, future or too-old target, a WAL gap, WAL
     * that does not reach the target yet, or a taken port all fail here, non-retryably, with nothing
     * created. Read-only.
     */
    async planPointInTimeRecovery(input: { targetTime: string; port?: number; source?: CopySource; base?: string }): Promise<PitrPlanSummary> {
      const target = parseTargetTime(String(input.targetTime ?? ''), config.restore.timeZone, new Date());
      const port = input.port ?? config.restore.port;
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InputInvalid('--port', `must be a TCP port between 1 and 65535 (got ${JSON.stringify(input.port)})`);
      const source = input.source ?? 'auto';
      if (source === 'remote' && !stores.remote) throw new InputInvalid('source', 'remote asked for, but no off-site store is configured', 'set REMOTE_STORAGE=true and S3_*, or use source local or auto');
      if (input.base !== undefined && (typeof input.base !== 'string' || input.base.trim() === '')) throw new InputInvalid('base', 'must name a base backup (its key, e.g. base/20251017-020000/base.tar.zst.gpg)');
      // A named base backup, resolved as `restore` resolves names (key, file name or path under BACKUP_ROOT).
      const named = input.base !== undefined ? await locateBackup(input.base, local, stores.remote) : undefined;
      if (named && named.metadata.kind !== 'base') {
        throw new InputInvalid('base', `${named.key} is a ${named.metadata.kind} backup, not a base backup: point-in-time recovery starts from a base backup`, 'name a base backup (base/<stamp>/...) from `lifeboat restore --list`, or leave it out');
      }
      const baseKey = named?.key;
      // source picks the copies read: BACKUP_ROOT and the local WAL archive, the off-site store, or both.
      const { plan, copies, segmentSize } = await planRecovery({
        config, local, remote: stores.remote, archiveDir, target, source, ...(baseKey !== undefined ? { baseKey } : {}),
        privateKeys: () => keyRing.privateKeys(), waldumpPath: (major) => pgTools.path('pg_waldump', major), signal: Context.current().cancellationSignal,
      });
      if (!(await portFree(port))) {
        throw new InputInvalid('--port', `port ${port} on 127.0.0.1 is in use`, 'choose a free port with --port, or set RESTORE_PORT');
      }
      if (plan.continuity.verdict !== 'complete') throw new Error('unreachable: assertRecoverable passed an incomplete plan');
      const b = plan.base;
      const runs = segmentRuns(plan.segments);
      const summary: PitrPlanSummary = {
        target,
        base: {
          key: b.key, finishedAt: b.finishedAt, startLsn: b.startLsn, stopLsn: b.stopLsn, startWal: b.startWal, stopWal: b.stopWal, timeline: b.timeline, bytes: b.bytes,
          copies: copies.get(b.key) ?? [], serverMajor: b.server ? Math.floor(b.server.versionNum / 10000) : undefined, systemIdentifier: b.server?.systemIdentifier,
        },
        segmentRuns: runs,
        segmentCount: plan.segments.length,
        remoteSegments: plan.segments.filter((s) => s.source === 'remote').length,
        segmentSize,
        reachedBy: plan.continuity.reachedBy,
        warnings: plan.warnings,
        port,
        dataRoot: resolve(config.restore.dataRoot),
        source,
      };
      logger.info({ target: target.utc, base: b.key, segments: summary.segmentCount, remoteSegments: summary.remoteSegments }, 'pitr planned');
      return summary;
    },

    /**
     * Build the new data directory. Retry-safe: a directory left by an earlier attempt of the same
     * run is emptied and rebuilt; on a failure the half-built directory is removed.
     */
    async prepareRecoveryDataDir(input: { plan: PitrPlanSummary; stamp: string; workflowId: string; runId: string }): Promise<PreparedRecovery> {
      const ctx = Context.current();
      const { plan } = input;
      const paths = recoveryPaths(config.restore.dataRoot, input.stamp);
      const owner = clusterOwner();
      const { remote } = stores;
      const located = await locateBackup(plan.base.key, local, remote);
      if (located.metadata.kind !== 'base') throw new InputInvalid('plan.base.key', `${plan.base.key} is not a base backup`);
      const metadata = located.metadata;
      const keys = metadata.encryption.enabled ? await keyRing.privateKeys() : undefined;
      await createRecoveryDirs(paths, owner, { workflowId: input.workflowId, runId: input.runId, createdAt: new Date().toISOString(), target: plan.target.utc, baseKey: plan.base.key, port: plan.port });
      try {
        return await withHeartbeats<Record<string, unknown>, PreparedRecovery>({ stage: 'verifying base backup' }, async (beats) => {
          // 1. A local copy whose sha256 matches the metadata (downloaded from S3 when needed).
          const copy = await ensureLocalCopy(config.backupRoot, metadata, remote, (n, total) => beats.update({ stage: 'verifying base backup', bytes: n, of: total }), plan.source ?? 'auto');
          // 2. decrypt -> decompress -> tar -x as the cluster's user, in one stream.
          const started = Date.now();
          await extractBaseBackup({
            source: copy.path,
            encoding: { compression: metadata.compression.algorithm, encrypted: metadata.encryption.enabled },
            privateKeys: keys,
            dataDir: paths.dataDir,
            owner,
            onBytes: (n) => beats.update({ stage: 'extracting base backup', bytes: n, of: metadata.bytes }),
            signal: ctx.cancellationSignal,
          });
          const extractSeconds = (Date.now() - started) / 1000;
          // 3. WAL that is only off-site: fetched, checked and decoded now, since restore_command runs
          //    as the postgres user, which has neither the S3 credentials nor the private key.
          let fetched = 0;
          for (const run of plan.segmentRuns.filter((r) => r.source === 'remote')) {
            for (const name of expandRun(run, plan.segmentSize)) {
              ctx.cancellationSignal.throwIfAborted();
              const raw = remote ? await fetchWalRemote(name, remote, keys) : undefined;
              if (!raw) throw new BackupNotFound(`WAL segment ${name} is no longer on ${remote?.location ?? 'S3'}`, 'run the recovery again: it re-plans from what is archived now');
              writeFetchedWal(paths, name, raw, owner);
              beats.update({ stage: 'fetching WAL from S3', fetched: ++fetched, of: plan.remoteSegments, last: name });
            }
          }
          // 4. Recovery settings (never archive, loopback only, our port and socket) and recovery.signal.
          await configureRecovery(paths, {
            // From the off-site copy only, replay reads nothing but what was fetched.
            restoreCommand: restoreCommand(process.execPath, findLifeboatBin(), plan.source === 'remote' ? [paths.walDir] : [paths.walDir, archiveDir]),
            ...(plan.target.latest ? {} : { targetTime: plan.target.postgres }),
            port: plan.port,
            socketDir: paths.socketDir,
            clusterName: `lifeboat-pitr-${input.stamp}`,
            origin: `workflow ${input.workflowId}, target ${plan.target.utc}, base ${plan.base.key}`,
          }, owner);
          logger.info({ dataDir: paths.dataDir, base: plan.base.key, baseSource: copy.source, fetched, extractSeconds }, 'pitr data directory prepared');
          return { runDir: paths.runDir, dataDir: paths.dataDir, logFile: paths.logFile, port: plan.port, baseSource: copy.source, fetchedSegments: fetched, extractSeconds };
        });
      } catch (error) {
        removeRecoveryDir(paths, input.runId);
        throw error;
      }
    },

    /**
     * Start the cluster and heartbeat until it has replayed to the target and promoted. A retry
     * after a worker crash finds the postmaster running and only watches it.
     */
    async startRecoveryCluster(input: { dataDir: string; port: number; startLsn: string; serverMajor?: number }): Promise<RecoveryRun> {
      const ctx = Context.current();
      const paths = pathsOf(input.dataDir);
      const owner = clusterOwner();
      const started = Date.now();
      if (!postmasterPid(paths.dataDir)) await startCluster(pgTools.path('pg_ctl', input.serverMajor), paths, owner);
      const outcome = await withHeartbeats<RecoveryProgress | { phase: string }, Awaited<ReturnType<typeof waitForRecovery>>>({ phase: 'starting' }, (beats) =>
        waitForRecovery({ db: config.db, port: input.port, paths, onProgress: (p) => beats.update(p), signal: ctx.cancellationSignal }),
      );
      const replayLsn = outcome.state.replayLsn;
      const walBytesReplayed = replayLsn ? Number(parseLsn(replayLsn) - parseLsn(input.startLsn)) : undefined;
      const result: RecoveryRun = {
        recoveryPoint: { lastTransactionAt: outcome.state.replayTimestamp, stoppedAt: describeStop(outcome.log), replayLsn, timeline: outcome.timeline ?? outcome.log.newTimeline },
        restoredSegments: outcome.log.restoredFiles,
        walBytesReplayed,
        replaySeconds: (Date.now() - started) / 1000,
      };
      logger.info({ dataDir: paths.dataDir, ...result.recoveryPoint, restoredSegments: result.restoredSegments }, 'pitr recovery finished');
      return result;
    },

    /** Connect to the recovered cluster: it is out of recovery, it is a copy of the source, and what it holds. */
    async verifyRecoveredCluster(input: { dataDir: string; port: number; targetUtc?: string; lastTransactionAt?: string; systemIdentifier?: string }): Promise<VerifiedCluster> {
      pathsOf(input.dataDir);
      const inspection = await withHeartbeats({ database: '', table: '' }, (beats) => inspectCluster(config.db, input.port, (database, table) => beats.update({ database, table })));
      if (inspection.inRecovery) throw new InputInvalid('port', `the cluster on 127.0.0.1:${input.port} is still in recovery`);
      if (input.systemIdentifier && inspection.systemIdentifier && input.systemIdentifier !== inspection.systemIdentifier) {
        throw new ChecksumMismatch(`the cluster on 127.0.0.1:${input.port} has system identifier ${inspection.systemIdentifier}, not the base backup's ${input.systemIdentifier}`, 'another server holds that port: stop it and run the recovery again');
      }
      if (input.targetUtc && input.lastTransactionAt && input.lastTransactionAt > input.targetUtc) {
        throw new ChecksumMismatch(`the recovered cluster replayed a transaction committed at ${input.lastTransactionAt}, after the target ${input.targetUtc}`);
      }
      const totalTables = inspection.databases.reduce((n, d) => n + d.tables.length, 0);
      return {
        port: input.port,
        serverVersion: inspection.serverVersion,
        systemIdentifier: inspection.systemIdentifier,
        databases: inspection.databases.map((d) => ({
          name: d.name,
          tables: d.tables.length,
          rows: d.tables.reduce((n, t) => n + t.rows, 0),
          ...(totalTables <= 200 ? { tableRows: d.tables } : {}),
        })),
      };
    },

    /**
     * After a failed recover or verify step: stop the cluster and remove its data, keep the log and
     * the marker (with the error) so `lifeboat pitr list` shows the run as failed. Idempotent.
     */
    async discardFailedRecovery(input: { dataDir: string; runId: string; error: string }): Promise<{ freedBytes: number }> {
      const paths = pathsOf(input.dataDir);
      const out = await discardFailedRun(paths, input.runId, String(input.error ?? ''), (major) => pgTools.path('pg_ctl', major));
      logger.info({ runDir: paths.runDir, freedBytes: out.freedBytes }, 'pitr failed run discarded');
      return out;
    },

    /** The recovered clusters under RESTORE_DATA_ROOT, with state and size. Read-only. */
    async listRecoveryRuns(): Promise<RecoveredCluster[]> {
      return listRecoveredClusters(config.restore.dataRoot);
    },

    /** Stop (pg_ctl as the cluster's OS user) and delete one recovered cluster. */
    async removeRecoveryRun(input: { id: string }): Promise<{ id: string; wasRunning: boolean; freedBytes: number; port: number | null }> {
      const out = await removeRecoveredCluster(config.restore.dataRoot, input.id, (major) => pgTools.path('pg_ctl', major));
      logger.info(out, 'pitr cluster removed');
      return out;
    },
  };
}
