/**
 * Verification of a MinIO bucket snapshot against its metadata in one streamed pass over one copy:
 * the archive's sha256 and size, decryption and decompression, and its tar listing against the
 * manifest: every manifest object present once with its size and sha256, no entry the manifest does
 * not list (directory entries aside), no unsafe entry. Unlike the restore's safety pass
 * (lib/minio/archive-restore.ts), it does not stop at the first problem: it names them all (the first
 * few of each kind, with counts).
 */
import { createHash } from 'node:crypto';
import type { PrivateKey } from 'openpgp';
import type { SnapshotMetadata } from '../minio/metadata';
import { archiveEntryProblem, entryObjectKey } from '../minio/names';
import { HashCounter } from '../pipeline/hash';
import { sha256OfStream } from '../restore/fetch';
import { drainBody, walkTar } from './tar-walk';

const SAMPLES = 5;

export interface SnapshotCheck {
  /** sha256 and size of the encoded archive as read. */
  sha256: string;
  bytes: number;
  /** Undefined when decryption/decompression succeeded. */
  decodeError?: string;
  objects: number;
  problems: string[];
}

/** Problems of what an archive held against the manifest (pure; entries: key -> {size, sha256}). */
export function manifestProblems(metadata: Pick<SnapshotMetadata, 'manifest'>, seen: Map<string, { size: number; sha256: string }>, extra: string[], unsafe: string[], duplicates: string[]): string[] {
  const problems: string[] = [];
  const list = (what: string, items: string[]): void => {
    if (items.length > 0) problems.push(`${items.length} ${what}: ${items.slice(0, SAMPLES).map((k) => JSON.stringify(k)).join(', ')}${items.length > SAMPLES ? ', ...' : ''}`);
  };
  const missing: string[] = [];
  const different: string[] = [];
  for (const entry of metadata.manifest) {
    const found = seen.get(entry.key);
    if (!found) missing.push(entry.key);
    else if (found.size !== entry.size) different.push(`${entry.key} (${found.size} bytes, manifest ${entry.size})`);
    else if (found.sha256 !== entry.sha256) different.push(`${entry.key} (sha256 differs from the manifest)`);
  }
  list('manifest object(s) missing from the archive', missing);
  list('object(s) differing from the manifest', different);
  list('archive entr(y/ies) not in the manifest', extra);
  list('archive entr(y/ies) appearing twice', duplicates);
  list('unsafe archive entr(y/ies)', unsafe);
  return problems;
}

/**
 * Check one copy (`open` gives a fresh stream of it). When decoding fails the copy is hashed again in
 * a second pass, so its checksum is exact either way.
 */
export async function checkSnapshotCopy(open: () => NodeJS.ReadableStream, metadata: SnapshotMetadata, privateKeys: PrivateKey[] | undefined): Promise<SnapshotCheck> {
  const source = open();
  const counter = new HashCounter();
  source.on('error', (error: Error) => counter.destroy(error));
  source.pipe(counter);
  const index = new Set(metadata.manifest.map((e) => e.key));
  const seen = new Map<string, { size: number; sha256: string }>();
  const extra: string[] = [];
  const unsafe: string[] = [];
  const duplicates: string[] = [];
  let decodeError: string | undefined;
  let tarProblem: string | undefined;
  try {
    const walk = await walkTar(counter, { compression: metadata.compression.algorithm, encrypted: metadata.encryption.enabled }, privateKeys, async (header, body) => {
      const problem = archiveEntryProblem({ name: header.name, type: header.type }, metadata.root);
      if (problem) {
        unsafe.push(header.name);
        await drainBody(body);
        return;
      }
      const directory = header.type === 'directory';
      const base = entryObjectKey(header.name.replace(/\/$/, ''), metadata.root);
      const key = directory ? `${base}/` : base;
      if (!index.has(key)) {
        if (!directory) extra.push(key);
        await drainBody(body);
        return;
      }
      const hash = createHash('sha256');
      const size = await drainBody(body, (chunk) => hash.update(chunk));
      if (seen.has(key)) duplicates.push(key);
      seen.set(key, { size, sha256: hash.digest('hex') });
    });
    tarProblem = walk.tarProblem;
  } catch (error) {
    decodeError = error instanceof Error ? error.message : String(error);
  }
  if (decodeError) {
    const { sha256, bytes } = await sha256OfStream(open());
    return { sha256, bytes, decodeError, objects: seen.size, problems: [] };
  }
  const problems = [...(tarProblem ? [tarProblem] : []), ...manifestProblems(metadata, seen, extra, unsafe, duplicates)];
  return { sha256: counter.digest(), bytes: counter.bytes, objects: seen.size, problems };
}
