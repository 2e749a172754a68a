/**
 * Verification of a stored artifact without restoring it: the local and the remote copy against the
 * metadata's sha256 and size, then decryption (MDC) and decompression (frame checksums) of the
 * verified copy streamed to nowhere. Each check gives a result and, when it fails, a reason.
 */
import { createReadStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import type { PrivateKey } from 'openpgp';
import type { ArtifactMetadata } from '../catalog/metadata';
import { decodeStream } from '../pipeline/codec';
import { describeMismatch, sha256OfFile, sha256OfStream } from '../restore/fetch';
import type { Store } from '../storage/store';

export interface CheckResult {
  name: 'local-checksum' | 'remote-checksum' | 'decrypt-decompress' | 'test-restore';
  ok: boolean;
  detail: string;
}

export interface VerificationResult {
  key: string;
  ok: boolean;
  verifiedAt: string;
  checks: CheckResult[];
  workflowId?: string;
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
  const { metadata } = options;
  const checks: CheckResult[] = [];
  const localPath = join(options.backupRoot, metadata.key);
  let goodCopy: (() => NodeJS.ReadableStream) | undefined;

  if (existsSync(localPath)) {
    const actual = await sha256OfFile(localPath);
    const ok = actual.sha256 === metadata.sha256 && actual.bytes === metadata.bytes;
    checks.push({ name: 'local-checksum', ok, detail: ok ? `${actual.bytes} bytes, sha256 matches` : describeMismatch(`local copy ${localPath}`, metadata, actual) });
    if (ok) goodCopy = () => createReadStream(localPath, { highWaterMark: 1 << 20 });
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
      }
    } catch (error) {
      checks.push({ name: 'remote-checksum', ok: false, detail: `remote copy ${remote.location}/${metadata.key}: ${message(error)}` });
    }
  }

  if (options.decode !== false) {
    if (!goodCopy) {
      checks.push({ name: 'decrypt-decompress', ok: false, detail: 'no copy with a matching checksum to decode' });
    } else {
      let bytes = 0;
      try {
        await decodeStream(goodCopy(), { compression: metadata.compression.algorithm, encrypted: metadata.encryption.enabled }, options.privateKeys, new Writable({ write(chunk: Buffer, _e, cb) { bytes += chunk.length; cb(); } }));
        checks.push({ name: 'decrypt-decompress', ok: true, detail: `${bytes} bytes of content decoded, integrity checks passed` });
      } catch (error) {
        checks.push({ name: 'decrypt-decompress', ok: false, detail: message(error) });
      }
    }
  }
  return checks;
}
