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
  /** Production topology only: the Temporal server's own PostgreSQL (default postgres + 5). */
  temporalPersistence?: number;
}

export interface StackSettings {
  /** Data directory: databases, logs, pid state, generated secrets and keys. */
  dir: string;
  /** Cache of built server binaries (temporal, minio), outside any clone. */
  toolsDir: string;
  host: string;
  ports: StackPorts;
  /**
   * `dev` (default): the CLI's dev server. `production`: the real Temporal server on PostgreSQL and
   * workers standing for separate hosts (client/stack/topology.ts); its own directory and ports.
   * For `production`, ports.temporal is the first of ten (frontend, history, matching, ...).
   */
  topology?: 'dev' | 'production';
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

/** The production topology's stacks, apart from both dev-server stacks (ports.temporal .. +8 are the server's). */
export const PRODUCTION_PORTS: StackPorts = {
  temporal: 7333,
  temporalUi: 8333,
  postgres: 15452,
  minioSource: 19020,
  minioSourceConsole: 19021,
  minioBackup: 19120,
  minioBackupConsole: 19121,
  dns: 15373,
  temporalPersistence: 15457,
};

export const TEST_PRODUCTION_PORTS: StackPorts = {
  temporal: 7353,
  temporalUi: 8353,
  postgres: 15462,
  minioSource: 19030,
  minioSourceConsole: 19031,
  minioBackup: 19130,
  minioBackupConsole: 19131,
  dns: 15383,
  temporalPersistence: 15467,
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
  temporalPersistence: 'LIFEBOAT_STACK_TEMPORAL_PG_PORT',
};

export { defaultToolsDir };

/**
 * The default data directory. As root it is under /var/lib so that the `postgres` OS user (which
 * runs the cluster and its archive_command) can reach it; otherwise under the user's data home.
 */
export function defaultStackDir(env: NodeJS.ProcessEnv = process.env, profile: 'dev' | 'test' = 'dev', topology: 'dev' | 'production' = 'dev'): string {
  const name = `${profile === 'test' ? 'test-' : ''}${topology === 'production' ? 'production-' : ''}stack`;
  if (process.getuid?.() === 0) return join('/var/lib/lifeboat', name);
  return join(env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'), 'lifeboat', name);
}

export function stackSettings(env: NodeJS.ProcessEnv = process.env, profile: 'dev' | 'test' = 'dev', topology: 'dev' | 'production' = 'dev'): StackSettings {
  const base = topology === 'production' ? (profile === 'test' ? TEST_PRODUCTION_PORTS : PRODUCTION_PORTS) : profile === 'test' ? TEST_PORTS : DEFAULT_PORTS;
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
  const dir = env.LIFEBOAT_STACK_DIR ?? defaultStackDir(env, profile, topology);
  if (!dir.startsWith('/')) {
    throw new InputInvalid('LIFEBOAT_STACK_DIR', `must be an absolute path (got "${dir}")`, 'set LIFEBOAT_STACK_DIR to an absolute directory');
  }
  return { dir, toolsDir: defaultToolsDir(env), host: '127.0.0.1', ports, ...(topology === 'production' ? { topology } : {}) };
}
