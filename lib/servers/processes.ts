/**
 * Daemon bookkeeping for the servers Lifeboat starts on this machine (the embedded stack, the DR
 * runbook's `local` environments): start a server detached with its output in a log file, remember
 * its pid, recognise it again (pid alive AND command line is ours, so a recycled pid is never
 * mistaken for our server), find every process working in a directory, stop exactly it, and poll
 * for readiness without fixed sleeps.
 */
import { spawn, spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createConnection } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { StackFailed } from '../errors';

/** Command line of a live process, or undefined when it does not exist. */
export function processCommandLine(pid: number): string[] | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (raw === '') return undefined; // zombie
    return raw.split('\0').filter((x) => x.length > 0);
  } catch {
    return undefined;
  }
}

/** True when `pid` is alive and its command line contains every one of `markers`. */
export function isOurProcess(pid: number | undefined, markers: readonly string[]): boolean {
  if (!pid) return false;
  const argv = processCommandLine(pid);
  if (!argv) return false;
  const joined = argv.join(' ');
  return markers.every((m) => joined.includes(m));
}

/**
 * Live processes with an argument that is `dir` or lies below it (a server's data directory on its
 * command line): what is still running for a directory, whoever started it and whatever its pid
 * file says. Our own process is never listed.
 */
/** Every live process but our own, by pid (empty without /proc). */
function otherPids(): number[] {
  try {
    return readdirSync('/proc').filter((e) => /^\d+$/.test(e)).map(Number).filter((pid) => pid !== process.pid);
  } catch {
    return [];
  }
}

export function processesUnder(dir: string): number[] {
  const root = dir.replace(/\/+$/, '');
  const found: number[] = [];
  for (const pid of otherPids()) {
    const argv = processCommandLine(pid);
    if (argv?.some((a) => a === root || a.startsWith(`${root}/`))) found.push(pid);
  }
  return found;
}

/**
 * Live processes whose working directory is `dir` or below it. A postmaster's children (backends,
 * checkpointer, ...) work in its data directory and outlive a killed postmaster for a moment, so a
 * restart waits until this is empty (PostgreSQL refuses to start while they hold its shared memory).
 */
export function processesWorkingIn(dir: string): number[] {
  const root = dir.replace(/\/+$/, '');
  const found: number[] = [];
  for (const pid of otherPids()) {
    try {
      const cwd = readlinkSync(`/proc/${pid}/cwd`);
      if (cwd === root || cwd.startsWith(`${root}/`)) found.push(pid);
    } catch {
      // exited, or not ours to look at
    }
  }
  return found;
}

export interface DaemonSpec {
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  logFile: string;
  cwd?: string;
  uid?: number;
  gid?: number;
}

/** Start a detached daemon whose stdout/stderr append to logFile; returns its pid. */
export function startDaemon(spec: DaemonSpec): number {
  const fd = openSync(spec.logFile, 'a');
  try {
    const child = spawn(spec.command, spec.args, {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: spec.env ?? process.env,
      cwd: spec.cwd,
      uid: spec.uid,
      gid: spec.gid,
    });
    if (child.pid === undefined) throw new StackFailed(`could not start ${spec.command}`);
    child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** Send SIGTERM, wait for exit, then SIGKILL if needed. Returns when the process is gone. */
export async function stopProcess(pid: number, timeoutMs = 20_000): Promise<void> {
  const alive = (): boolean => processCommandLine(pid) !== undefined;
  if (!alive()) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + timeoutMs;
  while (alive() && Date.now() < deadline) await delay(100);
  if (alive()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
    while (alive()) await delay(50);
  }
}

export interface WaitOptions {
  what: string;
  timeoutMs?: number;
  intervalMs?: number;
  /** Log file to quote from when the wait fails. */
  logFile?: string;
  /** Stop early with a failure when this returns false (e.g. the process died). */
  stillRunning?: () => boolean;
}

/** Poll `check` until it returns true; fail with the log tail after the timeout. */
export async function waitUntil(check: () => Promise<boolean>, options: WaitOptions): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    if (await check().catch(() => false)) return;
    if (options.stillRunning && !options.stillRunning()) {
      throw new StackFailed(`${options.what} exited during start-up${logTail(options.logFile)}`);
    }
    if (Date.now() > deadline) {
      throw new StackFailed(`${options.what} was not ready after ${Math.round((options.timeoutMs ?? 60_000) / 1000)} s${logTail(options.logFile)}`);
    }
    await delay(options.intervalMs ?? 200);
  }
}

/** "; last lines of <file>: ..." (15 lines), or nothing when there is no such file. */
export function logTail(file: string | undefined): string {
  if (!file || !existsSync(file)) return '';
  const lines = readFileSync(file, 'utf8').trimEnd().split('\n').slice(-15);
  return `; last lines of ${file}:\n${lines.map((l) => `    ${l}`).join('\n')}`;
}

/** True when something accepts TCP connections on host:port. */
export function portOpen(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (open: boolean): void => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Run a command synchronously with an argument array; throw StackFailed with its output on failure. */
export function run(command: string, args: string[], options: SpawnSyncOptions = {}): string {
  const result = spawnSync(command, args, { encoding: 'utf8', ...options });
  if (result.error) throw new StackFailed(`${command} could not run: ${result.error.message}`);
  if (result.status !== 0) {
    const output = `${String(result.stdout ?? '')}${String(result.stderr ?? '')}`.trim().split('\n').slice(-10).join('\n    ');
    throw new StackFailed(`${command} ${args[0] ?? ''} failed with exit code ${result.status}:\n    ${output}`);
  }
  return String(result.stdout ?? '');
}
