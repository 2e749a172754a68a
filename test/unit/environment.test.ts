/**
 * The environment providers' pure parts: kinds and names, the endpoints a script prints, the
 * DR_ENVIRONMENT settings and their cross-field rules, and the factory's refusals. The providers
 * against real servers and scripts are in test/integration/environment.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../lib/config/load';
import { parseEndpoints } from '../../lib/environment/endpoints';
import { ExistingEnvironmentProvider } from '../../lib/environment/existing';
import { checkEnvironmentName, environmentKindProblem, parseEnvironmentKind } from '../../lib/environment/kinds';
import { environmentProvider, environmentProviderFor } from '../../lib/environment/providers';
import { InputInvalid } from '../../lib/errors';
import { createLogger } from '../../lib/logger';

const minimal = { DB_HOST: 'localhost', ENCRYPT_BACKUPS: 'false' };
const logger = createLogger({ level: 'silent' });

function problemsOf(raw: Record<string, string>): string[] {
  return parseConfig({ ...minimal, ...raw }).problems.map((p) => `${p.env}: ${p.message}`);
}

function configOf(raw: Record<string, string>) {
  const { config, problems } = parseConfig({ ...minimal, ...raw });
  if (!config) throw new Error(problems.map((p) => `${p.env}: ${p.message}`).join('; '));
  return config;
}

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('did not throw');
}

describe('environment kinds and names', () => {
  it('accepts the three kinds and names the field for anything else', () => {
    expect(parseEnvironmentKind('local')).toBe('local');
    expect(environmentKindProblem('existing')).toBeUndefined();
    const error = thrown(() => parseEnvironmentKind('cloud'));
    expect(error).toBeInstanceOf(InputInvalid);
    expect(error.message).toBe('environment: must be one of local, command, existing (got "cloud")');
    expect(thrown(() => parseEnvironmentKind(3, 'input.environment')).message).toMatch(/^input\.environment: .*got number/);
  });

  it('accepts names that make safe directory names and script arguments only', () => {
    for (const good of ['drill-20251017', 'dr-INC-1234', 'a', 'x.y_z-1']) expect(checkEnvironmentName(good)).toBe(good);
    for (const bad of ['', '.', '..', '../etc', 'a/b', '-rf', '.hidden', 'a b', 'x'.repeat(101), 'é']) {
      expect(thrown(() => checkEnvironmentName(bad))).toBeInstanceOf(InputInvalid);
    }
    expect(thrown(() => checkEnvironmentName('a/b')).message).toMatch(/^name: /);
  });
});

describe('endpoints printed by a provision script', () => {
  it('reads postgres, minio and directories; a numeric string port; the URL reduced to its origin', () => {
    const out = parseEndpoints('{"postgres":{"host":"10.0.0.5","port":"5433"},"minio":{"endpoint":"http://10.0.0.6:9000/"},"configDir":"/srv/dr/config","name":"dr-1"}', 'dr-1');
    expect(out).toEqual({ environment: { name: 'dr-1', kind: 'command', postgres: { host: '10.0.0.5', port: 5433 }, minio: { endpoint: 'http://10.0.0.6:9000' }, configDir: '/srv/dr/config' } });
    expect(parseEndpoints('{"minio":{"endpoint":"https://s3.dr.example"}}', 'x').environment).toEqual({ name: 'x', kind: 'command', minio: { endpoint: 'https://s3.dr.example' } });
  });

  it('names the bad field, and never quotes a secret back', () => {
    const cases: [string, RegExp][] = [
      ['{"postgres":{"host":"db","port":70000}}', /^postgres\.port: must be between 1 and 65535$/],
      ['{"postgres":{"host":"db","port":"x"}}', /^postgres\.port: /],
      ['{"postgres":{"port":5432}}', /^postgres\.host: must be string$/],
      ['{"postgres":{"host":"db","port":5432,"password":"hunter22"}}', /^postgres\.password: is not an endpoint field/],
      ['{"minio":{"endpoint":"http://key:hunter22@10.0.0.6:9000"}}', /^minio\.endpoint: must not contain credentials/],
      ['{"minio":{"endpoint":"ftp://10.0.0.6"}}', /^minio\.endpoint: must use http or https/],
      ['{"minio":{"endpoint":"http://10.0.0.6:9000"},"secretKey":"hunter22"}', /^secretKey: is not an endpoint field/],
      ['{"configDir":"relative/dir","minio":{"endpoint":"http://a:1"}}', /^configDir: must be an absolute path$/],
      ['{}', /^postgres: must name a postgres or a minio endpoint$/],
      ['{"name":"other","minio":{"endpoint":"http://a:1"}}', /^name: is "other", but the environment asked for is "dr-1"$/],
      ['[1]', /^\(the output\): must be one JSON object$/],
      ['password=hunter22', /^\(the output\): is not JSON/],
      ['', /^\(the output\): is not JSON/],
    ];
    for (const [stdout, expected] of cases) {
      const { environment, problem } = parseEndpoints(stdout, 'dr-1');
      expect(environment, stdout).toBeUndefined();
      expect(problem, stdout).toMatch(expected);
      expect(problem).not.toContain('hunter22');
    }
  });
});

describe('DR_ENVIRONMENT settings', () => {
  it('defaults to local under <RESTORE_DATA_ROOT>/environments', () => {
    const config = configOf({ RESTORE_DATA_ROOT: '/srv/restore' });
    expect(config.environment).toMatchObject({ kind: 'local', root: '/srv/restore/environments', commandTimeoutSeconds: 1800, target: {} });
    expect(configOf({ DR_ENVIRONMENT_ROOT: '/srv/envs' }).environment.root).toBe('/srv/envs');
  });

  it('checks each kind\'s settings across fields, naming the variable', () => {
    expect(problemsOf({ DR_ENVIRONMENT: 'cloud' })).toEqual(['DR_ENVIRONMENT: must be one of local, command, existing (got "cloud")']);
    expect(problemsOf({ DR_ENVIRONMENT: 'command' })).toEqual(['DR_ENVIRONMENT_PROVISION_COMMAND: is required when DR_ENVIRONMENT=command']);
    expect(problemsOf({ DR_ENVIRONMENT: 'command', DR_ENVIRONMENT_PROVISION_COMMAND: '/opt/dr/up' })).toEqual(['DR_ENVIRONMENT_TEARDOWN_COMMAND: is required when DR_ENVIRONMENT=command']);
    expect(problemsOf({ DR_ENVIRONMENT: 'command', DR_ENVIRONMENT_PROVISION_COMMAND: 'up.sh', DR_ENVIRONMENT_TEARDOWN_COMMAND: '/opt/dr/down' })[0]).toMatch(/^DR_ENVIRONMENT_PROVISION_COMMAND: must be an absolute path/);
    expect(problemsOf({ DR_ENVIRONMENT: 'existing' })).toEqual(['DR_TARGET_DB_HOST: is required when DR_ENVIRONMENT=existing (or DR_TARGET_MINIO_ENDPOINT)']);
    expect(problemsOf({ DR_ENVIRONMENT: 'existing', DR_TARGET_MINIO_ENDPOINT: 'http://k:s3cretkey@standby:9000' })).toEqual(['DR_TARGET_MINIO_ENDPOINT: must not contain credentials']);
    expect(problemsOf({ DR_TARGET_MINIO_ENDPOINT: 'http://standby:9000/bucket' })).toEqual(['DR_TARGET_MINIO_ENDPOINT: must be scheme, host and port only']);
    expect(problemsOf({ DR_ENVIRONMENT: 'local' })[0]).toMatch(/^PGPASSWORD: is required when DR_ENVIRONMENT=local/);
    expect(problemsOf({ DR_ENVIRONMENT: 'local', PGPASSWORD: 'pw', MINIO_SOURCE_SECRET_KEY: 'short' })[0]).toMatch(/^MINIO_SOURCE_SECRET_KEY: must have 8 or more characters/);
    expect(problemsOf({ DR_ENVIRONMENT: 'local', PGPASSWORD: 'pw', MINIO_SOURCE_SECRET_KEY: 'long-enough' })).toEqual([]);
    expect(problemsOf({ DR_ENVIRONMENT_COMMAND_TIMEOUT_SECONDS: '0' })[0]).toMatch(/^DR_ENVIRONMENT_COMMAND_TIMEOUT_SECONDS: must be at least 1/);
  });

  it('types the existing target', () => {
    const config = configOf({ DR_ENVIRONMENT: 'existing', DR_TARGET_DB_HOST: 'standby-db', DR_TARGET_MINIO_ENDPOINT: 'http://standby-minio:9000/', DR_TARGET_CONFIG_DIR: '/srv/dr/config' });
    expect(config.environment.target).toEqual({ postgres: { host: 'standby-db', port: 5432 }, minio: { endpoint: 'http://standby-minio:9000' }, configDir: '/srv/dr/config' });
  });
});

describe('building providers', () => {
  it('builds the configured kind; an unknown or unconfigured kind names the field and the missing settings', () => {
    expect(environmentProvider(configOf({}), logger).kind).toBe('local');
    const config = configOf({});
    expect(environmentProviderFor('local', config, logger).kind).toBe('local');
    const unknown = thrown(() => environmentProviderFor('cloud', config, logger));
    expect(unknown).toBeInstanceOf(InputInvalid);
    expect(unknown.message).toMatch(/^environment: must be one of local, command, existing/);
    expect(thrown(() => environmentProviderFor('command', config, logger)).message).toBe('environment: "command" needs DR_ENVIRONMENT_PROVISION_COMMAND and DR_ENVIRONMENT_TEARDOWN_COMMAND, which this worker\'s configuration does not set');
    expect(thrown(() => environmentProviderFor('existing', config, logger, 'input.environment')).message).toMatch(/^input\.environment: "existing" needs DR_TARGET_DB_HOST or DR_TARGET_MINIO_ENDPOINT/);
    expect(environmentProviderFor('command', configOf({ DR_ENVIRONMENT_PROVISION_COMMAND: '/a', DR_ENVIRONMENT_TEARDOWN_COMMAND: '/b' }), logger).kind).toBe('command');
  });

  it('existing: the configured endpoints under any name, teardown removes nothing', async () => {
    const provider = new ExistingEnvironmentProvider({ postgres: { host: 'standby-db', port: 5432 } });
    expect(await provider.provision('dr-1')).toEqual({ name: 'dr-1', kind: 'existing', postgres: { host: 'standby-db', port: 5432 } });
    expect(await provider.describe('dr-1')).toEqual(await provider.provision('dr-1'));
    await provider.teardown('dr-1');
    await provider.teardown('dr-1');
    expect(await provider.list()).toEqual([]);
    await expect(provider.provision('../x')).rejects.toThrow(/^name: /);
    await expect(new ExistingEnvironmentProvider({}).provision('dr-1')).rejects.toThrow(/^DR_TARGET_DB_HOST: is not set/);
  });
});
