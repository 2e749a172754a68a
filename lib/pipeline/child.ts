/**
 * Spawning external tools (pg_dump, pg_basebackup, zstd, psql, tar, ...) with argument arrays,
 * never a shell, and secrets only in the environment. Keeps the tail of stderr for error messages
 * and turns a non-zero exit into an error the caller classifies.
 *
 * Two rules are enforced here, so no caller can forget them:
 * - **Output is owned from the tick of the spawn.** Node resumes (and so discards) a child's
 *   unread stdout when the child exits; a consumer attached one `await` later reads nothing, and
 *   an empty stream looks like a good one. So a tool's stdout is either handed to the next process
 *   of a chain by the kernel (spawnChain, all in one synchronous call) or piped, in the same tick,
 *   into `output`: a buffer with back-pressure that keeps every byte until someone reads it.
 *   `child.stdout` is not exposed.
 * - **Tools die with the worker.** Each tool is started through util-linux `setpriv --pdeathsig
 *   KILL` where available: if the worker process dies (SIGKILL, OOM), the kernel kills its tools,
 *   so no pg_dump keeps a connection and an exported snapshot (holding back vacuum) after it.
 *   Their PIDs and start times are also reported (`onSpawn`), so a retried attempt can stop what
 *   an earlier one left on a machine without setpriv (see stopLeftovers).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';

export interface ToolSpec {
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  uid?: number;
  gid?: number;
}

/** A process as recorded in heartbeat details: enough to find it again, and only it. */
export interface ToolPid {
  name: string;
  pid: number;
  /** Start time in clock ticks since boot (/proc/<pid>/stat field 22): tells a reused PID apart. */
  startTicks?: number;
}

export interface ToolProcess {
  name: string;
  /** The process (for its pid, stdin and kill). Its stdout is owned: read `output`. */
  child: ChildProcess;
  /** stdout, owned since the spawn; undefined when a chain handed it to the next process. */
  output: Readable | undefined;
  /** Bytes node has taken from the tool's stdout so far (0 when handed to the next process). */
  outputBytes(): number;
  /** Resolves on exit 0; rejects with ToolExit otherwise. */
  done: Promise<void>;
  /** Last 8 KB of stderr. */
  stderr(): string;
  pid(): ToolPid | undefined;
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

export interface SpawnOptions {
  /** 'pipe': write to `child.stdin`; 'ignore': /dev/null. */
  stdin?: 'pipe' | 'ignore';
  /** Called once per started process (for heartbeat details). */
  onSpawn?: (pid: ToolPid) => void;
}

/** Spawn one tool; its stdout is owned (`output`) from this tick on. */
export function spawnTool(spec: ToolSpec, options: SpawnOptions = {}): ToolProcess {
  return spawnChain([spec], options)[0]!;
}

/**
 * Spawn tools connected stdout -> stdin by kernel pipes, all in this synchronous call (node never
 * reads the pipes in between, so the bytes never pass through this process); the last tool's
 * stdout is owned (`output`). `options.stdin` applies to the first tool.
 */
export function spawnChain(specs: ToolSpec[], options: SpawnOptions = {}): ToolProcess[] {
  const tools: ToolProcess[] = [];
  let upstream: Readable | undefined;
  specs.forEach((spec, index) => {
    const last = index === specs.length - 1;
    const stdin = upstream ?? options.stdin ?? 'ignore';
    const [command, args] = withDeathSignal(spec);
    const child = spawn(command, args, { env: spec.env ?? process.env, stdio: [stdin, 'pipe', 'pipe'], cwd: spec.cwd, uid: spec.uid, gid: spec.gid });
    // Our copy of the pipe the previous tool writes: the child just spawned is its only reader.
    upstream?.destroy();
    const stdout = child.stdout!;
    let taken = 0;
    let output: PassThrough | undefined;
    if (last) {
      output = new PassThrough({ highWaterMark: 1 << 20 });
      stdout.on('data', (chunk: Buffer) => {
        taken += chunk.length;
      });
      stdout.pipe(output);
      stdout.once('error', (error) => output!.destroy(error));
    } else {
      upstream = stdout;
    }
    tools.push(track(spec, child, output, () => taken, options.onSpawn));
  });
  return tools;
}

function track(spec: ToolSpec, child: ChildProcess, output: Readable | undefined, taken: () => number, onSpawn: SpawnOptions['onSpawn']): ToolProcess {
  let tail = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-8192);
  });
  const name = spec.command.split('/').pop() ?? spec.command;
  const done = new Promise<void>((resolve, reject) => {
    child.once('error', (error) => reject(new ToolExit(name, null, null, error.message)));
    child.once('close', (code, signal) => (code === 0 ? resolve() : reject(new ToolExit(name, code, signal, tail))));
  });
  done.catch(() => undefined); // observed by callers; avoid an unhandled rejection when they bail early
  const pid = child.pid === undefined ? undefined : { name, pid: child.pid, startTicks: startTicksOf(child.pid) };
  if (pid) onSpawn?.(pid);
  return { name, child, output, outputBytes: taken, done, stderr: () => tail, pid: () => pid };
}

/** Kill a tool if it is still running (used when the pipeline fails elsewhere). */
export function killTool(tool: ToolProcess | undefined): void {
  if (tool && tool.child.exitCode === null && tool.child.signalCode === null) tool.child.kill('SIGKILL');
}

// ---- dying with the worker --------------------------------------------------------------------

let setprivPath: string | null | undefined;

/** `setpriv --pdeathsig KILL -- <command> <args>` where setpriv exists and the command resolves. */
function withDeathSignal(spec: ToolSpec): [string, string[]] {
  setprivPath ??= process.platform === 'linux' && process.env.LIFEBOAT_NO_PDEATHSIG !== '1' ? findExecutable('setpriv', process.env) ?? null : null;
  // An unresolvable command is spawned as is, so node reports ENOENT the usual way.
  const resolved = setprivPath ? findExecutable(spec.command, spec.env ?? process.env) : undefined;
  if (!setprivPath || !resolved) return [spec.command, spec.args];
  return [setprivPath, ['--pdeathsig', 'KILL', '--', resolved, ...spec.args]];
}

/** `command` itself when it is a path, else the first executable of that name on env.PATH. */
export function findExecutable(command: string, env: NodeJS.ProcessEnv): string | undefined {
  const candidates = command.includes('/') ? [command] : (env.PATH ?? '/usr/bin:/bin').split(delimiter).filter(isAbsolute).map((dir) => join(dir, command));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Field 22 of /proc/<pid>/stat (after the parenthesised command name); undefined off Linux. */
export function startTicksOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[19]);
  } catch {
    return undefined;
  }
}

/** This boot of this machine: PIDs recorded under another boot id mean nothing here. */
export function bootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return undefined;
  }
}

/**
 * Stop processes an earlier attempt recorded (heartbeat details) if they still run: same boot,
 * same PID, same start time (a reused PID is someone else's and is left alone). Returns what
 * was killed.
 */
export function stopLeftovers(pids: readonly ToolPid[] | undefined, recordedBootId: string | undefined): ToolPid[] {
  if (!pids?.length || !recordedBootId || recordedBootId !== bootId()) return [];
  const killed: ToolPid[] = [];
  for (const p of pids) {
    if (p.startTicks === undefined || startTicksOf(p.pid) !== p.startTicks) continue;
    try {
      process.kill(p.pid, 'SIGKILL');
      killed.push(p);
    } catch {
      // already gone, or not ours
    }
  }
  return killed;
}
