/**
 * Off-site WAL: shipping archived segments to S3 (compressed, encrypted, checksummed, metadata object
 * last), measuring the backlog, and fetching a segment back for restore_command.
 * A segment counts as shipped only when its metadata object exists remotely; the metadata always
 * describes the object beside it, even when two attempts ship the same segment at once.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { PrivateKey } from 'openpgp';
import { LIFEBOAT_VERSION } from '../version';
import type { EncryptionKey } from '../crypto/openpgp';
import { parseMetadata, type WalMetadata } from '../catalog/metadata';
import { encodingSuffix, metadataKey, walRemoteKey, type Encoding } from '../catalog/names';
import { listRemoteWal, localWalFiles, remoteWalMetadataKey } from '../catalog/wal';
import { ChecksumMismatch, ConflictingArtifact, KeyUnavailable } from '../errors';
import { decodeBuffer, encodeBuffer } from '../pipeline/codec';
import { getBuffer, type Store } from '../storage/store';

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

export interface WalBacklog {
  /** Local segments not yet shipped, oldest first. */
  pending: string[];
  pendingBytes: number;
  shipped: number;
  /** Age of the oldest unshipped file, in seconds (0 when none). */
  oldestPendingAgeSeconds: number;
  /** Name and age of the newest file in the local archive. */
  newestLocal?: string;
  newestLocalAgeSeconds?: number;
}

/** Names of WAL files whose metadata object exists remotely. */
export async function remoteWalFiles(remote: Store): Promise<Set<string>> {
  const shipped = new Set<string>();
  for await (const record of listRemoteWal(remote)) shipped.add(record.name);
  return shipped;
}

export async function walBacklog(archiveDir: string, remote: Store): Promise<WalBacklog> {
  const [local, shipped] = await Promise.all([localWalFiles(archiveDir), remoteWalFiles(remote)]);
  const pending = local.filter((n) => !shipped.has(n));
  let pendingBytes = 0;
  let oldest = 0;
  const now = Date.now();
  for (const name of pending) {
    const info = await stat(join(archiveDir, name)).catch(() => undefined);
    if (!info) continue;
    pendingBytes += info.size;
    oldest = Math.max(oldest, (now - info.mtimeMs) / 1000);
  }
  const newest = local[local.length - 1];
  const newestInfo = newest ? await stat(join(archiveDir, newest)).catch(() => undefined) : undefined;
  return {
    pending,
    pendingBytes,
    shipped: local.length - pending.length,
    oldestPendingAgeSeconds: Math.round(oldest),
    newestLocal: newest,
    newestLocalAgeSeconds: newestInfo ? Math.round((now - newestInfo.mtimeMs) / 1000) : undefined,
  };
}

export interface ShipOptions {
  archiveDir: string;
  remote: Store;
  compression: { algorithm: 'zstd' | 'gzip'; level: number };
  encryptionKey?: EncryptionKey;
  workflowId?: string;
  runId?: string;
}

/**
 * User metadata on the remote object itself (`x-amz-meta-*`): its own sha256 and the raw segment's,
 * so the object can be checked, and told apart from another segment's, without its metadata file.
 */
const OBJECT_SHA256 = 'sha256';
const OBJECT_RAW_SHA256 = 'raw-sha256';

/** The metadata of `key` when the object there is the one it describes (size and sha256 agree). */
async function shippedMetadata(remote: Store, key: string): Promise<WalMetadata | undefined> {
  if (!(await remote.stat(metadataKey(key)))) return undefined;
  const parsed = parseMetadata((await getBuffer(remote, metadataKey(key))).toString('utf8'));
  if (parsed?.kind !== 'wal') return undefined;
  const object = await remote.stat(key);
  return object && object.size === parsed.bytes && object.metadata?.[OBJECT_SHA256] === parsed.sha256 ? parsed : undefined;
}

/**
 * Ship one archived file. Idempotent: a segment already shipped intact is left alone, anything else
 * is (re)written, object first and metadata last.
 *
 * Two attempts may ship the same segment at once (a timed-out activity attempt keeps running beside
 * its retry), and encryption makes each attempt's object different, so the metadata is written to
 * describe the object the store holds after our put (whoever wrote it), and rewritten if the object
 * changed meanwhile. A different raw file under the same segment name is a ConflictingArtifact.
 */
export async function shipWalFile(name: string, options: ShipOptions): Promise<WalMetadata> {
  const started = new Date();
  const raw = await readFile(join(options.archiveDir, name));
  const rawSha256 = sha256(raw);
  const encoding: Encoding = { compression: options.compression.algorithm, encrypted: Boolean(options.encryptionKey) };
  const key = walRemoteKey(name, encoding);
  const conflict = (): ConflictingArtifact =>
    new ConflictingArtifact(
      `${options.remote.location}/${key} holds a different ${name} than ${options.archiveDir} (raw sha256 differs)`,
      'two clusters may be shipping into the same bucket: investigate before removing anything',
    );

  const existing = await shippedMetadata(options.remote, key);
  if (existing) {
    if (existing.rawSha256 !== rawSha256) throw conflict();
    return existing;
  }

  const encoded = await encodeBuffer(raw, options.compression, options.encryptionKey);
  const digest = sha256(encoded);
  await options.remote.put(key, encoded, { metadata: { [OBJECT_SHA256]: digest, [OBJECT_RAW_SHA256]: rawSha256 } });
  for (let round = 0; round < 5; round++) {
    const object = await options.remote.stat(key);
    if (!object) throw new Error(`${options.remote.location}/${key} disappeared while shipping ${name}`);
    // Drivers without user metadata (FsStore) hold what we wrote.
    const objectSha256 = object.metadata?.[OBJECT_SHA256] ?? digest;
    const objectRawSha256 = object.metadata ? object.metadata[OBJECT_RAW_SHA256] : rawSha256;
    if (objectRawSha256 !== rawSha256) throw conflict();
    const finished = new Date();
    const metadata: WalMetadata = {
      format: 'lifeboat/1',
      kind: 'wal',
      key,
      file: `${name}${encodingSuffix(encoding)}`,
      segment: name,
      sha256: objectSha256,
      bytes: object.size,
      rawSha256,
      rawBytes: raw.length,
      compression: options.compression,
      encryption: options.encryptionKey
        ? { enabled: true, recipient: options.encryptionKey.recipient, fingerprint: options.encryptionKey.fingerprint, encryptionSubkey: options.encryptionKey.encryptionSubkey }
        : { enabled: false },
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      durationSeconds: (finished.getTime() - started.getTime()) / 1000,
      lifeboatVersion: LIFEBOAT_VERSION,
      workflowId: options.workflowId,
      runId: options.runId,
    };
    await options.remote.put(metadataKey(key), Buffer.from(`${JSON.stringify(metadata, null, 2)}\n`), { contentType: 'application/json' });
    const after = await options.remote.stat(key);
    if (after && after.etag === object.etag && after.metadata?.[OBJECT_SHA256] === object.metadata?.[OBJECT_SHA256]) return metadata;
  }
  // Retryable: the next attempt finds the segment shipped, or ships it when the other shipper is gone.
  throw new Error(`${options.remote.location}/${key} kept changing while its metadata was written: another shipper of ${name} is running`);
}

/** Segments uploaded at once by `shipWalFiles` (each holds its raw and encoded segment in memory: ~2 x 16 MiB). */
export const WAL_SHIP_CONCURRENCY = 4;

export interface ShipProgress {
  shipped: number;
  of: number;
  /** The file that just finished. */
  last: string;
  /** The newest file shipped with every file before it in this batch (undefined while the first is in flight). */
  through?: string;
}

/**
 * Ship `names` (sorted, oldest first) with up to `concurrency` uploads at once, each one
 * `shipWalFile` (verified, idempotent, metadata last). Uploads start in name order and finish in any
 * order; nothing here claims more than is off-site (a segment's metadata object is its claim, and the
 * exposure only counts a segment whose predecessors are off-site too, exposure.ts). On the first
 * failure no further upload starts, those in flight finish, and the failure is thrown: a retry
 * finds what did finish shipped and continues with the rest. Returns the shipped names, sorted.
 */
export async function shipWalFiles(
  names: readonly string[], options: ShipOptions, control: { concurrency?: number; signal?: AbortSignal; onShipped?: (progress: ShipProgress) => void } = {},
): Promise<string[]> {
  const done = names.map(() => false);
  let next = 0;
  let count = 0;
  let through = 0;
  let failure: { error: unknown } | undefined;
  const lane = async (): Promise<void> => {
    while (!failure && next < names.length) {
      if (control.signal?.aborted) {
        failure = { error: control.signal.reason };
        return;
      }
      const i = next++;
      try {
        await shipWalFile(names[i]!, options);
      } catch (error) {
        failure ??= { error };
        return;
      }
      done[i] = true;
      count++;
      while (through < names.length && done[through]) through++;
      control.onShipped?.({ shipped: count, of: names.length, last: names[i]!, through: through > 0 ? names[through - 1] : undefined });
    }
  };
  const lanes = Math.max(1, Math.min(control.concurrency ?? WAL_SHIP_CONCURRENCY, names.length));
  await Promise.all(Array.from({ length: lanes }, lane));
  if (failure) throw failure.error;
  return [...names];
}

/** Private keys, or how to load them when a segment turns out to be encrypted. */
export type PrivateKeySource = PrivateKey[] | (() => Promise<PrivateKey[]>) | undefined;

/**
 * Fetch one WAL file from S3: checksum of the stored object, decrypt, decompress, checksum of the raw
 * file against its metadata. Undefined when the segment was never shipped (no metadata object).
 */
export async function fetchWalRemote(name: string, remote: Store, privateKeys: PrivateKeySource): Promise<Buffer | undefined> {
  let metadata: WalMetadata | undefined;
  for (const suffix of ['.zst.gpg', '.gz.gpg', '.zst', '.gz']) {
    const info = await remote.stat(remoteWalMetadataKey(name, suffix));
    if (!info) continue;
    const parsed = parseMetadata((await getBuffer(remote, remoteWalMetadataKey(name, suffix))).toString('utf8'));
    if (parsed?.kind === 'wal') metadata = parsed;
    break;
  }
  if (!metadata) return undefined;
  const stored = await getBuffer(remote, metadata.key);
  const digest = sha256(stored);
  if (digest !== metadata.sha256) {
    // A shipper that died between its object and its metadata may have replaced an object shipped in
    // full: another encryption of the same segment. Accept it only when it is intact by its own
    // checksum and names the same raw segment; the raw sha256 below is checked either way.
    const own = (await remote.stat(metadata.key))?.metadata;
    if (own?.[OBJECT_SHA256] !== digest || own[OBJECT_RAW_SHA256] !== metadata.rawSha256) {
      throw new ChecksumMismatch(`${remote.location}/${metadata.key}: sha256 does not match its metadata`);
    }
  }
  let keys: PrivateKey[] | undefined;
  if (metadata.encryption.enabled) {
    keys = typeof privateKeys === 'function' ? await privateKeys() : privateKeys;
    if (!keys) throw new KeyUnavailable(`${remote.location}/${metadata.key} is encrypted and no private key is loaded`, 'set GPG_PRIVATE_KEY_FILE (or import the backup key into GnuPG)');
  }
  const raw = await decodeBuffer(stored, { compression: metadata.compression.algorithm, encrypted: metadata.encryption.enabled }, keys);
  if (sha256(raw) !== metadata.rawSha256 || raw.length !== metadata.rawBytes) throw new ChecksumMismatch(`${name}: decoded WAL does not match the recorded sha256`);
  return raw;
}
