/**
 * docker-compose.yml has never run here (no Docker engine), so it is kept honest by reading it with
 * a YAML parser: every Lifeboat setting it passes is a known setting, the worker's settings name
 * services that exist and that it waits for, the WAL archive paths agree, and the Temporal images
 * are the version the production-topology test runs.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { walArchiveDir } from '../../lib/catalog/paths';
import { parseConfig, parseEnvFile } from '../../lib/config/load';
import { SETTINGS } from '../../lib/config/schema';
import { TEMPORAL_SERVER_VERSION, TEMPORAL_UI_VERSION } from '../../lib/servers/temporal-server';

const root = join(__dirname, '..', '..');

interface Service {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  hostname?: string;
  depends_on?: string[] | Record<string, { condition?: string }>;
  env_file?: string[] | string;
  environment?: Record<string, string | number | null> | string[];
  volumes?: string[];
}

const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, Service> };
const services = compose.services;
/** Lifeboat's own services: built from this repository's Dockerfile, or its image. */
const lifeboatServices = Object.entries(services).filter(([, s]) => s.image === 'lifeboat:local' || s.build === '.');
/** Variables the CLI reads besides the config schema (which env file to load). */
const CLI_VARIABLES = new Set(['LIFEBOAT_ENV_FILE']);
const known = new Set<string>([...SETTINGS.map((s) => s.env), ...CLI_VARIABLES]);

function environmentOf(service: Service): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) return Object.fromEntries(env.map((line) => [line.split('=')[0] ?? '', line.split('=').slice(1).join('=')]));
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

/** The settings a Lifeboat service runs with: its env file (the checked-in example) under its `environment`. */
function settingsOf(service: Service): Record<string, string> {
  const files = service.env_file === undefined ? [] : Array.isArray(service.env_file) ? service.env_file : [service.env_file];
  const fromFiles: Record<string, string> = {};
  for (const file of files) {
    // docker/lifeboat.env is the user's copy of docker/lifeboat.env.example.
    const parsed = parseEnvFile(readFileSync(join(root, `${file}.example`), 'utf8'), `${file}.example`);
    expect(parsed.problems).toEqual([]);
    for (const [k, v] of Object.entries(parsed.values)) if (v !== undefined) fromFiles[k] = v;
  }
  return { ...fromFiles, ...environmentOf(service) };
}

function dependsOn(service: Service): string[] {
  const d = service.depends_on ?? [];
  return Array.isArray(d) ? d : Object.keys(d);
}

function hostOf(value: string): string {
  return value.includes('://') ? new URL(value).hostname : (value.split(':')[0] ?? '');
}

describe('docker-compose.yml', () => {
  it('has Lifeboat workers standing for the backup host and the database host', () => {
    expect(lifeboatServices.map(([name]) => name).sort()).toEqual(['lifeboat-worker', 'lifeboat-worker-db']);
    const hosts = lifeboatServices.map(([, s]) => settingsOf(s).LIFEBOAT_HOST).sort();
    expect(hosts).toEqual(['backup-host', 'db-host']);
    for (const [, s] of lifeboatServices) {
      expect(s.command).toEqual(['worker']);
      expect(s.hostname).toBe(settingsOf(s).LIFEBOAT_HOST);
      expect(settingsOf(s).LIFEBOAT_BACKUP_HOST).toBe('backup-host');
    }
  });

  it('passes only known Lifeboat settings, and they parse', () => {
    for (const [name, service] of lifeboatServices) {
      const settings = settingsOf(service);
      const unknown = Object.keys(settings).filter((k) => !known.has(k));
      expect(unknown, `${name} passes settings Lifeboat does not know`).toEqual([]);
      const raw = Object.fromEntries(Object.entries(settings).filter(([k]) => !CLI_VARIABLES.has(k)));
      expect(parseConfig(raw).problems, `${name}'s settings do not validate`).toEqual([]);
    }
  });

  it('has every service a worker depends on or connects to, and the worker waits for them', () => {
    for (const [name, service] of lifeboatServices) {
      for (const dep of dependsOn(service)) expect(Object.keys(services), `${name} depends on ${dep}`).toContain(dep);
      const settings = settingsOf(service);
      for (const key of ['DB_HOST', 'TEMPORAL_ADDRESS', 'MINIO_SOURCE_ENDPOINT', 'MINIO_BACKUP_ENDPOINT']) {
        const value = settings[key];
        expect(value, `${name}: ${key}`).toBeDefined();
        const host = hostOf(value ?? '');
        expect(Object.keys(services), `${name}: ${key}=${value} names no service`).toContain(host);
        expect(dependsOn(service), `${name} does not wait for ${host}`).toContain(host);
      }
    }
    for (const [name, service] of Object.entries(services)) {
      for (const dep of dependsOn(service)) expect(Object.keys(services), `${name} depends on ${dep}`).toContain(dep);
    }
  });

  it("archives WAL where the workers' BACKUP_ROOT expects it", () => {
    const backupRoot = settingsOf(services['lifeboat-worker'] as Service).BACKUP_ROOT ?? '';
    const archive = walArchiveDir(backupRoot);
    const command = (services.postgres?.command as string[]).find((c) => c.startsWith('archive_command=')) ?? '';
    expect(command).toContain(`${archive}/%f`);
    for (const name of ['postgres', 'lifeboat-worker', 'lifeboat-worker-db']) {
      expect(services[name]?.volumes, name).toContain(`wal-archive:${archive}`);
    }
  });

  it(`runs the Temporal server ${TEMPORAL_SERVER_VERSION} the production topology is tested with, and UI ${TEMPORAL_UI_VERSION}`, () => {
    const images = Object.values(services).flatMap((s) => (s.image ? [s.image] : []));
    const temporal = images.filter((i) => i.startsWith('temporalio/'));
    expect(temporal.length).toBeGreaterThanOrEqual(3);
    for (const image of temporal) {
      const [repository, tag] = image.split(':');
      expect(tag, image).toBe(repository === 'temporalio/ui' ? TEMPORAL_UI_VERSION : TEMPORAL_SERVER_VERSION);
    }
    expect(temporal).toContain(`temporalio/ui:${TEMPORAL_UI_VERSION}`);
    // Persistence like the tested topology: PostgreSQL 15 with the postgres12 SQL plugin.
    expect(services['temporal-db']?.image).toBe('postgres:15');
    expect(environmentOf(services.temporal as Service).DB).toBe('postgres12');
    expect(environmentOf(services.temporal as Service).DEFAULT_NAMESPACE_RETENTION).toBe('720h');
  });
});
