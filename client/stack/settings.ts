/**
 * Where the embedded local stack lives and which loopback ports it uses. Read from LIFEBOAT_*
 * variables so several stacks (the developer's, the test suite's) can run side by side.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { InputInvalid } from '../../lib/errors';
import { defaultToolsDir } from '../../lib/servers/binaries';

export interface StackPorts {
  temporal: number;
  temporalUi: number;
  postgres: number;
  minioSource: number;
  minioSourceConsole: number;
  minioBackup: number;
  minioBackupConsole: number;
  /** BIND 9 (UDP and TCP), primary for the demo zone the DR runbook switches. */
  dns: number;
}

export interface StackSettings {
  /** Data directory: databases, logs, pid state, generated secrets and keys. */
  dir: string;
  /** Cache of built server binaries (temporal, minio), outside any clone. */
  toolsDir: string;
  host: string;
  ports: StackPorts;
}

export const DEFAULT_PORTS: StackPorts = {
  temporal: 7233,
  temporalUi: 8233,
  postgres: 15432,
  minioSource: 19000,
  minioSourceConsole: 19001,
  minioBackup: 19100,
  minioBackupConsole: 19101,
  dns: 15353,
};

/** Ports of the test suite's stack: the developer's stack can keep running during `npm test`. */
export const TEST_PORTS: StackPorts = {
  temporal: 7243,
  temporalUi: 8243,
  postgres: 15442,
  minioSource: 19010,
  minioSourceConsole: 19011,
  minioBackup: 19110,
  minioBackupConsole: 19111,
  dns: 15363,
};

const PORT_ENV: Record<keyof StackPorts, string> = {
  temporal: 'LIFEBOAT_STACK_TEMPORAL_PORT',
  temporalUi: 'LIFEBOAT_STACK_TEMPORAL_UI_PORT',
  postgres: 'LIFEBOAT_STACK_PG_PORT',
  minioSource: 'LIFEBOAT_STACK_MINIO_SOURCE_PORT',
  minioSourceConsole: 'LIFEBOAT_STACK_MINIO_SOURCE_CONSOLE_PORT',
  minioBackup: 'LIFEBOAT_STACK_MINIO_BACKUP_PORT',
  minioBackupConsole: 'LIFEBOAT_STACK_MINIO_BACKUP_CONSOLE_PORT',
  dns: 'LIFEBOAT_STACK_DNS_PORT',
};

export { defaultToolsDir };

/**
 * The default data directory. As root it is under /var/lib so that the `postgres` OS user (which
 * runs the cluster and its archive_command) can reach it; otherwise under the user's data home.
 */
export function defaultStackDir(env: NodeJS.ProcessEnv = process.env, profile: 'dev' | 'test' = 'dev'): string {
  const name = profile === 'test' ? 'test-stack' : 'stack';
  if (process.getuid?.() === 0) return join('/var/lib/lifeboat', name);
  return join(env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'), 'lifeboat', name);
}

export function stackSettings(env: NodeJS.ProcessEnv = process.env, profile: 'dev' | 'test' = 'dev'): StackSettings {
  const base = profile === 'test' ? TEST_PORTS : DEFAULT_PORTS;
  const ports = { ...base };
  for (const key of Object.keys(PORT_ENV) as (keyof StackPorts)[]) {
    const raw = env[PORT_ENV[key]];
    if (raw === undefined || raw === '') continue;
    const port = Number(raw);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new InputInvalid(PORT_ENV[key], `must be a TCP port between 1 and 65535 (got "${raw}")`, `set ${PORT_ENV[key]} to a free port or unset it`);
    }
    ports[key] = port;
  }
  const dir = env.LIFEBOAT_STACK_DIR ?? defaultStackDir(env, profile);
  if (!dir.startsWith('/')) {
    throw new InputInvalid('LIFEBOAT_STACK_DIR', `must be an absolute path (got "${dir}")`, 'set LIFEBOAT_STACK_DIR to an absolute directory');
  }
  return { dir, toolsDir: defaultToolsDir(env), host: '127.0.0.1', ports };
}
