/**
 * Compression stages. zstd runs as the standard `zstd` CLI (multi-threaded, the same bits an
 * operator decompresses with `zstd -d`); gzip uses node's zlib (what `gunzip` reads).
 *
 * zstd always runs with `-vv`: its exit report states the exact byte counts it read and wrote,
 * which the pipeline checks against what node counted on its side of the pipes.
 */
import { readFileSync } from 'node:fs';
import { Duplex } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import { spawnTool, type ToolProcess, type ToolSpec, type SpawnOptions } from './child';

export type CompressionAlgorithm = 'zstd' | 'gzip';

export function compressionExtension(algorithm: CompressionAlgorithm): string {
  return algorithm === 'zstd' ? '.zst' : '.gz';
}

export interface Stage {
  stream: Duplex;
  /** The external process behind the stage, if any (to await its exit and kill it on failure). */
  tool?: ToolProcess;
}

/** zstd compressing stdin to stdout. -T0: one worker per core. Same output bits as without -vv. */
export function zstdCompressSpec(level: number): ToolSpec {
  return { command: 'zstd', args: [`-${level}`, '-T0', '-vv', '-c', '--no-progress'] };
}

export function createCompressStage(algorithm: CompressionAlgorithm, level: number, options: Pick<SpawnOptions, 'onSpawn'> = {}): Stage {
  if (algorithm === 'gzip') return { stream: createGzip({ level, chunkSize: 1 << 16 }) };
  const tool = spawnTool(zstdCompressSpec(level), { stdin: 'pipe', onSpawn: options.onSpawn });
  return { stream: Duplex.from({ writable: tool.child.stdin!, readable: tool.output! }), tool };
}

export function createDecompressStage(algorithm: CompressionAlgorithm): Stage {
  if (algorithm === 'gzip') return { stream: createGunzip({ chunkSize: 1 << 16 }) };
  const tool = spawnTool({ command: 'zstd', args: ['-d', '-q', '-c', '--no-progress'] }, { stdin: 'pipe' });
  return { stream: Duplex.from({ writable: tool.child.stdin!, readable: tool.output! }), tool };
}

/** `zstd -c -vv`'s exit report: "(<in> B => <out> B, ...)" (numbers space-padded); undefined until it exits. */
export function zstdCompressReport(stderr: string): { inBytes: number; outBytes: number } | undefined {
  const m = /\(\s*(\d+) B =>\s*(\d+) B/.exec(stderr);
  return m ? { inBytes: Number(m[1]), outBytes: Number(m[2]) } : undefined;
}

/** `zstd -t -vv` / `zstd -d -vv`'s report of the decoded size: "<name> : <n> bytes". */
export function zstdDecodeReport(stderr: string): number | undefined {
  const m = /: (\d+) bytes\s*$/m.exec(stderr);
  return m ? Number(m[1]) : undefined;
}

/**
 * Raw bytes a running zstd has read so far (/proc/<pid>/io rchar, Linux), refreshed at most twice
 * a second; for progress only (the exact figure is the exit report).
 */
export function readProgress(tool: ToolProcess): () => number {
  let estimate = 0;
  let readAt = 0;
  return () => {
    const reported = zstdCompressReport(tool.stderr());
    if (reported) return reported.inBytes;
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
  };
}
