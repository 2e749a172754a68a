import { describe, expect, it } from 'vitest';
import { walArchiveDir } from '../../lib/catalog/paths';
import { parseConfig } from '../../lib/config/load';
import { buildDeps, buildStores } from '../../lib/deps';
import { InputInvalid } from '../../lib/errors';
import { createLogger } from '../../lib/logger';

const minimal = { DB_HOST: 'localhost', GPG_RECIPIENT: 'backup@corporate-intel.local', BACKUP_ROOT: '/srv/backups/', MINIO_BACKUP_ROOT: '/srv/minio-backups' };
const configOf = (raw: Record<string, string>) => {
  const { config, problems } = parseConfig({ ...minimal, ...raw });
  if (!config) throw new Error(problems.map((p) => `${p.env}: ${p.message}`).join('; '));
  return config;
};

describe('the composition root (lib/deps.ts)', () => {
  it('builds the stores from the configuration, the off-site bucket only when remote storage is on', () => {
    const stores = buildStores(configOf({}));
    expect(stores.local.location).toBe('local:/srv/backups');
    expect(stores.snapshots.root).toBe('/srv/minio-backups');
    expect(stores.remote).toBeUndefined();
    expect(() => stores.offsite()).toThrow(InputInvalid);
    expect(stores.minioSource.role).toBe('source');
  });

  it('gives the same off-site store every time, the remote one when remote storage is on', () => {
    const stores = buildStores(configOf({ REMOTE_STORAGE: 'true', S3_BUCKET: 'corporate-intel-backups' }));
    expect(stores.remote?.location).toBe('s3://corporate-intel-backups');
    expect(stores.offsite()).toBe(stores.remote);
    const offsiteOnly = buildStores(configOf({ S3_BUCKET: 'wal-only' }));
    expect(offsiteOnly.remote).toBeUndefined();
    expect(offsiteOnly.offsite()).toBe(offsiteOnly.offsite());
  });

  it('accepts overrides for chosen parts; the DR environment slot holds the DR_ENVIRONMENT provider (local by default)', () => {
    const config = configOf({});
    const local = buildStores(config).local;
    const deps = buildDeps(config, createLogger({ level: 'silent' }), { stores: { ...buildStores(config), local } });
    expect(deps.stores.local).toBe(local);
    expect(deps.environment?.kind).toBe('local');
    expect(deps.dns).toBeUndefined();
    expect(deps.pgTools.env('other').PGDATABASE).toBe('other');
  });

  it('spells the WAL archive folder once', () => {
    expect(walArchiveDir('/srv/backups/')).toBe('/srv/backups/wal-archive');
  });
});
