import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig, parseEnvFile } from '../../lib/config/load';
import { scrubSecrets } from '../../lib/secrets';
import { temporalConnectionOptions } from '../../lib/config/temporal';
import { ConfigInvalid } from '../../lib/errors';

const minimal = { DB_HOST: 'localhost', GPG_RECIPIENT: 'backup@corporate-intel.local' };

function problemsOf(raw: Record<string, string>): string[] {
  return parseConfig(raw).problems.map((p) => `${p.env}: ${p.message}`);
}

describe('configuration schema', () => {
  it('applies the seed defaults', () => {
    const { config } = parseConfig(minimal);
    expect(config?.db).toMatchObject({ host: 'localhost', port: 5432, name: 'corporate_intel', user: 'postgres' });
    expect(config?.backupRoot).toBe('/var/backups/postgres');
    expect(config?.encryption.enabled).toBe(true);
    expect(config?.remote.enabled).toBe(false);
    expect(config?.compression).toEqual({ algorithm: 'zstd', level: 1 });
    expect(config?.minio.buckets).toEqual(['company-data', 'embeddings', 'user-uploads']);
    expect(config?.temporal.hostTaskQueue).toMatch(/^lifeboat@/);
  });

  it('reports every problem at once, each naming its variable', () => {
    const problems = problemsOf({ S3_ENDPOINT: 'not a url', ENCRYPT_BACKUPS: 'maybe', DB_PORT: '70000' });
    expect(problems).toEqual(
      expect.arrayContaining([
        'DB_HOST: is required',
        'S3_ENDPOINT: is not a valid URL (got "not a url")',
        'ENCRYPT_BACKUPS: must be true or false (got "maybe")',
        'DB_PORT: must be between 1 and 65535 (got "70000")',
      ]),
    );
    expect(problems).toHaveLength(4);
  });

  it.each([
    [{ S3_ENDPOINT: 'ftp://s3.example.com' }, 'S3_ENDPOINT: must use http or https, not ftp (got "ftp://s3.example.com")'],
    [{ BACKUP_ROOT: 'relative/dir' }, 'BACKUP_ROOT: must be an absolute path (got "relative/dir")'],
    [{ COMPRESSION: 'bzip2' }, 'COMPRESSION: must be one of zstd, gzip (got "bzip2")'],
    [{ COMPRESSION: 'gzip', COMPRESSION_LEVEL: '12' }, 'COMPRESSION_LEVEL: must be 1-9 for gzip, got "12"'],
    [{ EMAIL_ALERTS: 'ops-at-example' }, 'EMAIL_ALERTS: must be e-mail addresses separated by commas (got "ops-at-example")'],
    [{ REMOTE_STORAGE: 'true' }, 'S3_BUCKET: is required when REMOTE_STORAGE=true'],
  ])('rejects %o', (raw, message) => {
    expect(problemsOf({ ...minimal, ...raw })).toEqual([message]);
  });

  it('requires GPG_RECIPIENT only when encryption is on', () => {
    expect(problemsOf({ DB_HOST: 'h' })).toEqual(['GPG_RECIPIENT: is required when ENCRYPT_BACKUPS=true']);
    expect(problemsOf({ DB_HOST: 'h', ENCRYPT_BACKUPS: 'false' })).toEqual([]);
  });

  it('never echoes a secret value in a problem', () => {
    const { problems } = parseConfig({ ...minimal, SLACK_WEBHOOK: 'not-a-url-but-secret-token' });
    expect(JSON.stringify(problems)).not.toContain('secret-token');
    expect(problems[0]?.env).toBe('SLACK_WEBHOOK');
  });

  it('collects secret values for scrubbing', () => {
    const { config } = parseConfig({ ...minimal, PGPASSWORD: 'hunter2-long', AWS_SECRET_ACCESS_KEY: 'aws-secret-value' });
    expect(config?.secretValues.sort()).toEqual(['aws-secret-value', 'hunter2-long']);
    expect(scrubSecrets('password hunter2-long failed', config!.secretValues)).toBe('password *** failed');
  });
});

describe('env file', () => {
  it('parses the seed format: export, quotes, comments', () => {
    const { values, problems } = parseEnvFile(
      ['# Database connection', 'export DB_HOST=localhost', "export PGPASSWORD='p@ss word'", 'DB_PORT="5433"', 'export S3_BUCKET=b # inline comment', ''].join('\n'),
      'f',
    );
    expect(problems).toEqual([]);
    expect(values).toEqual({ DB_HOST: 'localhost', PGPASSWORD: 'p@ss word', DB_PORT: '5433', S3_BUCKET: 'b' });
  });

  it('reports malformed lines with their line number', () => {
    const { problems } = parseEnvFile('export DB_HOST=x\nthis is not valid\n', '/etc/default/x');
    expect(problems).toEqual([{ env: '/etc/default/x:2', message: 'is not a KEY=value line', hint: expect.any(String) }]);
  });

  it('lets the environment override the file, and lists file and value problems together', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lifeboat-config-'));
    const file = join(dir, 'backup.env');
    writeFileSync(file, 'export DB_HOST=from-file\nexport ENCRYPT_BACKUPS=false\nbroken line\n');
    expect(() => loadConfig({ envFile: file, env: { DB_PORT: 'x' } })).toThrow(ConfigInvalid);
    try {
      loadConfig({ envFile: file, env: { DB_PORT: 'x' } });
    } catch (error) {
      expect((error as ConfigInvalid).problems.map((p) => p.env)).toEqual([`${file}:3`, 'DB_PORT']);
    }
    writeFileSync(file, 'export DB_HOST=from-file\nexport ENCRYPT_BACKUPS=false\n');
    expect(loadConfig({ envFile: file, env: { DB_HOST: 'from-env' } }).db.host).toBe('from-env');
  });

  it('names LIFEBOAT_ENV_FILE when the explicit file is missing', () => {
    expect(() => loadConfig({ env: { LIFEBOAT_ENV_FILE: '/nonexistent/file', ...minimal } })).toThrow(/LIFEBOAT_ENV_FILE: file \/nonexistent\/file does not exist/);
  });
});

describe('temporal connection options', () => {
  it('come from the TEMPORAL_* settings only; an API key turns TLS on', () => {
    const plain = parseConfig({ ...minimal, TEMPORAL_ADDRESS: '127.0.0.1:7243' }).config!;
    expect(temporalConnectionOptions(plain)).toMatchObject({ address: '127.0.0.1:7243' });
    expect(temporalConnectionOptions(plain).tls).toBeUndefined();
    expect(temporalConnectionOptions(plain).apiKey).toBeUndefined();
    const cloud = parseConfig({ ...minimal, TEMPORAL_ADDRESS: 'ns.tmprl.cloud:7233', TEMPORAL_API_KEY: 'key-1234' }).config!;
    expect(temporalConnectionOptions(cloud)).toMatchObject({ address: 'ns.tmprl.cloud:7233', apiKey: 'key-1234', tls: true });
  });
});
