/**
 * Compression stages. zstd runs as the standard `zstd` CLI (multi-threaded, the same bits an
 * operator decompresses with `zstd -d`); gzip uses node's zlib (what `gunzip` reads).
 */
import { readFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { Duplex, type Readable } from 'node:stream';
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

export interface PipeStage {
  /** The compressed bytes. */
  output: Readable;
  tool: ToolProcess;
  /** Raw bytes compressed: exact once the tool has exited, an estimate while it runs. */
  rawBytes(): number;
}

/**
 * zstd reading a producer's stdout pipe itself, so the raw bytes (most of the data) never pass
 * through node: that saves a read and a write per 64 KB, about a CPU-second per GB on a 2-core
 * machine that is already busy with pg_dump and zstd. Possible only while node has read nothing
 * from the pipe, i.e. in the tick that spawned the producer. Returns undefined otherwise, and for
 * gzip (which runs in-process); the caller then pipes the source through createCompressStage.
 */
export function compressPipe(source: Readable, algorithm: CompressionAlgorithm, level: number): PipeStage | undefined {
  if (algorithm !== 'zstd' || !(source instanceof Socket) || source.bytesRead > 0 || source.readableLength > 0 || source.readableFlowing !== null || source.destroyed) return undefined;
  // -vv: the exit report states the exact byte counts, "(<in> B => <out> B, ...)". Same output bits.
  const tool = spawnTool('zstd', [`-${level}`, '-T0', '-vv', '-c', '--no-progress'], { stdin: source });
  // Close our copy of the pipe: zstd is its only reader, and the producer can report 'close'.
  source.destroy();
  let estimate = 0;
  let readAt = 0;
  return {
    output: tool.child.stdout,
    tool,
    rawBytes() {
      const reported = /\((\d+) B => \d+ B/.exec(tool.stderr());
      if (reported) return Number(reported[1]);
      // While it runs: what zstd has read so far (/proc/<pid>/io, Linux), refreshed twice a second.
      if (tool.child.exitCode === null && Date.now() - readAt > 500) {
        readAt = Date.now();
        try {
          const rchar = /^rchar: (\d+)$/m.exec(readFileSync(`/proc/${tool.child.pid}/io`, 'utf8'));
          if (rchar) estimate = Number(rchar[1]);
        } catch {
          // not Linux, or the process is gone: keep the last estimate
        }
      }
      return estimate;
    },
  };
}

export function createDecompressStage(algorithm: CompressionAlgorithm): Stage {
  if (algorithm === 'gzip') return { stream: createGunzip({ chunkSize: 1 << 16 }) };
  const tool = spawnTool('zstd', ['-d', '-q', '-c', '--no-progress'], { stdin: 'pipe' });
  return { stream: Duplex.from({ writable: tool.child.stdin!, readable: tool.child.stdout }), tool };
}
