/**
 * Off-site WAL: shipping archived segments to S3 (compressed, encrypted, checksummed, metadata object
 * last), measuring the backlog, and fetching a segment back for restore_command.
 * A segment counts as shipped only when its metadata object exists remotely.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { PrivateKey } from 'openpgp';
import { LIFEBOAT_VERSION } from '../version';
import type { EncryptionKey } from '../crypto/openpgp';
import { parseMetadata, type WalMetadata } from '../catalog/metadata';
import { encodingSuffix, metadataKey, WAL_FILE_PATTERN, walRemoteKey, type Encoding } from '../catalog/names';
import { ChecksumMismatch } from '../errors';
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

export async function localWalFiles(archiveDir: string): Promise<string[]> {
  const names = await readdir(archiveDir).catch(() => [] as string[]);
  return names.filter((n) => WAL_FILE_PATTERN.test(n)).sort();
}

/** Names of WAL files whose metadata object exists remotely. */
export async function remoteWalFiles(remote: Store): Promise<Set<string>> {
  const shipped = new Set<string>();
  for await (const info of remote.list('wal-archive/')) {
    const m = /^wal-archive\/([^/]+?)(\.zst|\.gz)(\.gpg)?\.metadata\.json$/.exec(info.key);
    if (m) shipped.add(m[1]!);
  }
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

/** Ship one archived file; idempotent (re-shipping rewrites the same bytes' object and metadata). */
export async function shipWalFile(name: string, options: ShipOptions): Promise<WalMetadata> {
  const started = new Date();
  const raw = await readFile(join(options.archiveDir, name));
  const encoding: Encoding = { compression: options.compression.algorithm, encrypted: Boolean(options.encryptionKey) };
  const encoded = await encodeBuffer(raw, options.compression, options.encryptionKey);
  const key = walRemoteKey(name, encoding);
  const digest = sha256(encoded);
  await options.remote.put(key, encoded, { metadata: { sha256: digest } });
  const finished = new Date();
  const metadata: WalMetadata = {
    format: 'lifeboat/1',
    kind: 'wal',
    key,
    file: `${name}${encodingSuffix(encoding)}`,
    segment: name,
    sha256: digest,
    bytes: encoded.length,
    rawSha256: sha256(raw),
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
  return metadata;
}

/** Fetch one WAL file from S3: checksum of the stored object, decrypt, decompress, checksum of the raw file. */
export async function fetchWalRemote(name: string, remote: Store, privateKeys: PrivateKey[] | undefined): Promise<Buffer | undefined> {
  let metadata: WalMetadata | undefined;
  for (const suffix of ['.zst.gpg', '.gz.gpg', '.zst', '.gz']) {
    const info = await remote.stat(`wal-archive/${name}${suffix}.metadata.json`);
    if (!info) continue;
    const parsed = parseMetadata((await getBuffer(remote, `wal-archive/${name}${suffix}.metadata.json`)).toString('utf8'));
    if (parsed?.kind === 'wal') metadata = parsed;
    break;
  }
  if (!metadata) return undefined;
  const stored = await getBuffer(remote, metadata.key);
  if (sha256(stored) !== metadata.sha256) throw new ChecksumMismatch(`${remote.location}/${metadata.key}: sha256 does not match its metadata`);
  const raw = await decodeBuffer(stored, { compression: metadata.compression.algorithm, encrypted: metadata.encryption.enabled }, privateKeys);
  if (sha256(raw) !== metadata.rawSha256 || raw.length !== metadata.rawBytes) throw new ChecksumMismatch(`${name}: decoded WAL does not match the recorded sha256`);
  return raw;
}
