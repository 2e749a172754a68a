/**
 * Verification activities (backup host): what `verify --latest|--all` covers and checking each kind
 * of artifact without restoring it. Each returns a VerificationResult; recordVerification merges it
 * into the record beside the artifact, per copy.
 *
 *  listVerifyTargets     backups (dumps, globals, base backups, configuration archives), the WAL archive, MinIO snapshots
 *  listBackupKeys        the backup keys alone (kept for workflow histories that call it)
 *  verifyStoredBackup    checksums of local and remote copies, decrypt/decompress, content by kind
 *  verifyWalArchive      size and page header of every archived segment in scope, sha256 where recorded
 *  verifyStoredSnapshot  checksums of the snapshot's copies, its tar listing against the manifest
 *  recordVerification    `<key>.verification.json`, merged per copy; read by listings and monitoring
 */
import { createReadStream, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PassThrough } from 'node:stream';
import { readCatalog, type CatalogEntry } from '../lib/catalog/catalog';
import { WAL_ARCHIVE } from '../lib/catalog/layout';
import { parseMetadata } from '../lib/catalog/metadata';
import { walArchiveDir } from '../lib/catalog/paths';
import { listSnapshots, readLocalSnapshotMetadata, readRemoteSnapshotMetadata, snapshotDirOf } from '../lib/catalog/snapshots';
import { listRemoteWal, localWalFiles } from '../lib/catalog/wal';
import type { Deps } from '../lib/deps';
import type { SnapshotMetadata } from '../lib/minio/metadata';
import { parseSnapshotFile, remoteSnapshotKey, SNAPSHOT_DIR, SNAPSHOT_METADATA_SUFFIX } from '../lib/minio/names';
import { writeFileAtomic } from '../lib/pipeline/atomic-file';
import { sha256OfStream } from '../lib/restore/fetch';
import { locateBackup } from '../lib/restore/locate';
import type { S3Store } from '../lib/storage/s3-store';
import { getBuffer } from '../lib/storage/store';
import { verifyArtifactCopies, type CheckResult, type VerificationResult } from '../lib/verify/artifact';
import { mergeVerification, readVerificationFile, verificationRecordPath } from '../lib/verify/record';
import { checkSnapshotCopy, type SnapshotCheck } from '../lib/verify/snapshot';
import { verifyWalArchive, walNamesInScope } from '../lib/verify/wal';
import { withHeartbeats } from './heartbeat';

/** One thing `verify` checks: a backup by key, the local WAL archive, or a MinIO snapshot (`snapshots/<file>`). */
export type VerifyTarget = { kind: 'backup'; key: string } | { kind: 'wal'; scope: 'latest' | 'all' } | { kind: 'snapshot'; key: string };

/** Key of the WAL archive's verification record (`$BACKUP_ROOT/wal-archive.verification.json`). */
export const WAL_ARCHIVE_KEY = WAL_ARCHIVE;
/** Bad segments listed one check each, at most (the summary check counts them all). */
const MAX_SEGMENT_CHECKS = 100;

const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** Newest first per group: the first entry of each group. */
function newestPerGroup<T>(items: T[], group: (item: T) => string): T[] {
  const seen = new Set<string>();
  return items.filter((item) => {
    const g = group(item);
    if (seen.has(g)) return false;
    seen.add(g);
    return true;
  });
}

export function createVerifyActivities({ config, logger, stores, keys: keyRing }: Pick<Deps, 'config' | 'logger' | 'stores' | 'keys'>) {
  const { local } = stores;
  const remote = (): S3Store | undefined => stores.remote;
  const privateKeys = async () => (config.encryption.enabled ? keyRing.privateKeys() : undefined);
  const snapshotDir = snapshotDirOf(stores.snapshots);
  const roots = { backupRoot: config.backupRoot, minioBackupRoot: stores.snapshots.root };

  /** Dumps, globals, base backups and configuration archives in scope, newest first. */
  const backupKeys = (entries: CatalogEntry[], scope: 'latest' | 'all'): string[] => {
    const backups = entries.filter((e) => e.metadata.kind === 'logical' || e.metadata.kind === 'globals' || e.metadata.kind === 'base' || e.metadata.kind === 'config');
    if (scope === 'all') return backups.map((e) => e.key);
    // Latest: the newest dump and the newest globals of each tier, and the newest base backup.
    return newestPerGroup(backups, (e) => ('tier' in e.metadata ? `${e.metadata.kind}:${e.metadata.tier}` : e.metadata.kind)).map((e) => e.key);
  };

  return {
    async listBackupKeys(input: { scope: 'latest' | 'all' }): Promise<string[]> {
      return backupKeys(await readCatalog(local, remote()), input.scope);
    },

    async listVerifyTargets(input: { scope: 'latest' | 'all' }): Promise<VerifyTarget[]> {
      const targets: VerifyTarget[] = backupKeys(await readCatalog(local, remote()), input.scope).map((key) => ({ kind: 'backup' as const, key }));
      if ((await localWalFiles(walArchiveDir(config.backupRoot))).length > 0) targets.push({ kind: 'wal', scope: input.scope });
      const snapshots = await listSnapshots(stores);
      for (const s of input.scope === 'all' ? snapshots : newestPerGroup(snapshots, (x) => x.bucket)) targets.push({ kind: 'snapshot', key: `${SNAPSHOT_DIR}/${s.file}` });
      return targets;
    },

    async verifyStoredBackup(input: { key: string }): Promise<VerificationResult> {
      const found = await locateBackup(input.key, local, remote());
      const keys = await privateKeys();
      const { checks } = await withHeartbeats({ key: input.key }, () => verifyArtifactCopies({ backupRoot: config.backupRoot, metadata: found.metadata, remote: found.remote ? remote() : undefined, privateKeys: keys }));
      if (config.remote.enabled && !found.remote) checks.push({ name: 'remote-checksum', ok: false, detail: `no remote copy of ${input.key}` });
      return { key: input.key, ok: checks.every((c) => c.ok), verifiedAt: new Date().toISOString(), checks };
    },

    /**
     * The local WAL archive: every file in scope (all, or from the newest base backup's first
     * segment on) by size and page header; those whose raw sha256 the off-site metadata records,
     * by content too. One summary check, then one check per bad file, named.
     */
    async verifyWalArchive(input: { scope: 'latest' | 'all' }): Promise<VerificationResult> {
      const dir = walArchiveDir(config.backupRoot);
      const store = remote();
      const newestBase = (await readCatalog(local, store)).find((e) => e.metadata.kind === 'base');
      const names = walNamesInScope(await localWalFiles(dir), input.scope, newestBase?.metadata.kind === 'base' ? newestBase.metadata.startWal : undefined);
      // Which files have a recorded sha256: one listing; each record is read only when its file is checked.
      const recordKeys = new Map<string, string>();
      let recordsProblem: string | undefined;
      if (store) {
        try {
          for await (const record of listRemoteWal(store)) recordKeys.set(record.name, record.metadataKey);
        } catch (error) {
          recordsProblem = `recorded sha256 unavailable (${message(error)})`;
        }
      }
      const recordedSha256 = async (name: string): Promise<string | undefined> => {
        const key = recordKeys.get(name);
        if (!key || !store) return undefined;
        const metadata = parseMetadata((await getBuffer(store, key)).toString('utf8'));
        return metadata?.kind === 'wal' ? metadata.rawSha256 : undefined;
      };
      const checked = await withHeartbeats({ done: 0, of: names.length }, (beats) => verifyWalArchive({ dir, names, recordedSha256, onProgress: (done, of) => beats.update({ done, of }) }));
      const at = new Date().toISOString();
      const range = names.length > 0 ? ` (${names[0]} .. ${names[names.length - 1]})` : '';
      const summary = `${checked.checked} file(s)${range} checked by size and page header, ${checked.hashed} by their recorded sha256${recordsProblem ? `; ${recordsProblem}` : ''}`;
      const ok = checked.bad.length === 0;
      const checks: CheckResult[] = [
        { name: WAL_ARCHIVE, ok, detail: ok ? summary : `${checked.bad.length} bad WAL file(s): ${checked.bad.slice(0, 10).map((b) => b.name).join(', ')}${checked.bad.length > 10 ? ', ...' : ''}; ${summary}` },
        ...checked.bad.slice(0, MAX_SEGMENT_CHECKS).map((b): CheckResult => ({ name: 'wal-segment', ok: false, detail: `${b.name}: ${b.problem}` })),
      ];
      if (!ok) logger.warn({ bad: checked.bad.length, first: checked.bad[0]?.name }, 'WAL archive verification found bad files');
      return { key: WAL_ARCHIVE_KEY, ok, verifiedAt: at, checks, copies: { local: { ok, at, detail: checks[0]!.detail } } };
    },

    /**
     * A MinIO snapshot (`snapshots/<file>`): the local copy in one pass (sha256, decoding, listing
     * against the manifest); the remote copy by checksum, or fully when it is the only good one.
     */
    async verifyStoredSnapshot(input: { key: string }): Promise<VerificationResult> {
      const file = input.key.slice(SNAPSHOT_DIR.length + 1);
      if (!input.key.startsWith(`${SNAPSHOT_DIR}/`) || !parseSnapshotFile(file)) throw new Error(`not a snapshot key: ${input.key}`);
      const store = remote();
      const localMetadataPath = join(snapshotDir, `${file}${SNAPSHOT_METADATA_SUFFIX}`);
      let metadata: SnapshotMetadata | undefined = readLocalSnapshotMetadata(snapshotDir, file);
      const remoteKey = remoteSnapshotKey(file);
      const remoteHas = store ? Boolean(await store.stat(`${remoteKey}${SNAPSHOT_METADATA_SUFFIX}`)) && Boolean(await store.stat(remoteKey)) : false;
      if (!metadata && store && remoteHas) metadata = await readRemoteSnapshotMetadata(store, file);
      const verifiedAt = new Date().toISOString();
      if (!metadata || metadata.file !== file) {
        return { key: input.key, ok: false, verifiedAt, checks: [{ name: 'content', ok: false, detail: `snapshot ${file} has no valid metadata in ${snapshotDir}${store ? ` or ${store.location}/${remoteKey}` : ''}` }] };
      }
      const m = metadata;
      const keys = await privateKeys();
      const checks: CheckResult[] = [];
      const matches = (c: { sha256: string; bytes: number }): boolean => c.sha256 === m.sha256 && c.bytes === m.bytes;
      const mismatch = (where: string, c: { sha256: string; bytes: number }): string =>
        c.bytes !== m.bytes ? `${where}: ${c.bytes} bytes, metadata says ${m.bytes} (truncated or extended)` : `${where}: sha256 ${c.sha256.slice(0, 16)}... does not match the metadata's ${m.sha256.slice(0, 16)}...`;
      const contentChecks = (c: SnapshotCheck): CheckResult[] =>
        c.decodeError
          ? [{ name: 'decrypt-decompress', ok: false, detail: c.decodeError }]
          : [
              { name: 'decrypt-decompress', ok: true, detail: 'decrypted and decompressed, integrity checks passed' },
              c.problems.length === 0
                ? { name: 'content', ok: true, detail: `all ${m.manifest.length} manifest objects present with their size and sha256, nothing else` }
                : { name: 'content', ok: false, detail: `${file}: ${c.problems.join('; ')}` },
            ];
      const openRemote = (): NodeJS.ReadableStream => {
        const pass = new PassThrough({ highWaterMark: 1 << 20 });
        store!.get(remoteKey).then((s) => s.pipe(pass), (e: unknown) => pass.destroy(e as Error));
        return pass;
      };

      await withHeartbeats({ key: input.key }, async () => {
        let decoded = false;
        const localPath = join(snapshotDir, file);
        if (existsSync(localPath)) {
          const c = await checkSnapshotCopy(() => createReadStream(localPath, { highWaterMark: 1 << 20 }), m, keys);
          const ok = matches(c);
          checks.push({ name: 'local-checksum', ok, detail: ok ? `${c.bytes} bytes, sha256 matches` : mismatch(`local copy ${localPath}`, c) });
          if (ok) {
            checks.push(...contentChecks(c));
            decoded = true;
          }
        } else if (existsSync(localMetadataPath)) {
          checks.push({ name: 'local-checksum', ok: false, detail: `local copy ${localPath} is missing` });
        }
        if (store && remoteHas) {
          const where = `remote copy ${store.location}/${remoteKey}`;
          try {
            if (decoded) {
              const c = await sha256OfStream(await store.get(remoteKey));
              checks.push({ name: 'remote-checksum', ok: matches(c), detail: matches(c) ? `${c.bytes} bytes, sha256 matches` : mismatch(where, c) });
            } else {
              const c = await checkSnapshotCopy(openRemote, m, keys);
              checks.push({ name: 'remote-checksum', ok: matches(c), detail: matches(c) ? `${c.bytes} bytes, sha256 matches` : mismatch(where, c) });
              if (matches(c)) {
                checks.push(...contentChecks(c));
                decoded = true;
              }
            }
          } catch (error) {
            checks.push({ name: 'remote-checksum', ok: false, detail: `${where}: ${message(error)}` });
          }
        } else if (store) {
          checks.push({ name: 'remote-checksum', ok: false, detail: `no remote copy of ${file} in ${store.location}` });
        }
        if (!decoded) checks.push({ name: 'decrypt-decompress', ok: false, detail: 'no copy with a matching checksum to decode' });
      });
      return { key: input.key, ok: checks.every((c) => c.ok), verifiedAt, checks };
    },

    /** Merge a result into the record beside its artifact: each copy keeps its own last state. */
    async recordVerification(input: { result: VerificationResult }): Promise<void> {
      const path = verificationRecordPath(roots, input.result.key);
      const merged = mergeVerification(readVerificationFile(path), input.result);
      mkdirSync(dirname(path), { recursive: true });
      writeFileAtomic(path, `${JSON.stringify(merged, null, 2)}\n`);
    },
  };
}
