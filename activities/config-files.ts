/**
 * Configuration file activities: thin adapters over lib/config-files. Inputs and results carry
 * paths, counts, digests and warnings, never file contents (an env file full of secrets is read
 * only inside archiveConfigFiles and leaves it encrypted).
 *
 *  describeConfigBackup   (any queue)      where the files are read and what is configured
 *  archiveConfigFiles     (backup host)    files -> tar -> compress -> encrypt -> file, metadata last;
 *                                          or an "unchanged" record when the manifest is the newest one's
 *  uploadConfigUnchanged  (backup host)    an unchanged record off-site (and its archive if missing there)
 *  findConfigBackup       (backup host)    a name (or nothing: the newest) -> the archive holding its files
 *  diffConfigBackup       (backup host)    what differs between a backup and the live files; writes nothing
 *  restoreConfigBackup    (backup host)    safety pass, extract into a new directory or in place, check
 * Archives are uploaded with the backups' own `uploadArtifact` (their metadata is artifact metadata).
 */
import { Context } from '@temporalio/activity';
import { existsSync, readFileSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { listConfigBackups, parseConfigUnchanged, resolveConfigBackup, type ConfigUnchangedRecord } from '../lib/catalog/config';
import { CONFIG_DIR } from '../lib/catalog/layout';
import { configMetadata, parseMetadata, type ConfigMetadata } from '../lib/catalog/metadata';
import { configArchiveKey, configUnchangedKey, metadataKey, parseStamp } from '../lib/catalog/names';
import type { Deps } from '../lib/deps';
import { ChecksumMismatch, ConflictingArtifact, InputInvalid, OperationRefused } from '../lib/errors';
import { configArchiveRoot, writeConfigArchive } from '../lib/config-files/archive';
import { collectConfigSet, manifestDigest } from '../lib/config-files/collect';
import { checkConfigArchive, diffConfigSet, extractConfigArchive, fileSource, restoreTargetProblem, type ConfigDifference, type RestoreMode } from '../lib/config-files/restore';
import { sweepPartials, writeFileAtomic } from '../lib/pipeline/atomic-file';
import { ensureLocalCopy, type CopySource } from '../lib/restore/fetch';
import { locateBackup } from '../lib/restore/locate';
import { LIFEBOAT_VERSION } from '../lib/version';
import { startHeartbeats, withHeartbeats } from './heartbeat';
import { uploadWithMetadata } from './upload';

export interface ConfigBackupTarget {
  /** The pinned queue of the host whose files are read and whose BACKUP_ROOT receives the archive. */
  hostTaskQueue: string;
  remote: boolean;
  encrypted: boolean;
  paths: string[];
}

export interface ConfigBackupSummary {
  /** `archived`: a new archive; `unchanged`: the files are those of `sameAs`, a record was written instead. */
  outcome: 'archived' | 'unchanged';
  /** The archive's key, or the unchanged record's. */
  key: string;
  /** With `unchanged`: the archive holding these files. */
  sameAs?: string;
  sha256?: string;
  bytes?: number;
  files: number;
  directories: number;
  symlinks: number;
  fileBytes: number;
  manifestSha256: string;
  /** Missing paths and other notes, also in the metadata. */
  warnings: string[];
  alreadyRecorded?: boolean;
}

export interface FoundConfigBackup {
  /** The archive holding the files. */
  key: string;
  /** What was asked for (an unchanged record resolves to its archive). */
  requested: string;
  stamp: string;
  finishedAt: string;
  host: string;
  entries: number;
  encrypted: boolean;
  local: boolean;
  remote: boolean;
}

export interface ConfigRestoreSummary {
  key: string;
  mode: RestoreMode;
  targetDir?: string;
  files: number;
  directories: number;
  symlinks: number;
  bytes: number;
  ownersRestored: boolean;
  /** Manifest entries checked against what was written. */
  checked: number;
  copy: 'local' | 'remote';
}

/** At most this many differences are returned (the count says how many there are). */
export const MAX_DIFFERENCES = 500;
const PARTIAL_MAX_AGE_MS = 6 * 3600 * 1000;

export function createConfigFileActivities({ config, logger, stores, keys }: Pick<Deps, 'config' | 'logger' | 'stores' | 'keys'>) {
  const { local } = stores;
  const encoding = () => ({ compression: config.compression.algorithm, encrypted: config.encryption.enabled });
  const privateKeys = async () => (config.encryption.enabled ? keys.privateKeys() : undefined);

  const summaryOfArchive = (m: ConfigMetadata, alreadyRecorded?: boolean): ConfigBackupSummary => ({
    outcome: 'archived', key: m.key, sha256: m.sha256, bytes: m.bytes, manifestSha256: m.manifestSha256, warnings: m.warnings, fileBytes: m.fileBytes,
    files: m.files, directories: m.manifest.filter((e) => e.type === 'directory').length, symlinks: m.manifest.filter((e) => e.type === 'symlink').length,
    ...(alreadyRecorded ? { alreadyRecorded } : {}),
  });
  const summaryOfUnchanged = (r: ConfigUnchangedRecord, same: ConfigMetadata | undefined, alreadyRecorded?: boolean): ConfigBackupSummary => ({
    outcome: 'unchanged', key: r.key, sameAs: r.sameAs, manifestSha256: r.manifestSha256, warnings: r.warnings, files: r.files, fileBytes: same?.fileBytes ?? 0,
    directories: same?.manifest.filter((e) => e.type === 'directory').length ?? 0, symlinks: same?.manifest.filter((e) => e.type === 'symlink').length ?? 0,
    ...(alreadyRecorded ? { alreadyRecorded } : {}),
  });
  const localArchiveMetadata = (key: string): ConfigMetadata | undefined => {
    const path = local.pathOf(metadataKey(key));
    const m = existsSync(path) ? parseMetadata(readFileSync(path, 'utf8')) : undefined;
    return m?.kind === 'config' && existsSync(local.pathOf(key)) ? m : undefined;
  };
  /** The archive's metadata, local first, else the off-site copy's. */
  const archiveMetadata = async (key: string): Promise<{ metadata: ConfigMetadata; local: boolean; remote: boolean }> => {
    const found = await locateBackup(key, local, stores.remote);
    if (found.metadata.kind !== 'config') throw new InputInvalid('backup', `${key} is a ${found.metadata.kind} backup, not a configuration backup`, 'see `lifeboat backups list`');
    return { metadata: found.metadata, local: found.local, remote: found.remote };
  };

  return {
    /** Where configuration files are read and archived (the backup host), from this worker's configuration. */
    async describeConfigBackup(): Promise<ConfigBackupTarget> {
      return { hostTaskQueue: config.temporal.backupHostTaskQueue, remote: config.remote.enabled, encrypted: config.encryption.enabled, paths: config.configBackup.paths };
    },

    /**
     * Collect CONFIG_BACKUP_PATHS and archive them, metadata last; or, when the manifest is the newest
     * backup's, write only an unchanged record naming that archive.
     */
    async archiveConfigFiles(input: { stamp: string; workflowId: string; runId: string }): Promise<ConfigBackupSummary> {
      if (!parseStamp(input.stamp)) throw new InputInvalid('stamp', `"${input.stamp}" is not YYYYMMDD-HHMMSS`);
      const key = configArchiveKey(input.stamp, encoding());
      const recordKey = configUnchangedKey(input.stamp);
      // Retry safety: this run already finished (return it), or another run owns the name (refuse).
      const doneMetadata = existsSync(local.pathOf(metadataKey(key))) ? parseMetadata(readFileSync(local.pathOf(metadataKey(key)), 'utf8')) : undefined;
      const done = doneMetadata?.kind === 'config' ? doneMetadata : undefined;
      const doneRecord = existsSync(local.pathOf(recordKey)) ? parseConfigUnchanged(readFileSync(local.pathOf(recordKey), 'utf8')) : undefined;
      for (const owner of [done, doneRecord]) {
        if (!owner) continue;
        if (owner.runId !== input.runId) throw new ConflictingArtifact(`${owner.key} already exists and belongs to another run (${owner.workflowId ?? 'unknown'})`, 'other runs held the names of five consecutive seconds; start the backup again');
        return owner.kind === 'config' ? summaryOfArchive(owner, true) : summaryOfUnchanged(owner, localArchiveMetadata((owner as ConfigUnchangedRecord).sameAs), true);
      }
      const ctx = Context.current();
      const startedAt = new Date();
      const { paths, exclude } = config.configBackup;
      // 1. What is there now (every file hashed; missing paths are warnings).
      const set = await withHeartbeats({ stage: 'collecting' }, () => collectConfigSet(paths, exclude, ctx.cancellationSignal));
      if (set.entries.length === 0) {
        throw new InputInvalid('CONFIG_BACKUP_PATHS', `none of the ${paths.length} configured path(s) exists on ${config.temporal.host}: nothing to back up (${set.warnings.join('; ')})`, 'set CONFIG_BACKUP_PATHS to files and directories that exist on the backup host');
      }
      for (const warning of set.warnings) logger.warn({ warning }, 'configuration backup warning');
      const digest = manifestDigest(set.entries);
      const files = set.entries.filter((e) => e.type === 'file');
      const run = { startedAt: startedAt.toISOString(), lifeboatVersion: LIFEBOAT_VERSION, workflowId: input.workflowId, runId: input.runId };

      // 2. The same files as the newest backup (whose archive is still here): a cheap record instead.
      const newest = (await listConfigBackups(local, undefined))[0];
      const newestArchive = newest?.kind === 'archive' ? newest.key : newest?.record.sameAs;
      const same = newestArchive ? localArchiveMetadata(newestArchive) : undefined;
      if (same && same.manifestSha256 === digest) {
        const finishedAt = new Date();
        const record: ConfigUnchangedRecord = {
          format: 'lifeboat/1', kind: 'config-unchanged', key: recordKey, stamp: input.stamp, host: config.temporal.host, sameAs: same.key, manifestSha256: digest,
          files: files.length, paths, warnings: set.warnings, ...run, finishedAt: finishedAt.toISOString(), durationSeconds: (finishedAt.getTime() - startedAt.getTime()) / 1000,
        };
        writeFileAtomic(local.pathOf(recordKey), `${JSON.stringify(record, null, 2)}\n`);
        logger.info({ key: recordKey, sameAs: same.key, files: files.length }, 'configuration unchanged');
        return summaryOfUnchanged(record, same);
      }

      // 3. The archive, proven, then its metadata (with the manifest) last: only now is it a backup.
      await sweepPartials(local.pathOf(CONFIG_DIR), PARTIAL_MAX_AGE_MS);
      const encryptionKey = config.encryption.enabled ? await keys.publicKey() : undefined;
      const root = configArchiveRoot(input.stamp);
      const facts = await withHeartbeats({ stage: 'archiving', entries: 0, of: set.entries.length, writtenBytes: 0 }, (beats) =>
        writeConfigArchive({
          entries: set.entries, root, target: local.pathOf(key), compression: config.compression, encryptionKey,
          onProgress: (entries, writtenBytes) => beats.update({ stage: 'archiving', entries, of: set.entries.length, writtenBytes }),
          signal: ctx.cancellationSignal,
        }),
      );
      const finishedAt = new Date();
      const metadata: ConfigMetadata = configMetadata.parse({
        format: 'lifeboat/1', kind: 'config', key, file: key.split('/').pop(), sha256: facts.sha256, bytes: facts.bytes, rawBytes: facts.rawBytes, proof: facts.proof,
        compression: config.compression,
        encryption: encryptionKey ? { enabled: true, recipient: encryptionKey.recipient, fingerprint: encryptionKey.fingerprint, encryptionSubkey: encryptionKey.encryptionSubkey } : { enabled: false },
        ...run, finishedAt: finishedAt.toISOString(), durationSeconds: (finishedAt.getTime() - startedAt.getTime()) / 1000,
        stamp: input.stamp, root, host: config.temporal.host, paths, exclude, warnings: set.warnings, manifestSha256: digest,
        files: files.length, fileBytes: files.reduce((n, e) => n + e.size, 0), manifest: set.entries,
      });
      writeFileAtomic(local.pathOf(metadataKey(key)), `${JSON.stringify(metadata, null, 1)}\n`);
      logger.info({ key, files: metadata.files, bytes: metadata.bytes, warnings: set.warnings.length }, 'configuration archive written');
      return summaryOfArchive(metadata);
    },

    /** Copy an unchanged record off-site; first its archive, when the off-site store lacks it. */
    async uploadConfigUnchanged(input: { key: string }): Promise<{ key: string; archiveUploaded: boolean }> {
      const path = local.pathOf(input.key);
      const record = existsSync(path) ? parseConfigUnchanged(readFileSync(path, 'utf8')) : undefined;
      if (!record || record.key !== input.key) throw new InputInvalid('key', `${input.key} is not an unchanged record in ${config.backupRoot}`);
      const remote = stores.offsite();
      let archiveUploaded = false;
      if (!(await remote.stat(metadataKey(record.sameAs)))) {
        const same = localArchiveMetadata(record.sameAs);
        if (!same) throw new InputInvalid('key', `${input.key} names ${record.sameAs}, which is neither here nor off-site`);
        await uploadWithMetadata(config, remote, { file: local.pathOf(same.key), key: same.key, sha256: same.sha256, bytes: same.bytes, metadataKey: metadataKey(same.key), metadataBody: readFileSync(local.pathOf(metadataKey(same.key))) });
        archiveUploaded = true;
      }
      await remote.put(record.key, readFileSync(path), { contentType: 'application/json' });
      return { key: record.key, archiveUploaded };
    },

    /** The archive a name stands for (the newest backup when none is given), from the local and remote listings. */
    async findConfigBackup(input: { backup?: string }): Promise<FoundConfigBackup> {
      const entries = await listConfigBackups(local, stores.remote);
      const { archive, requested } = resolveConfigBackup(entries, input.backup);
      const m = archive.metadata;
      return { key: archive.key, requested, stamp: m.stamp, finishedAt: m.finishedAt, host: m.host, entries: m.manifest.length, encrypted: m.encryption.enabled, local: archive.local, remote: archive.remote };
    },

    /** What differs between the backup's manifest and the live files (or those below `targetDir`). Reads the metadata only. */
    async diffConfigBackup(input: { key: string; targetDir?: string }): Promise<{ key: string; against: string; compared: number; total: number; differences: ConfigDifference[] }> {
      if (input.targetDir !== undefined && !input.targetDir.startsWith('/')) throw new InputInvalid('targetDir', `${input.targetDir} is not an absolute path`);
      const { metadata } = await archiveMetadata(input.key);
      const differences = await withHeartbeats({ stage: 'comparing' }, () => diffConfigSet(metadata, input.targetDir));
      return { key: input.key, against: input.targetDir ?? '/', compared: metadata.manifest.length, total: differences.length, differences: differences.slice(0, MAX_DIFFERENCES) };
    },

    /**
     * Restore an archive into a new (or empty) directory, or in place (the workflow asks for approval
     * first). Nothing is written before the whole archive passed the safety pass.
     */
    async restoreConfigBackup(input: { key: string; mode: RestoreMode; targetDir?: string; source?: CopySource }): Promise<ConfigRestoreSummary> {
      const ctx = Context.current();
      const { mode, targetDir } = input;
      if (mode !== 'new' && mode !== 'in-place') throw new InputInvalid('mode', `must be new or in-place (got ${JSON.stringify(mode)})`);
      if (mode === 'new' && !targetDir) throw new InputInvalid('targetDir', 'is required for a restore into a new directory');
      const checkpoint = ctx.info.heartbeatDetails as { wrote?: string } | undefined;
      // An earlier attempt of this activity wrote into the (then empty) directory: start it over.
      if (mode === 'new' && checkpoint?.wrote === targetDir) {
        for (const name of await readdir(targetDir!).catch(() => [] as string[])) await rm(join(targetDir!, name), { recursive: true, force: true });
      }
      // 1. The target: new or empty (checked before anything is read or written).
      if (mode === 'new') {
        const problem = await restoreTargetProblem(targetDir!);
        if (problem) throw new OperationRefused(`refusing to restore configuration files: ${problem}; nothing was written`, 'name a new directory with --target, or compare with --diff');
      }
      const { metadata } = await archiveMetadata(input.key);
      const beats = startHeartbeats<Record<string, unknown>>({ stage: 'fetching' }, 1000);
      try {
        // 2. A local copy whose sha256 matches the metadata (downloaded from off-site when needed).
        const copy = await ensureLocalCopy(config.backupRoot, metadata, stores.remote, (n, total) => beats.update({ stage: 'fetching', bytesDone: n, bytesTotal: total }), input.source ?? 'auto');
        const source = fileSource(copy.path, metadata, await privateKeys());
        // 3. The safety pass: every entry safe and as the manifest says; nothing written.
        beats.update({ stage: 'checking' });
        await checkConfigArchive(source, mode);
        // 4. Extract, then check every restored entry against the manifest.
        beats.update({ stage: 'restoring', ...(mode === 'new' ? { wrote: targetDir } : {}) });
        const extracted = await extractConfigArchive(source, mode, targetDir, ctx.cancellationSignal);
        beats.update({ stage: 'checking-restored' });
        const problems = (await diffConfigSet(metadata, mode === 'new' ? targetDir : undefined, extracted.ownersRestored)).filter((d) => d.change !== 'extra');
        if (problems.length > 0) {
          throw new ChecksumMismatch(`restored files do not match the manifest: ${problems.slice(0, 5).map((p) => `${p.path}: ${p.detail}`).join('; ')}${problems.length > 5 ? `; ${problems.length - 5} more` : ''}`, 'check the target file system (space, permissions) and restore again');
        }
        logger.info({ key: input.key, mode, targetDir, files: extracted.files }, 'configuration files restored');
        return { key: input.key, mode, ...(targetDir ? { targetDir } : {}), ...extracted, checked: metadata.manifest.length, copy: copy.source };
      } finally {
        beats.stop();
      }
    },
  };
}
