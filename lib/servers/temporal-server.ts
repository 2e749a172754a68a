/**
 * The real Temporal server (go.temporal.io/server, all four services in one process) on PostgreSQL,
 * for the production topology: where its binaries are cached, the config it is started with (SQL
 * persistence and SQL visibility with the postgres12 plugin), the schema set up with its own SQL
 * tool, and start/readiness. The embedded stack's default is the CLI's dev server
 * (client/stack/temporal-server.ts); this one is only used when the production topology is asked for.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Client as PgClient } from 'pg';
import { defaultToolsDir } from './binaries';
import { run, startDaemon } from './processes';

/** The server version the production topology runs and docker-compose.yml pins. */
export const TEMPORAL_SERVER_VERSION = '1.29.1';
/**
 * The Temporal UI paired with it: the ui-server the Temporal CLI v1.5.1 embeds (its go.mod), the UI
 * the dev stack actually serves here; docker-compose.yml pins the same.
 */
export const TEMPORAL_UI_VERSION = '2.42.1';

export const TEMPORAL_SERVER_MODULES = [
  `go.temporal.io/server/cmd/server@v${TEMPORAL_SERVER_VERSION}`,
  `go.temporal.io/server/cmd/tools/sql@v${TEMPORAL_SERVER_VERSION}`,
] as const;

/** The databases of the server's own PostgreSQL: persistence, and SQL visibility. */
export const TEMPORAL_DATABASES = { persistence: 'temporal', visibility: 'temporal_visibility' } as const;
export const TEMPORAL_DB_ROLE = 'temporal';

/** ~/.cache/lifeboat/temporal-server-<version>: a sibling of the tool cache, one directory per version. */
export function temporalServerDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(dirname(defaultToolsDir(env)), `temporal-server-${TEMPORAL_SERVER_VERSION}`);
}

export interface TemporalServerBinaries {
  /** `server` (cmd/server). */
  server: string;
  /** `sql`, the temporal-sql-tool (cmd/tools/sql). */
  sql: string;
  /** schema/postgresql/v12 copied from the module source, or undefined (then the tool's embedded copy is used). */
  schemaDir?: string;
}

/** The cached binaries, or undefined when either is missing. */
export function findTemporalServer(env: NodeJS.ProcessEnv = process.env): TemporalServerBinaries | undefined {
  const dir = temporalServerDir(env);
  const server = join(dir, 'server');
  const sql = join(dir, 'sql');
  if (!existsSync(server) || !existsSync(sql)) return undefined;
  const schemaDir = join(dir, 'schema', 'postgresql', 'v12');
  return { server, sql, schemaDir: existsSync(join(schemaDir, 'temporal', 'versioned')) ? schemaDir : undefined };
}

/**
 * Copy schema/postgresql/v12 from the module source (GOMODCACHE, filled by the `go install`) next
 * to the binaries, so setting up the schema never depends on the module cache surviving.
 */
export function copySchemaFromModuleCache(go: string, targetDir: string): boolean {
  const modcache = spawnSync(go, ['env', 'GOMODCACHE'], { encoding: 'utf8' }).stdout.trim();
  const source = join(modcache, `go.temporal.io/server@v${TEMPORAL_SERVER_VERSION}`, 'schema', 'postgresql', 'v12');
  if (!modcache || !existsSync(source)) return false;
  const target = join(targetDir, 'schema', 'postgresql', 'v12');
  mkdirSync(target, { recursive: true });
  cpSync(source, target, { recursive: true });
  // Module cache files are read-only; keep the copy removable.
  spawnSync('chmod', ['-R', 'u+w', join(targetDir, 'schema')]);
  return true;
}

/** Loopback ports of the four services (gRPC and membership each) and the frontend's HTTP API. */
export interface TemporalServerPorts {
  frontend: number;
  frontendHttp: number;
  history: number;
  matching: number;
  worker: number;
  frontendMembership: number;
  historyMembership: number;
  matchingMembership: number;
  workerMembership: number;
}

/** Ten ports from `base`: frontend = base (the address clients use), the others above it. */
export function temporalServerPorts(base: number): TemporalServerPorts {
  return {
    frontend: base, history: base + 1, matching: base + 2, worker: base + 3, frontendHttp: base + 4,
    frontendMembership: base + 5, historyMembership: base + 6, matchingMembership: base + 7, workerMembership: base + 8,
  };
}

export interface TemporalPersistence {
  host: string;
  port: number;
  user: string;
  password: string;
}

export interface RealTemporalServerOptions {
  binaries: TemporalServerBinaries;
  /** The server's root: config/, dynamic config, log. */
  root: string;
  host: string;
  ports: TemporalServerPorts;
  persistence: TemporalPersistence;
  logFile: string;
}

export const TEMPORAL_SERVER_ENV = 'lifeboat';

export function temporalServerPaths(root: string): { config: string; dynamicConfig: string } {
  return { config: join(root, 'config', `${TEMPORAL_SERVER_ENV}.yaml`), dynamicConfig: join(root, 'config', 'dynamicconfig.yaml') };
}

/** The server's static config (JSON, which is YAML). Pure, for tests and `render-config` comparison. */
export function temporalServerConfig(options: Omit<RealTemporalServerOptions, 'binaries' | 'logFile'>): Record<string, unknown> {
  const { host, ports, persistence } = options;
  const sql = (databaseName: string, maxConns: number): Record<string, unknown> => ({
    sql: {
      pluginName: 'postgres12',
      databaseName,
      connectAddr: `${persistence.host}:${persistence.port}`,
      connectProtocol: 'tcp',
      user: persistence.user,
      password: persistence.password,
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  });
  const service = (grpcPort: number, membershipPort: number, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    rpc: { grpcPort, membershipPort, bindOnIP: host, ...extra },
  });
  return {
    log: { stdout: true, level: 'warn' },
    persistence: {
      defaultStore: 'postgres-default',
      visibilityStore: 'postgres-visibility',
      numHistoryShards: 4,
      datastores: { 'postgres-default': sql(TEMPORAL_DATABASES.persistence, 20), 'postgres-visibility': sql(TEMPORAL_DATABASES.visibility, 10) },
    },
    global: { membership: { maxJoinDuration: '30s', broadcastAddress: host } },
    services: {
      frontend: service(ports.frontend, ports.frontendMembership, { httpPort: ports.frontendHttp }),
      history: service(ports.history, ports.historyMembership),
      matching: service(ports.matching, ports.matchingMembership),
      worker: service(ports.worker, ports.workerMembership),
    },
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: { active: { enabled: true, initialFailoverVersion: 1, rpcName: 'frontend', rpcAddress: `${host}:${ports.frontend}`, httpAddress: `${host}:${ports.frontendHttp}` } },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    dynamicConfigClient: { filepath: temporalServerPaths(options.root).dynamicConfig, pollInterval: '10s' },
  };
}

/**
 * Dynamic config: the development-sql defaults that matter to us, plus a namespace cache refreshed
 * every second (a namespace registered at start-up is usable at once) and search attributes read
 * without cache (the ones just registered are accepted on the next start).
 */
const DYNAMIC_CONFIG = [
  'limit.maxIDLength:',
  '  - value: 255',
  'system.forceSearchAttributesCacheRefreshOnRead:',
  '  - value: true',
  'system.namespaceCacheRefreshInterval:',
  '  - value: 1s',
  '',
].join('\n');

/** Write config/lifeboat.yaml (mode 0600: it holds the database password) and the dynamic config. */
export function writeTemporalServerConfig(options: RealTemporalServerOptions): void {
  const paths = temporalServerPaths(options.root);
  mkdirSync(dirname(paths.config), { recursive: true });
  const header = '# Written by lifeboat for the production topology; JSON is YAML. Rewritten at every start.\n';
  writeFileSync(paths.config, `${header}${JSON.stringify(temporalServerConfig(options), null, 2)}\n`, { mode: 0o600 });
  writeFileSync(paths.dynamicConfig, DYNAMIC_CONFIG);
}

/**
 * Create the role and both databases (idempotent) with the cluster's superuser, then set up and
 * update both schemas with the server's own SQL tool: `setup-schema -v 0.0` (the version tables),
 * `update-schema -d .../versioned` (every versioned step; a no-op when current).
 */
export async function setupTemporalSchema(options: { binaries: TemporalServerBinaries; persistence: TemporalPersistence; superuser: string; superuserPassword: string }): Promise<void> {
  const { persistence } = options;
  const admin = new PgClient({ host: persistence.host, port: persistence.port, user: options.superuser, password: options.superuserPassword, database: 'postgres' });
  await admin.connect();
  try {
    const role = await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [persistence.user]);
    const password = persistence.password.replace(/'/g, "''");
    if (!role.rowCount) await admin.query(`CREATE ROLE ${persistence.user} LOGIN PASSWORD '${password}'`);
    else await admin.query(`ALTER ROLE ${persistence.user} PASSWORD '${password}'`);
    for (const db of Object.values(TEMPORAL_DATABASES)) {
      const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [db]);
      if (!exists.rowCount) await admin.query(`CREATE DATABASE ${db} OWNER ${persistence.user}`);
    }
  } finally {
    await admin.end();
  }
  for (const [name, db] of [['temporal', TEMPORAL_DATABASES.persistence], ['visibility', TEMPORAL_DATABASES.visibility]] as const) {
    const connect = ['--plugin', 'postgres12', '--ep', persistence.host, '-p', String(persistence.port), '-u', persistence.user, '--db', db];
    // The password goes through the environment (SQL_PASSWORD), never the command line.
    const env = { ...process.env, SQL_PASSWORD: persistence.password };
    run(options.binaries.sql, [...connect, 'setup-schema', '-v', '0.0'], { env });
    const versioned = options.binaries.schemaDir
      ? ['-d', join(options.binaries.schemaDir, name, 'versioned')]
      : ['--schema-name', `postgresql/v12/${name}`];
    run(options.binaries.sql, [...connect, 'update-schema', ...versioned], { env });
  }
}

/** Start the server detached (all services); returns its pid. */
export function startRealTemporalServer(options: RealTemporalServerOptions): number {
  writeTemporalServerConfig(options);
  return startDaemon({
    command: options.binaries.server,
    args: ['--root', options.root, '--config', 'config', '--env', TEMPORAL_SERVER_ENV, '--allow-no-auth', 'start'],
    logFile: options.logFile,
    cwd: options.root,
  });
}

/** What recognises the running server: its binary and its root on the command line. */
export function realTemporalServerMarkers(options: Pick<RealTemporalServerOptions, 'binaries' | 'root'>): string[] {
  return [options.binaries.server, options.root];
}
