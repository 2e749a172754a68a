/**
 * `lifeboat temporal ...`: the stack's `temporal` CLI (built into LIFEBOAT_TOOLS_DIR, default
 * ~/.cache/lifeboat/bin) run with Lifeboat's configured Temporal address, namespace and API key, so
 * on-call never has to find the binary or repeat the connection. Everything after `temporal` is
 * passed through unchanged; an explicit --address / --namespace wins. The connection goes in the
 * environment (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY: the CLI's own environment
 * config), never on a command line that `ps` shows.
 *
 * `temporalHint` is how every hint prints a `temporal` command: with --address and --namespace.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../../lib/config/load';
import { PrerequisiteMissing } from '../../lib/errors';
import { defaultToolsDir } from '../../lib/servers/binaries';
import type { CommandSpec } from '../command-table';
import { loadCliContext } from '../context';

/** `temporal <args> --address A --namespace N`: a hint that works from any shell. Pure. */
export function temporalHint(config: Pick<Config, 'temporal'>, args: string): string {
  return `temporal ${args} --address ${config.temporal.address} --namespace ${config.temporal.namespace}`;
}

/** The `temporal` binary: the stack's, else the one on PATH. */
export function temporalBinary(env: NodeJS.ProcessEnv = process.env): string {
  const built = join(defaultToolsDir(env), 'temporal');
  return existsSync(built) ? built : 'temporal';
}

/** The environment the passed-through CLI runs with: the configured connection. Pure. */
export function temporalEnv(config: Pick<Config, 'temporal'>, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const { address, namespace, apiKey } = config.temporal;
  return { ...env, TEMPORAL_ADDRESS: address, TEMPORAL_NAMESPACE: namespace, ...(apiKey ? { TEMPORAL_API_KEY: apiKey } : {}) };
}

export async function runTemporal(args: string[], config: Pick<Config, 'temporal'>): Promise<number> {
  const binary = temporalBinary();
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: 'inherit', env: temporalEnv(config) });
    child.on('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'ENOENT' ? new PrerequisiteMissing(`the temporal CLI was not found (${binary})`, 'build it: `lifeboat tools ensure` (or `lifeboat stack up`)') : error),
    );
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 + 15 : 1)));
  });
}

export const temporalCommands: CommandSpec[] = [
  {
    name: 'temporal',
    summary: 'run the stack\'s `temporal` CLI with the configured address and namespace (e.g. `lifeboat temporal workflow list`)',
    args: [{ name: 'args', description: 'arguments for `temporal`', optional: true, variadic: true }],
    passThrough: true,
    async run(args) {
      const { config } = loadCliContext();
      return runTemporal(args, config);
    },
  },
];
