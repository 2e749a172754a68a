/**
 * What every CLI verb that talks to Temporal needs: validated config (before any connection),
 * a logger on stderr, the installed Runtime, and a client. Config comes from LIFEBOAT_ENV_FILE,
 * else /etc/default/corporate-intel-backup, else (for development) the local stack's env file.
 */
import { existsSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { Client, Connection } from '@temporalio/client';
import { DEFAULT_ENV_FILE, loadConfig, type Config } from '../lib/config/load';
import { InputInvalid } from '../lib/errors';
import { temporalConnectionOptions } from '../lib/config/temporal';
import { lifeboatDataConverter } from '../lib/codec/data-converter';
import { createLogger, type Logger } from '../lib/logger';
import { stackPaths } from './stack/stack';
import { stackSettings } from './stack/settings';

export interface CliContext {
  config: Config;
  logger: Logger;
}

/** The env file to read: explicit, system-wide, or the dev stack's; undefined = environment only. */
export function resolveEnvFile(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.LIFEBOAT_ENV_FILE) return env.LIFEBOAT_ENV_FILE;
  if (existsSync(DEFAULT_ENV_FILE)) return DEFAULT_ENV_FILE;
  const stackEnv = stackPaths(stackSettings(env).dir).envFile;
  return existsSync(stackEnv) ? stackEnv : undefined;
}

export function loadCliContext(options: { envFile?: string; logFd?: number; logFile?: string } = {}): CliContext {
  const envFile = options.envFile ?? resolveEnvFile();
  const config = loadConfig({ envFile: envFile ?? '/dev/null' });
  const logger = createLogger({ level: config.logLevel, secrets: config.secretValues, fd: options.logFd ?? 2, file: options.logFile });
  return { config, logger };
}

/** The OS user running the CLI (its passwd entry; $USER where there is none, e.g. containers). */
function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
  }
}

/** `lifeboat-cli:<os user>@<host>`: the identity Temporal records on every start, signal and update (audit trail). */
export function cliIdentity(): string {
  return `lifeboat-cli:${osUser()}@${hostname()}`;
}

/** Who approves (or declares, or aborts): `--by`, else the user behind sudo, else the OS user. */
export function personOf(by: unknown, flag = '--by'): string {
  const name = String(by ?? process.env.SUDO_USER ?? osUser()).trim();
  if (!name) throw new InputInvalid(flag, 'must name a person');
  return name;
}

export async function connectClient(config: Config): Promise<Client> {
  const connection = await Connection.connect(temporalConnectionOptions(config));
  // With LIFEBOAT_PAYLOAD_KEY set, inputs, results, update arguments and failures are encrypted here.
  return new Client({ connection, namespace: config.temporal.namespace, identity: cliIdentity(), dataConverter: lifeboatDataConverter(config) });
}

/** Run `fn` with validated config and a connected client; the connection is always closed. */
export async function withClient<T>(fn: (client: Client, config: Config) => Promise<T>): Promise<T> {
  const { config } = loadCliContext();
  const client = await connectClient(config);
  try {
    return await fn(client, config);
  } finally {
    await client.connection.close();
  }
}
