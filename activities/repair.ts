/**
 * Repair activities (backup host): each copy's checksum against the metadata, and replacing one bad
 * copy from the good one with the same proven writes as a backup. The upload side is the backups'
 * own uploadArtifact (multipart, every part checked, metadata object last); the download side is
 * lib/restore/fetch.ts's ensureLocalCopy (hashed while it streams, temp file, fsync, rename).
 *
 *  checkBackupCopies  sha256 and size of the local and the off-site copy against the metadata (no decoding)
 *  replaceLocalCopy   download the off-site copy, proven, renamed over the bad local file; metadata last
 *  removeRemoteCopy   delete a bad off-site copy (metadata object first) once the local copy is proven good
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseMetadata } from '../lib/catalog/metadata';
import { metadataKey } from '../lib/catalog/names';
import type { Deps } from '../lib/deps';
import { ChecksumMismatch } from '../lib/errors';
import { commitFile, writeFileAtomic } from '../lib/pipeline/atomic-file';
import { describeMismatch, ensureLocalCopy, sha256OfFile } from '../lib/restore/fetch';
import { locateBackup } from '../lib/restore/locate';
import { getBuffer } from '../lib/storage/store';
import { verifyArtifactCopies } from '../lib/verify/artifact';
import type { BackupCopies, CopyCheck } from '../lib/verify/repair';
import { withHeartbeats } from './heartbeat';

export function createRepairActivities({ config, logger, stores }: Pick<Deps, 'config' | 'logger' | 'stores'>) {
  const { local } = stores;
  const remote = () => stores.remote;

  return {
    /**
     * Both copies' sha256 and size against the metadata. An off-site object without its metadata
     * object is not a backup (metadata is written last), so it counts as missing.
     */
    async checkBackupCopies(input: { key: string }): Promise<BackupCopies> {
      const store = remote();
      const found = await locateBackup(input.key, local, store);
      const { checks } = await withHeartbeats({ key: found.key }, () =>
        verifyArtifactCopies({ backupRoot: config.backupRoot, metadata: found.metadata, remote: found.remote ? store : undefined, decode: false }),
      );
      const state = (name: 'local-checksum' | 'remote-checksum'): CopyCheck | undefined => {
        const check = checks.find((c) => c.name === name);
        return check ? { ok: check.ok, detail: check.detail } : undefined;
      };
      const copies: BackupCopies = { key: found.key, sha256: found.metadata.sha256, bytes: found.metadata.bytes, local: state('local-checksum')! };
      if (store) copies.remote = state('remote-checksum') ?? { ok: false, detail: `no remote copy of ${found.key} in ${store.location} (no metadata object)` };
      return copies;
    },

    /**
     * Replace the local copy from the off-site one: downloaded into the restore cache, hashed while
     * it streams and kept only when it matches the metadata, then renamed over the local file (fsync,
     * rename, fsync of the directory); the local metadata record is written last when it is missing.
     */
    async replaceLocalCopy(input: { key: string }): Promise<{ key: string; sha256: string; bytes: number; path: string }> {
      const store = remote();
      if (!store) throw new ChecksumMismatch(`${input.key}: no off-site store is configured (REMOTE_STORAGE) to repair the local copy from`);
      const found = await locateBackup(input.key, local, store);
      const { metadata } = found;
      const target = local.pathOf(metadata.key);
      const fetched = await withHeartbeats({ bytesDone: 0, bytesTotal: metadata.bytes, percent: 0 }, (beats) =>
        ensureLocalCopy(config.backupRoot, metadata, store, (n, total) => beats.update({ bytesDone: n, bytesTotal: total, percent: total > 0 ? Math.round((n / total) * 1000) / 10 : 100 }), 'remote'),
      );
      mkdirSync(dirname(target), { recursive: true });
      commitFile(fetched.path, target);
      // The file as it now lies in place, once more against the metadata.
      const actual = await sha256OfFile(target);
      if (actual.sha256 !== metadata.sha256 || actual.bytes !== metadata.bytes) throw new ChecksumMismatch(describeMismatch(`repaired local copy ${target}`, metadata, actual));
      const metadataPath = local.pathOf(metadataKey(metadata.key));
      const localMetadata = existsSync(metadataPath) ? parseMetadata(readFileSync(metadataPath, 'utf8')) : undefined;
      if (!localMetadata || localMetadata.key !== metadata.key) writeFileAtomic(metadataPath, await getBuffer(store, metadataKey(metadata.key)));
      logger.info({ key: metadata.key, bytes: actual.bytes }, 'local copy repaired from the off-site copy');
      return { key: metadata.key, sha256: actual.sha256, bytes: actual.bytes, path: target };
    },

    /**
     * Delete a bad off-site copy so that uploadArtifact writes it anew (an object whose size and
     * sha256 tag look right would otherwise count as already uploaded). Only after the local copy
     * is proven good here, and the metadata object first: an object without it is not a backup.
     */
    async removeRemoteCopy(input: { key: string }): Promise<{ key: string; removed: boolean }> {
      const store = stores.offsite();
      const found = await locateBackup(input.key, local, store);
      const { metadata } = found;
      const path = local.pathOf(metadata.key);
      if (!existsSync(path) || !existsSync(local.pathOf(metadataKey(metadata.key)))) throw new ChecksumMismatch(`${metadata.key}: the local copy or its metadata is missing; the off-site copy is left as it is`);
      const actual = await withHeartbeats({ key: metadata.key }, () => sha256OfFile(path));
      if (actual.sha256 !== metadata.sha256 || actual.bytes !== metadata.bytes) {
        throw new ChecksumMismatch(`${describeMismatch(`local copy ${path}`, metadata, actual)}; the off-site copy is left as it is`);
      }
      await store.delete(metadataKey(metadata.key));
      await store.delete(metadata.key);
      logger.warn({ key: metadata.key, location: store.location }, 'bad off-site copy removed; uploading the local copy');
      return { key: metadata.key, removed: true };
    },
  };
}
