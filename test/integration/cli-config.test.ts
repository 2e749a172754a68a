import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const cli = join(__dirname, '..', '..', 'bin', 'lifeboat.js');
const emptyEnvFile = join(mkdtempSync(join(tmpdir(), 'lifeboat-cli-')), 'empty.env');
writeFileSync(emptyEnvFile, '');

function lifeboat(args: string[], env: Record<string, string>) {
  const base: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', LIFEBOAT_ENV_FILE: emptyEnvFile };
  return spawnSync(process.execPath, [cli, ...args], { env: { ...base, ...env }, encoding: 'utf8', timeout: 30_000 });
}

describe('the lifeboat CLI with bad configuration', () => {
  it('exits 2 naming every bad variable at once, before connecting to anything', () => {
    // TEMPORAL_ADDRESS points nowhere: a connection attempt would hang or fail differently.
    const result = lifeboat(['health'], { S3_ENDPOINT: 'not a url', ENCRYPT_BACKUPS: 'maybe', GPG_RECIPIENT: 'x@y', TEMPORAL_ADDRESS: '192.0.2.1:7233' });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/DB_HOST: is required/);
    expect(result.stderr).toMatch(/S3_ENDPOINT: is not a valid URL \(got "not a url"\)/);
    expect(result.stderr).toMatch(/ENCRYPT_BACKUPS: must be true or false \(got "maybe"\)/);
    expect(result.stderr).toMatch(/hint: set DB_HOST/);
    expect(result.stdout).toBe('');
  });

  it('exits 2 for a secret-bearing setting without echoing its value', () => {
    const result = lifeboat(['config', 'check'], { DB_HOST: 'localhost', ENCRYPT_BACKUPS: 'false', SLACK_WEBHOOK: 'ftp://hooks.example/s3cr3t-token' });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/SLACK_WEBHOOK: must use http or https/);
    expect(result.stderr).not.toContain('s3cr3t-token');
  });

  it('accepts a valid configuration from an env file and masks secrets', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'lifeboat-cli-')), 'backup.env');
    writeFileSync(file, "export DB_HOST=db.internal\nexport PGPASSWORD='pw-should-not-print'\nexport ENCRYPT_BACKUPS=false\n");
    const result = lifeboat(['config', 'check'], { LIFEBOAT_ENV_FILE: file });
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('DB_HOST=db.internal');
    expect(result.stdout).toContain('PGPASSWORD=***');
    expect(result.stdout).not.toContain('pw-should-not-print');
  });

  it('exits 2 on an unknown option', () => {
    const result = lifeboat(['stack', 'status', '--bogus'], {});
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/unknown option '--bogus'/);
  });
});
