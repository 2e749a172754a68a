/**
 * Compression stages. zstd runs as the standard `zstd` CLI (multi-threaded, the same bits an
 * operator decompresses with `zstd -d`); gzip uses node's zlib (what `gunzip` reads).
 */
import { Duplex } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import { spawnTool, type ToolProcess } from './child';

export type CompressionAlgorithm = 'zstd' | 'gzip';

export function compressionExtension(algorithm: CompressionAlgorithm): string {
  return algorithm === 'zstd' ? '.zst' : '.gz';
}

export interface Stage {
  stream: Duplex;
  /** The external process behind the stage, if any (to await its exit and kill it on failure). */
  tool?: ToolProcess;
}

export function createCompressStage(algorithm: CompressionAlgorithm, level: number): Stage {
  if (algorithm === 'gzip') return { stream: createGzip({ level, chunkSize: 1 << 16 }) };
  // -T0: one worker per core; --no-progress/-q: quiet; reads stdin, writes stdout.
  const tool = spawnTool('zstd', [`-${level}`, '-T0', '-q', '-c', '--no-progress'], { stdin: 'pipe' });
  return { stream: Duplex.from({ writable: tool.child.stdin!, readable: tool.child.stdout }), tool };
}

export function createDecompressStage(algorithm: CompressionAlgorithm): Stage {
  if (algorithm === 'gzip') return { stream: createGunzip({ chunkSize: 1 << 16 }) };
  const tool = spawnTool('zstd', ['-d', '-q', '-c', '--no-progress'], { stdin: 'pipe' });
  return { stream: Duplex.from({ writable: tool.child.stdin!, readable: tool.child.stdout }), tool };
}
