/**
 * The environment providers of runbook step 2 against real servers and real scripts:
 * - local: a NEW PostgreSQL 15 cluster that accepts the stack's DB_USER / PGPASSWORD and a NEW MinIO
 *   that accepts the stack's MINIO_SOURCE keys, on free loopback ports below a root of this test's
 *   own; provisioning again (also from a process that was then SIGKILLed, or concurrently) gives
 *   the same endpoints; a killed MinIO or postmaster is restarted on its port with its data; the
 *   `port` mode reserves a port without a cluster; teardown leaves no process, open port or
 *   directory, and succeeds twice.
 * - command: small scripts printing good JSON, JSON with a bad or secret field, exiting non-zero,
 *   hanging past the timeout; teardown and describe scripts.
 * - existing: the configured endpoints.
 * Provision and teardown times are printed (docs figures).
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client as MinioClient } from 'minio';
import { Client as PgClient } from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Config } from '../../lib/config/load';
import { CommandEnvironmentProvider } from '../../lib/environment/command';
import type { LocalEnvironmentProvider } from '../../lib/environment/local';
import type { ProvisionedEnvironment } from '../../lib/environment/provider';
import { environmentProviderFor } from '../../lib/environment/providers';
import { ToolFailed } from '../../lib/errors';
import { portOpen, processesUnder } from '../../lib/servers/processes';
import { testConfig, testLogger } from './helpers';

const figures: string[] = [];
const seconds = (since: number): string => ((Date.now() - since) / 1000).toFixed(2);
afterAll(() => {
  process.stdout.write(`[environment figures]\n${figures.map((f) => `  ${f}`).join('\n')}\n`);
});

async function pgAnswers(config: Config, env: ProvisionedEnvironment): Promise<{ version: string; dataDirectory: string; user: string }> {
  const client = new PgClient({ host: env.postgres!.host, port: env.postgres!.port, user: config.db.user, password: config.db.password, database: 'postgres', connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    const { rows } = await client.query<{ version: string; d: string; u: string }>("SELECT current_setting('server_version') AS version, current_setting('data_directory') AS d, current_user AS u");
    return { version: rows[0]!.version, dataDirectory: rows[0]!.d, user: rows[0]!.u };
  } finally {
    await client.end();
  }
}

function minioOf(config: Config, env: ProvisionedEnvironment): MinioClient {
  const url = new URL(env.minio!.endpoint);
  return new MinioClient({ endPoint: url.hostname, port: Number(url.port), useSSL: false, accessKey: config.minio.source.accessKey, secretKey: config.minio.source.secretKey! });
}

interface State {
  minio: { pid: number; port: number; consolePort: number };
  postgres?: { port: number };
}
const stateOf = (env: ProvisionedEnvironment): State => JSON.parse(readFileSync(join(env.dataDir!, 'environment.json'), 'utf8')) as State;

/** The error `promise` rejects with (fails the test when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<ToolFailed> {
  const outcome = await promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!('error' in outcome)) throw new Error(`expected a failure, got ${JSON.stringify(outcome.value)}`);
  return outcome.error as ToolFailed;
}

async function expectGone(env: ProvisionedEnvironment, ports: number[]): Promise<void> {
  expect(processesUnder(env.dataDir!)).toEqual([]);
  for (const port of ports) expect(await portOpen('127.0.0.1', port, 500), `port ${port}`).toBe(false);
  expect(existsSync(env.dataDir!)).toBe(false);
}

describe('local environment provider', () => {
  let config: Config;
  let root: string;
  let provider: LocalEnvironmentProvider;
  const name = `envtest-${process.pid}`;

  beforeAll(() => {
    const base = testConfig();
    // A root of this test's own below the stack (the postgres OS user can traverse it), so list()
    // sees only this test's environments.
    root = join(inject('stackDir'), 'restore', `env-test-${process.pid}`);
    config = { ...base, environment: { ...base.environment, root } };
    provider = environmentProviderFor('local', config, testLogger()) as LocalEnvironmentProvider;
  });

  afterAll(async () => {
    for (const leftover of (await provider?.list().catch(() => [])) ?? []) await provider.teardown(leftover).catch(() => undefined);
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('provisions a new PostgreSQL 15 (production role and password) and a new MinIO (source keys) on free ports', async () => {
    const started = Date.now();
    const env = await provider.provision(name);
    figures.push(`local provision (initdb + start PostgreSQL 15, start MinIO): ${seconds(started)} s`);
    expect(env).toMatchObject({ name, kind: 'local', postgres: { host: '127.0.0.1' }, minio: { endpoint: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/) as string }, dataDir: join(root, name), configDir: join(root, name, 'config'), host: config.temporal.host });
    // Not production's servers: other ports, a data directory below the environment.
    expect(env.postgres!.port).not.toBe(config.db.port);
    expect(env.minio!.endpoint).not.toBe(config.minio.source.endpoint);
    const pg = await pgAnswers(config, env);
    expect(pg.version).toMatch(/^15\./);
    expect(pg.user).toBe(config.db.user);
    expect(pg.dataDirectory).toBe(join(root, name, 'postgres', 'data'));
    const minio = minioOf(config, env);
    expect(await minio.listBuckets()).toEqual([]);
    await minio.makeBucket('restored');
    await minio.putObject('restored', 'probe.txt', Buffer.from('hello'), 5, { 'Content-Type': 'text/plain' });
    // No secret in what goes into workflow history.
    const text = JSON.stringify(env);
    for (const secret of [config.db.password!, config.minio.source.secretKey!]) expect(text).not.toContain(secret);
    expect(statSync(env.configDir!).mode & 0o777).toBe(0o700);
    expect(await provider.list()).toEqual([name]);
    expect(await provider.describe(name)).toEqual({ ...env, running: { postgres: true, minio: true } });
  });

  it('provisioning again returns the same endpoints without starting anything, also concurrently', async () => {
    const first = await provider.describe(name);
    const pidBefore = stateOf(first!).minio.pid;
    const started = Date.now();
    const again = await provider.provision(name);
    figures.push(`local provision again (both running): ${seconds(started)} s`);
    const { running: _, ...expected } = first!;
    expect(again).toEqual(expected);
    const both = await Promise.all([provider.provision(name), provider.provision(name)]);
    expect(both).toEqual([expected, expected]);
    expect(stateOf(again).minio.pid).toBe(pidBefore);
  });

  it('restarts a killed MinIO and a killed postmaster on their ports, with their data', async () => {
    const env = (await provider.describe(name))!;
    const state = stateOf(env);
    process.kill(state.minio.pid, 'SIGKILL');
    const postmaster = Number(readFileSync(join(env.dataDir!, 'postgres', 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
    process.kill(postmaster, 'SIGKILL');
    // Signals take effect asynchronously: wait until describe() sees both dead.
    for (let i = 0; i < 100 && JSON.stringify((await provider.describe(name))!.running) !== '{"postgres":false,"minio":false}'; i++) await new Promise((r) => setTimeout(r, 50));
    expect((await provider.describe(name))!.running).toEqual({ postgres: false, minio: false });
    const started = Date.now();
    const again = await provider.provision(name);
    figures.push(`local provision after SIGKILL of MinIO and the postmaster (restart both): ${seconds(started)} s`);
    expect(again.minio).toEqual(env.minio);
    expect(again.postgres).toEqual(env.postgres);
    expect(stateOf(again).minio.pid).not.toBe(state.minio.pid);
    const object = await minioOf(config, again).getObject('restored', 'probe.txt');
    const chunks: Buffer[] = [];
    for await (const chunk of object) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('hello');
    expect((await pgAnswers(config, again)).version).toMatch(/^15\./);
  });

  it('servers outlive the process that started them (SIGKILLed worker); the next provision adopts them', async () => {
    const other = `${name}-orphan`;
    const dir = mkdtempSync(join(tmpdir(), 'lifeboat-env-child-'));
    const script = join(dir, 'provision-and-die.ts');
    const repo = join(__dirname, '..', '..');
    writeFileSync(
      script,
      [
        `import { loadConfig } from '${repo}/lib/config/load';`,
        `import { environmentProviderFor } from '${repo}/lib/environment/providers';`,
        `import { createLogger } from '${repo}/lib/logger';`,
        `const base = loadConfig({ envFile: ${JSON.stringify(inject('stackEnvFile'))}, env: {} });`,
        `const config = { ...base, environment: { ...base.environment, root: ${JSON.stringify(root)} } };`,
        `void environmentProviderFor('local', config, createLogger({ level: 'silent' })).provision(${JSON.stringify(other)}).then((env) => {`,
        '  process.stdout.write(JSON.stringify(env));',
        "  process.kill(process.pid, 'SIGKILL');",
        '});',
      ].join('\n'),
    );
    const child = spawn(join(repo, 'node_modules', '.bin', 'vite-node'), [script], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.once('close', (_code, sig) => resolve(sig)));
    rmSync(dir, { recursive: true, force: true });
    expect(signal, err).toBe('SIGKILL');
    const env = JSON.parse(out) as ProvisionedEnvironment;
    const pid = stateOf(env).minio.pid;
    expect((await provider.describe(other))!.running).toEqual({ postgres: true, minio: true });
    expect(await provider.provision(other)).toEqual(env);
    expect(stateOf(env).minio.pid).toBe(pid);
    expect((await pgAnswers(config, env)).user).toBe(config.db.user);
    const state = stateOf(env);
    await provider.teardown(other);
    await expectGone(env, [state.postgres!.port, state.minio.port, state.minio.consolePort]);
  });

  it("`port` mode reserves PostgreSQL's port without a cluster; teardown stops a cluster someone started below the environment", async () => {
    const other = `${name}-port`;
    const env = await provider.provision(other, { postgres: 'port' });
    expect(env.postgres?.port).toBeGreaterThan(0);
    expect(await portOpen('127.0.0.1', env.postgres!.port, 500)).toBe(false);
    expect((await provider.describe(other))!.running).toEqual({ postgres: false, minio: true });
    // What a point-in-time recovery does: its own cluster in a directory below dataDir, on the reserved port.
    const { initCluster, startPostgres } = await import('../../lib/servers/postgres');
    const pitrDir = join(env.dataDir!, 'pitr-20251017');
    mkdirSync(join(pitrDir, 'logs'), { recursive: true });
    chmodSync(pitrDir, 0o755);
    const cluster = { pgBin: config.db.binDir ?? '/usr/lib/postgresql/15/bin', dir: pitrDir, host: '127.0.0.1', port: env.postgres!.port, password: config.db.password!, superuser: config.db.user, archiveCommand: '/bin/true', unixSocket: false };
    initCluster(cluster);
    await startPostgres(cluster);
    // A later `server` call sees it serving the port and starts nothing else.
    expect(await provider.provision(other)).toEqual(env);
    expect((await pgAnswers(config, env)).dataDirectory).toBe(join(pitrDir, 'postgres', 'data'));
    const state = stateOf(env);
    await provider.teardown(other);
    await expectGone(env, [state.postgres!.port, state.minio.port, state.minio.consolePort]);
  });

  it('teardown leaves no process, open port or directory, and succeeds again', async () => {
    const env = (await provider.describe(name))!;
    const state = stateOf(env);
    const started = Date.now();
    await provider.teardown(name);
    figures.push(`local teardown (stop both, delete data): ${seconds(started)} s`);
    await expectGone(env, [state.postgres!.port, state.minio.port, state.minio.consolePort]);
    await provider.teardown(name);
    expect(await provider.describe(name)).toBeUndefined();
    expect(await provider.list()).toEqual([]);
  });

  it('refuses names that are not safe directory names', async () => {
    await expect(provider.provision('../escape')).rejects.toThrow(/^name: /);
    await expect(provider.teardown('a/b')).rejects.toThrow(/^name: /);
  });
});

describe('command environment provider', () => {
  let dir: string;
  const script = (file: string, body: string): string => {
    const path = join(dir, file);
    writeFileSync(path, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    return path;
  };
  const provider = (provision: string, extra: Partial<ConstructorParameters<typeof CommandEnvironmentProvider>[0]> = {}) =>
    new CommandEnvironmentProvider({ provisionCommand: provision, teardownCommand: script('teardown.sh', `echo "$1 $LIFEBOAT_ENVIRONMENT_ACTION" >> ${dir}/torn-down`), timeoutMs: 30_000, ...extra });

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'lifeboat-env-scripts-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs the script with the name and reads the endpoints it prints; teardown runs its script', async () => {
    const good = script('good.sh', `echo "creating $1" >&2\nprintf '{"name":"%s","postgres":{"host":"10.0.0.5","port":5432},"minio":{"endpoint":"http://10.0.0.6:9000"},"configDir":"/srv/dr/%s"}\\n' "$1" "$1"`);
    const started = Date.now();
    const env = await provider(good).provision('dr-cmd-1');
    figures.push(`command provision (trivial script): ${seconds(started)} s`);
    expect(env).toEqual({ name: 'dr-cmd-1', kind: 'command', postgres: { host: '10.0.0.5', port: 5432 }, minio: { endpoint: 'http://10.0.0.6:9000' }, configDir: '/srv/dr/dr-cmd-1' });
    await provider(good).teardown('dr-cmd-1');
    await provider(good).teardown('dr-cmd-1');
    expect(readFileSync(join(dir, 'torn-down'), 'utf8')).toBe('dr-cmd-1 teardown\ndr-cmd-1 teardown\n');
  });

  it('refuses output that is not valid endpoints, naming the field, permanently and without echoing it', async () => {
    const cases: [string, RegExp][] = [
      [`echo '{"postgres":{"host":"10.0.0.5","port":"fivefour"}}'`, /DR_ENVIRONMENT_PROVISION_COMMAND printed no valid endpoints for "dr-cmd-2": postgres\.port: /],
      [`echo '{"postgres":{"host":"10.0.0.5","port":5432,"password":"hunter22-secret"}}'`, /: postgres\.password: is not an endpoint field/],
      [`echo 'Apply complete! password=hunter22-secret'`, /: \(the output\): is not JSON/],
    ];
    for (const [body, message] of cases) {
      const error = await rejection(provider(script('bad.sh', body)).provision('dr-cmd-2'));
      expect(error).toBeInstanceOf(ToolFailed);
      expect(error.permanent).toBe(true);
      expect(error.message).toMatch(message);
      expect(error.message).not.toContain('hunter22');
    }
  });

  it('a non-zero exit is retryable with the script\'s last messages; a hang is killed at the timeout; a missing script is permanent', async () => {
    const failing = await rejection(provider(script('fail.sh', 'echo "terraform: quota exceeded" >&2\nexit 3')).provision('dr-cmd-3'));
    expect(failing).toBeInstanceOf(ToolFailed);
    expect(failing.permanent).toBe(false);
    expect(failing.message).toMatch(/^DR_ENVIRONMENT_PROVISION_COMMAND \(.*fail\.sh dr-cmd-3\) exited with code 3: terraform: quota exceeded$/);
    const started = Date.now();
    const hung = await rejection(provider(script('hang.sh', 'exec sleep 30'), { timeoutMs: 1000 }).provision('dr-cmd-4'));
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(hung.permanent).toBe(false);
    expect(hung.message).toMatch(/was still running after 1 s and was killed/);
    const missing = await rejection(provider(join(dir, 'no-such-script')).provision('dr-cmd-5'));
    expect(missing.permanent).toBe(true);
    expect(missing.message).toMatch(/could not be started/);
  });

  it('describe runs its script (null: not there), and needs one', async () => {
    const describeScript = script('describe.sh', `if [ "$1" = "dr-known" ]; then echo '{"minio":{"endpoint":"http://10.0.0.6:9000"}}'; else echo null; fi`);
    const withDescribe = provider(script('unused.sh', 'exit 9'), { describeCommand: describeScript });
    expect(await withDescribe.describe('dr-known')).toEqual({ name: 'dr-known', kind: 'command', minio: { endpoint: 'http://10.0.0.6:9000' } });
    expect(await withDescribe.describe('dr-unknown')).toBeUndefined();
    await expect(provider(script('unused.sh', 'exit 9')).describe('dr-known')).rejects.toThrow(/^DR_ENVIRONMENT_DESCRIBE_COMMAND: is not set/);
  });
});

describe('existing environment provider', () => {
  it('returns the configured endpoints; teardown removes nothing', async () => {
    // The stack's own servers stand in for a standby.
    const stack = testConfig();
    const config = testConfig({ DR_TARGET_DB_HOST: stack.db.host, DR_TARGET_DB_PORT: String(stack.db.port), DR_TARGET_MINIO_ENDPOINT: stack.minio.source.endpoint });
    const provider = environmentProviderFor('existing', config, testLogger());
    const env = await provider.provision('dr-existing');
    expect(env).toEqual({ name: 'dr-existing', kind: 'existing', postgres: { host: stack.db.host, port: stack.db.port }, minio: { endpoint: stack.minio.source.endpoint } });
    expect((await pgAnswers(config, env)).version).toMatch(/^15\./);
    expect(await minioOf(config, env).bucketExists(stack.minio.buckets[0]!)).toBe(true);
    await provider.teardown('dr-existing');
    expect(await portOpen(stack.db.host, stack.db.port, 500)).toBe(true);
  });
});
