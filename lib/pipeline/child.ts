/**
 * Spawning external tools (pg_dump, pg_basebackup, zstd, ...) with argument arrays, never a shell,
 * and secrets only in the environment. Keeps the tail of stderr for error messages and turns a
 * non-zero exit into an error the caller classifies.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';

export interface ToolProcess {
  child: ChildProcessByStdio<Writable | null, Readable, Readable>;
  /** Resolves on exit 0; rejects with ToolExit otherwise. */
  done: Promise<void>;
  /** Last 8 KB of stderr. */
  stderr(): string;
}

export class ToolExit extends Error {
  constructor(
    readonly tool: string,
    readonly code: number | null,
    readonly signal: NodeJS.Signals | null,
    readonly stderrTail: string,
  ) {
    super(`${tool} ${signal ? `was killed by ${signal}` : `exited with code ${code}`}${stderrTail ? `: ${stderrTail.trim().split('\n').slice(-3).join(' | ')}` : ''}`);
  }
}

/**
 * `stdin` may be another process's stdout pipe (a net.Socket node has not read from): the child
 * then reads that pipe itself and the bytes never pass through this process.
 */
export function spawnTool(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; stdin?: 'pipe' | 'ignore' | Readable; cwd?: string } = {}): ToolProcess {
  const child = spawn(command, args, { env: options.env ?? process.env, stdio: [options.stdin ?? 'ignore', 'pipe', 'pipe'], cwd: options.cwd }) as ChildProcessByStdio<Writable | null, Readable, Readable>;
  let tail = '';
  child.stderr.on('data', (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-8192);
  });
  const name = command.split('/').pop() ?? command;
  const done = new Promise<void>((resolve, reject) => {
    child.once('error', (error) => reject(new ToolExit(name, null, null, error.message)));
    child.once('close', (code, signal) => (code === 0 ? resolve() : reject(new ToolExit(name, code, signal, tail))));
  });
  done.catch(() => undefined); // observed by callers; avoid an unhandled rejection when they bail early
  return { child, done, stderr: () => tail };
}

/** Kill a tool if it is still running (used when the pipeline fails elsewhere). */
export function killTool(tool: ToolProcess | undefined): void {
  if (tool && tool.child.exitCode === null && tool.child.signalCode === null) tool.child.kill('SIGKILL');
}
