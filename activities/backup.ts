/**
 * Backup activities: thin adapters over lib/ that heartbeat progress, respect cancellation and make
 * retries safe. Inputs and results carry names and facts, never secrets.
 *
 *  describeBackupTarget  (general queue)  what and where to back up, from this worker's config
 *  dumpGlobals / dumpDatabase / takeBaseBackup  (backup host)  write one artifact each
 *  recordBackup          (backup host)  write `<artifact>.metadata.json`, last
 *  uploadArtifact        (backup host)  resumable multipart upload, verified, metadata object last
 *  writeRunLog           (backup host)  the seed's `$BACKUP_ROOT/logs/backup-<stamp>.log`: what ran, how long, result
 */
import { Context } from '@temporalio/activity';
import { withHeartbeats } from './heartbeat';
import { uploadWithMetadata, type UploadResultSummary } from './upload';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { parseMetadata, type ArtifactMetadata, type BaseMetadata, type GlobalsMetadata, type LogicalMetadata, type TableFacts } from '../lib/catalog/metadata';
import { baseBackupKey, globalsKey, logicalBackupKey, metadataKey, parseStamp, RUN_LOG_PATTERN, runLogKey, type Encoding, type Tier } from '../lib/catalog/names';
import type { EncryptionKey } from '../lib/crypto/openpgp';
import type { Deps } from '../lib/deps';
import type { PostgresTarget } from '../lib/restore/load';
import { ConflictingArtifact, InputInvalid } from '../lib/errors';
import { sweepPartials, writeFileAtomic } from '../lib/pipeline/atomic-file';
import type { ArtifactProof } from '../lib/pipeline/artifact';
import { takeBaseBackup as runBaseBackup } from '../lib/postgres/basebackup';
import { dumpDatabase as runDump, dumpGlobals as runGlobals, type ServerFacts } from '../lib/postgres/dump';
import { LIFEBOAT_VERSION } from '../lib/version';
import type { Thresholds } from '../lib/monitor/evaluate';

export interface BackupTarget {
  database: string;
  backupHostTaskQueue: string;
  remote: boolean;
  encrypted: boolean;
  compression: { algorithm: 'zstd' | 'gzip'; level: number };
  dumpFormat: 'plain' | 'custom';
}

export interface ArtifactInput {
  stamp: string;
  workflowId: string;
  runId: string;
}

/** What a dump produced: facts for its metadata record. */
export interface ArtifactRecord {
  kind: 'logical' | 'globals' | 'base';
  key: string;
  sha256: string;
  bytes: number;
  rawBytes: number;
  /** How the artifact was proven before it was written into place (absent for older records). */
  proof?: ArtifactProof;
  startedAt: string;
  finishedAt: string;
  server?: Omit<ServerFacts, 'walSegmentSize'>;
  tier?: Tier;
  database?: string;
  dumpFormat?: 'plain' | 'custom';
  snapshot?: string;
  tables?: TableFacts[];
  globalsKey?: string;
  label?: string;
  startLsn?: string;
  stopLsn?: string;
  timeline?: number;
  startWal?: string;
  stopWal?: string;
  /** True when an earlier attempt of the same run had already recorded this artifact. */
  alreadyRecorded?: boolean;
}

export type { UploadResultSummary } from './upload';

/** One backup run, as its run log records it. */
export interface RunLogInput {
  /** The backup's stamp (its file names'), or the run's start when it failed before choosing one. */
  stamp: string;
  /** `backupDatabase daily`, `backupBase`, ... */
  what: string;
  workflowId: string;
  runId: string;
  startedAt: string;
  finishedAt: string;
  ok: boolean;
  /** What it made, one line each (keys, sizes, off-site copies); on failure, the reason. */
  lines: string[];
}

/** `[2025-10-17 02:00:07] message`: the shell scripts' log line. */
const logLine = (at: string, message: string): string => `[${at.slice(0, 10)} ${at.slice(11, 19)}] ${message}\n`;

/** The run log's text: start, what was made, result with its duration. Pure. */
export function formatRunLog(run: RunLogInput): string {
  const seconds = (Date.parse(run.finishedAt) - Date.parse(run.startedAt)) / 1000;
  return [
    logLine(run.startedAt, `START ${run.what} (workflow ${run.workflowId}, run ${run.runId})`),
    ...run.lines.map((l) => logLine(run.finishedAt, `  ${l}`)),
    logLine(run.finishedAt, `${run.ok ? 'OK' : 'FAILED'} ${run.what} in ${seconds.toFixed(1)} s`),
  ].join('');
}

/** Run logs are kept as long as the longest-lived tier's backups can be (RETENTION_MONTHLY months), by the stamp in their name. */
export function runLogMaxAgeDays(retention: { daily: number; weekly: number; monthly: number }): number {
  return Math.max(retention.daily, retention.weekly * 7, retention.monthly * 31);
}

const PARTIAL_MAX_AGE_MS = 6 * 3600 * 1000;

export function createBackupActivities({ config, logger, stores, keys }: Pick<Deps, 'config' | 'logger' | 'stores' | 'keys'>) {
  const { local } = stores;
  const encoding = (): Encoding => ({ compression: config.compression.algorithm, encrypted: config.encryption.enabled });
  const encryptionKey = async (): Promise<EncryptionKey | undefined> => (config.encryption.enabled ? keys.publicKey() : undefined);


  /**
   * Retry safety: if this artifact's metadata exists, the same run already finished it (return its
   * facts) or another run owns the name (refuse: a good backup is never overwritten).
   */
  const alreadyRecorded = (key: string, input: ArtifactInput): ArtifactMetadata | undefined => {
    const path = local.pathOf(metadataKey(key));
    if (!existsSync(path)) return undefined;
    const metadata = parseMetadata(readFileSync(path, 'utf8'));
    if (metadata && metadata.runId === input.runId) return metadata;
    throw new ConflictingArtifact(`${key} already exists and belongs to another run (${metadata?.workflowId ?? 'unknown'})`, 'other runs held the names of five consecutive seconds; start the backup again');
  };

  const fromMetadata = (m: ArtifactMetadata): ArtifactRecord => ({
    kind: m.kind as ArtifactRecord['kind'],
    key: m.key,
    sha256: m.sha256,
    bytes: m.bytes,
    rawBytes: m.rawBytes ?? 0,
    proof: m.proof,
    startedAt: m.startedAt,
    finishedAt: m.finishedAt,
    alreadyRecorded: true,
  });

  const serverSummary = (s: ServerFacts): Omit<ServerFacts, 'walSegmentSize'> => ({ host: s.host, port: s.port, version: s.version, versionNum: s.versionNum, systemIdentifier: s.systemIdentifier });

  return {
    /** Non-secret facts of this worker's configuration that the workflow plans with. */
    async describeBackupTarget(): Promise<BackupTarget> {
      return {
        database: config.db.name,
        backupHostTaskQueue: config.temporal.backupHostTaskQueue,
        remote: config.remote.enabled,
        encrypted: config.encryption.enabled,
        compression: config.compression,
        dumpFormat: config.dumpFormat,
      };
    },

    async dumpGlobals(input: ArtifactInput & { tier: Tier }): Promise<ArtifactRecord> {
      const key = globalsKey(input.tier, input.stamp, encoding());
      const done = alreadyRecorded(key, input);
      if (done) return fromMetadata(done);
      await sweepPartials(join(config.backupRoot, input.tier), PARTIAL_MAX_AGE_MS);
      const startedAt = new Date().toISOString();
      const publicKey = await encryptionKey();
      const facts = await withHeartbeats({}, (beats) => runGlobals({ db: config.db, target: local.pathOf(key), compression: config.compression, encryptionKey: publicKey, onSpawn: (pid) => beats.track(pid) }));
      logger.info({ key, bytes: facts.bytes, rawBytes: facts.rawBytes, proof: facts.proof.method }, 'globals dump written');
      return { kind: 'globals', key, ...facts, tier: input.tier, startedAt, finishedAt: new Date().toISOString() };
    },

    async dumpDatabase(input: ArtifactInput & { tier: Tier; format?: 'plain' | 'custom'; globalsKey?: string }): Promise<ArtifactRecord> {
      const format = input.format ?? config.dumpFormat;
      const key = logicalBackupKey(config.db.name, input.tier, input.stamp, format, encoding());
      const done = alreadyRecorded(key, input);
      if (done) return fromMetadata(done);
      const startedAt = new Date().toISOString();
      const publicKey = await encryptionKey();
      const result = await withHeartbeats({ rawBytes: 0, writtenBytes: 0 }, (beats) =>
        runDump({
          db: config.db,
          target: local.pathOf(key),
          format,
          compression: config.compression,
          encryptionKey: publicKey,
          onProgress: (rawBytes, writtenBytes) => beats.update({ rawBytes, writtenBytes }),
          onSpawn: (pid) => beats.track(pid),
          signal: Context.current().cancellationSignal,
        }),
      );
      logger.info({ key, bytes: result.bytes, rawBytes: result.rawBytes, proof: result.proof.method }, 'database dump written');
      return {
        kind: 'logical', key, sha256: result.sha256, bytes: result.bytes, rawBytes: result.rawBytes, proof: result.proof, startedAt, finishedAt: new Date().toISOString(),
        server: serverSummary(result.server), tier: input.tier, database: config.db.name, dumpFormat: format, snapshot: result.snapshot, tables: result.tables, globalsKey: input.globalsKey,
      };
    },

    async takeBaseBackup(input: ArtifactInput & { target?: PostgresTarget }): Promise<ArtifactRecord> {
      const key = baseBackupKey(input.stamp, encoding());
      const done = alreadyRecorded(key, input);
      if (done) return fromMetadata(done);
      await sweepPartials(join(config.backupRoot, 'base', input.stamp), 0);
      const startedAt = new Date().toISOString();
      const publicKey = await encryptionKey();
      const result = await withHeartbeats({ rawBytes: 0, writtenBytes: 0 }, (beats) =>
        runBaseBackup({
          // A target is another server (the DR runbook's new primary), reached with DB_USER / PGPASSWORD.
          db: input.target ? { ...config.db, host: input.target.host, port: input.target.port } : config.db,
          target: local.pathOf(key),
          label: `lifeboat ${input.stamp}`,
          compression: config.compression,
          encryptionKey: publicKey,
          onProgress: (rawBytes, writtenBytes) => beats.update({ rawBytes, writtenBytes }),
          onSpawn: (pid) => beats.track(pid),
          signal: Context.current().cancellationSignal,
        }),
      );
      logger.info({ key, bytes: result.bytes, startLsn: result.startLsn, stopLsn: result.stopLsn, proof: result.proof.method }, 'base backup written');
      return {
        kind: 'base', key, sha256: result.sha256, bytes: result.bytes, rawBytes: result.rawBytes, proof: result.proof, startedAt, finishedAt: new Date().toISOString(), server: serverSummary(result.server),
        label: result.label, startLsn: result.startLsn, stopLsn: result.stopLsn, timeline: result.timeline, startWal: result.startWal, stopWal: result.stopWal,
      };
    },

    /** Where monitoring runs and its thresholds (from this worker's config; no secrets). */
    async describeMonitoring(): Promise<{ backupHostTaskQueue: string; thresholds: Thresholds }> {
      const { metricsPort: _port, ...thresholds } = config.monitor;
      return { backupHostTaskQueue: config.temporal.backupHostTaskQueue, thresholds: { ...thresholds, drillMaxAgeDays: config.dr.drillMaxAgeDays } };
    },

    /** Write the metadata record beside the artifact. Only now is the artifact a backup. */
    async recordBackup(input: { record: ArtifactRecord; workflowId: string; runId: string }): Promise<{ metadataKey: string }> {
      const { record } = input;
      const artifactPath = local.pathOf(record.key);
      if (!existsSync(artifactPath)) throw new InputInvalid('record.key', `${record.key} does not exist under ${config.backupRoot}`);
      const key = await encryptionKey();
      const common = {
        format: 'lifeboat/1' as const,
        key: record.key,
        file: record.key.split('/').pop()!,
        sha256: record.sha256,
        bytes: record.bytes,
        rawBytes: record.rawBytes,
        proof: record.proof,
        compression: config.compression,
        encryption: key ? { enabled: true, recipient: key.recipient, fingerprint: key.fingerprint, encryptionSubkey: key.encryptionSubkey } : { enabled: false },
        startedAt: record.startedAt,
        finishedAt: record.finishedAt,
        durationSeconds: (Date.parse(record.finishedAt) - Date.parse(record.startedAt)) / 1000,
        lifeboatVersion: LIFEBOAT_VERSION,
        workflowId: input.workflowId,
        runId: input.runId,
        server: record.server,
      };
      let metadata: LogicalMetadata | GlobalsMetadata | BaseMetadata;
      if (record.kind === 'logical') {
        metadata = { ...common, kind: 'logical', tier: record.tier!, database: record.database!, dumpFormat: record.dumpFormat!, snapshot: record.snapshot, tables: record.tables ?? [], globalsKey: record.globalsKey };
      } else if (record.kind === 'globals') {
        metadata = { ...common, kind: 'globals', tier: record.tier! };
      } else {
        metadata = { ...common, kind: 'base', label: record.label!, startLsn: record.startLsn!, stopLsn: record.stopLsn!, timeline: record.timeline!, startWal: record.startWal!, stopWal: record.stopWal! };
      }
      const mkey = metadataKey(record.key);
      writeFileAtomic(local.pathOf(mkey), `${JSON.stringify(metadata, null, 2)}\n`);
      return { metadataKey: mkey };
    },

    /** Copy an artifact off-site: multipart, resumable from the heartbeat checkpoint, verified; metadata last. */
    async uploadArtifact(input: { key: string }): Promise<UploadResultSummary> {
      const metadataPath = local.pathOf(metadataKey(input.key));
      if (!existsSync(metadataPath)) throw new InputInvalid('key', `${input.key} has no metadata: it is not a backup and is not uploaded`);
      const metadataBody = readFileSync(metadataPath);
      const metadata = parseMetadata(metadataBody.toString('utf8'));
      if (!metadata) throw new InputInvalid('key', `${input.key}.metadata.json is not valid metadata`);
      const result = await uploadWithMetadata(config, stores.offsite(), { file: local.pathOf(input.key), key: input.key, sha256: metadata.sha256, bytes: metadata.bytes, metadataKey: metadataKey(input.key), metadataBody });
      logger.info({ key: input.key, parts: result.parts, resumedParts: result.resumedParts, alreadyPresent: result.alreadyPresent }, 'artifact uploaded');
      return result;
    },

    /**
     * Append this run's block to `$BACKUP_ROOT/logs/backup-<stamp>.log` (appended and fsynced: two
     * runs of the same second share the file), then remove run logs older than runLogMaxAgeDays.
     */
    async writeRunLog(input: RunLogInput): Promise<{ path: string; pruned: string[] }> {
      const path = local.pathOf(runLogKey(input.stamp));
      const dir = join(config.backupRoot, 'logs');
      mkdirSync(dir, { recursive: true });
      const fd = openSync(path, 'a', 0o640);
      try {
        writeSync(fd, formatRunLog(input));
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      const cutoff = Date.now() - runLogMaxAgeDays(config.retention) * 86_400_000;
      const pruned: string[] = [];
      for (const name of readdirSync(dir)) {
        const stamp = RUN_LOG_PATTERN.exec(name)?.[1];
        const at = stamp ? parseStamp(stamp) : undefined;
        if (!at || at.getTime() >= cutoff) continue;
        rmSync(join(dir, name), { force: true });
        pruned.push(name);
      }
      if (pruned.length) logger.info({ pruned }, 'old run logs removed');
      return { path, pruned };
    },
  };
}
