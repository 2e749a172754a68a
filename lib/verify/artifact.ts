/**
 * Verification of a stored artifact without restoring it: the local and the remote copy against the
 * metadata's sha256 and size, then decryption (MDC) and decompression (frame checksums) of the
 * verified copy streamed to nowhere, and what the decoded content must be for its kind (a non-empty
 * pg_dump / pg_dumpall header; a base backup's tar listing, backup_label and WAL, see ./content; a
 * configuration archive's entries against its manifest, see lib/config-files/restore.ts).
 * Each check gives a result and, when it fails, a reason.
 */
import { createReadStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { PrivateKey } from 'openpgp';
import type { WAL_ARCHIVE } from '../catalog/layout';
import type { ArtifactMetadata, ConfigMetadata } from '../catalog/metadata';
import { checkConfigArchive } from '../config-files/restore';
import { ChecksumMismatch, OperationRefused } from '../errors';
import { describeMismatch, sha256OfFile, sha256OfStream } from '../restore/fetch';
import type { Store } from '../storage/store';
import { decodeHead, dumpProblem, globalsProblem, inspectBaseBackup } from './content';

export interface CheckResult {
  /**
   * `content`: what the decoded artifact holds (globals header, base backup listing, snapshot
   * manifest); `wal-archive` / `wal-segment`: the local WAL archive and one bad segment in it.
   */
  name: 'local-checksum' | 'remote-checksum' | 'decrypt-decompress' | 'content' | 'test-restore' | typeof WAL_ARCHIVE | 'wal-segment';
  ok: boolean;
  detail: string;
}

export type CopyName = 'local' | 'remote';

/** The last verification of one copy of an artifact. */
export interface CopyState {
  ok: boolean;
  /** ISO time of that verification. */
  at: string;
  detail: string;
  workflowId?: string;
}

export interface VerificationResult {
  key: string;
  /** Overall: false while any copy's last known state is failed. */
  ok: boolean;
  /** The newest verification time of any copy. */
  verifiedAt: string;
  /** The latest run's checks. */
  checks: CheckResult[];
  workflowId?: string;
  /** Each copy's own last state (see ./record: merged on write, derived from checks for old records). */
  copies?: Partial<Record<CopyName, CopyState>>;
  /** Set by the scheduled verification when it repaired (or tried to repair) one bad copy from the good one. */
  repair?: RepairOutcome;
}

/** A repair the verification ran: which copy was replaced from which, or why it failed. */
export interface RepairOutcome {
  ok: boolean;
  copy?: CopyName;
  from?: CopyName;
  detail: string;
}

export const VERIFICATION_SUFFIX = '.verification.json';

export interface VerifyOptions {
  backupRoot: string;
  metadata: ArtifactMetadata;
  remote?: Store;
  privateKeys?: PrivateKey[];
  /** Decrypt and decompress the verified copy (default true). */
  decode?: boolean;
}

const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));

export async function verifyArtifact(options: VerifyOptions): Promise<CheckResult[]> {
  return (await verifyArtifactCopies(options)).checks;
}

/** The checks, and which copy was decoded (undefined when none had a matching checksum). */
export async function verifyArtifactCopies(options: VerifyOptions): Promise<{ checks: CheckResult[]; decoded?: CopyName }> {
  const { metadata } = options;
  const checks: CheckResult[] = [];
  const localPath = join(options.backupRoot, metadata.key);
  let goodCopy: (() => NodeJS.ReadableStream) | undefined;
  let decoded: CopyName | undefined;

  if (existsSync(localPath)) {
    const actual = await sha256OfFile(localPath);
    const ok = actual.sha256 === metadata.sha256 && actual.bytes === metadata.bytes;
    checks.push({ name: 'local-checksum', ok, detail: ok ? `${actual.bytes} bytes, sha256 matches` : describeMismatch(`local copy ${localPath}`, metadata, actual) });
    if (ok) {
      goodCopy = () => createReadStream(localPath, { highWaterMark: 1 << 20 });
      decoded = 'local';
    }
  } else {
    checks.push({ name: 'local-checksum', ok: false, detail: `local copy ${localPath} is missing` });
  }

  if (options.remote) {
    const remote = options.remote;
    try {
      const actual = await sha256OfStream(await remote.get(metadata.key));
      const ok = actual.sha256 === metadata.sha256 && actual.bytes === metadata.bytes;
      checks.push({ name: 'remote-checksum', ok, detail: ok ? `${actual.bytes} bytes, sha256 matches` : describeMismatch(`remote copy ${remote.location}/${metadata.key}`, metadata, actual) });
      if (ok && !goodCopy) {
        // Re-read the remote copy for decoding only when there is no good local one.
        goodCopy = () => {
          const pass = new PassThrough({ highWaterMark: 1 << 20 });
          remote.get(metadata.key).then((s) => s.pipe(pass), (e: unknown) => pass.destroy(e as Error));
          return pass;
        };
        decoded = 'remote';
      }
    } catch (error) {
      checks.push({ name: 'remote-checksum', ok: false, detail: `remote copy ${remote.location}/${metadata.key}: ${message(error)}` });
    }
  }

  if (options.decode !== false) {
    if (!goodCopy) {
      checks.push({ name: 'decrypt-decompress', ok: false, detail: 'no copy with a matching checksum to decode' });
    } else {
      checks.push(...(await decodeAndInspect(goodCopy(), metadata, options.privateKeys)));
    }
  }
  return { checks, decoded: goodCopy ? decoded : undefined };
}

/** Decrypt and decompress one copy, checking what it holds for its kind. */
async function decodeAndInspect(source: NodeJS.ReadableStream, metadata: ArtifactMetadata, privateKeys: PrivateKey[] | undefined): Promise<CheckResult[]> {
  const encoding = { compression: metadata.compression.algorithm, encrypted: metadata.encryption.enabled };
  try {
    if (metadata.kind === 'base') {
      const inspected = await inspectBaseBackup(source, encoding, privateKeys, metadata);
      return [
        { name: 'decrypt-decompress', ok: true, detail: `${inspected.bytes} bytes of content decoded, integrity checks passed` },
        inspected.problems.length === 0
          ? {
              name: 'content',
              ok: true,
              detail: `tar of ${inspected.entries} entries; backup_label, pg_control and WAL ${metadata.startWal}..${metadata.stopWal} match the metadata${inspected.manifestFiles !== undefined ? `; all ${inspected.manifestFiles} files of backup_manifest present with their sizes` : ''}`,
            }
          : { name: 'content', ok: false, detail: inspected.problems.join('; ') },
      ];
    }
    if (metadata.kind === 'config') return await inspectConfigArchive(source, metadata, privateKeys);
    const { bytes, head } = await decodeHead(source, encoding, privateKeys);
    const decodedOk: CheckResult = { name: 'decrypt-decompress', ok: true, detail: `${bytes} bytes of content decoded, integrity checks passed` };
    if (metadata.kind === 'globals') {
      const problem = globalsProblem(bytes, head);
      return [decodedOk, { name: 'content', ok: !problem, detail: problem ?? `pg_dumpall globals dump of ${bytes} bytes` }];
    }
    if (metadata.kind === 'logical') {
      // Folded into the decoding check: a dump that decodes to nothing did not decode to a dump.
      const problem = dumpProblem(bytes, head, metadata.dumpFormat);
      return [problem ? { name: 'decrypt-decompress', ok: false, detail: problem } : decodedOk];
    }
    return [bytes > 0 ? decodedOk : { name: 'decrypt-decompress', ok: false, detail: 'decodes to nothing (0 bytes)' }];
  } catch (error) {
    return [{ name: 'decrypt-decompress', ok: false, detail: message(error) }];
  }
}

/** A configuration archive: every entry as its manifest says (type, mode, owner, size, sha256), nothing else, nothing missing. */
async function inspectConfigArchive(source: NodeJS.ReadableStream, metadata: ConfigMetadata, privateKeys: PrivateKey[] | undefined): Promise<CheckResult[]> {
  try {
    const { entries, bytes } = await checkConfigArchive({ where: metadata.key, open: () => source, metadata, privateKeys }, 'in-place');
    return [
      { name: 'decrypt-decompress', ok: true, detail: `${bytes} bytes of content decoded, integrity checks passed` },
      { name: 'content', ok: true, detail: `tar of ${entries} entries; every file, directory and link of the manifest with its mode, owner, size and sha256, nothing else` },
    ];
  } catch (error) {
    // The archive decoded as far as the walk went; what it holds disagrees with the manifest.
    if (error instanceof ChecksumMismatch || error instanceof OperationRefused) return [{ name: 'content', ok: false, detail: message(error) }];
    throw error;
  }
}
