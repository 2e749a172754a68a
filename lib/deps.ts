/**
 * What the activities run against, built once per process: the stores (BACKUP_ROOT, the off-site
 * bucket, MINIO_BACKUP_ROOT, the source and backup MinIO), the key ring, PostgreSQL's tools, the
 * notifier, and the slots the disaster-recovery runbook fills (environment and DNS providers).
 * workers/worker.ts is the composition root (`buildDeps`); the CLI builds the same stores for its
 * read-only listings (`buildStores`). Nothing else constructs a store, so tests hand in real or fake
 * parts here. Building connects to nothing: every client connects on first use.
 */
import type { PrivateKey } from 'openpgp';
import type { Config } from './config/load';
import { loadPrivateKeys, loadPublicKey, type EncryptionKey } from './crypto/openpgp';
import { dnsProviderFromConfig } from './dns/from-config';
import type { DnsProvider } from './dns/provider';
import type { EnvironmentKind } from './environment/kinds';
import type { EnvironmentProvider } from './environment/provider';
import { environmentProviderFor } from './environment/providers';
import type { Logger } from './logger';
import { BucketStore } from './minio/bucket-store';
import type { Alert } from './notify/alert';
import { channelsFor, sendToChannel } from './notify/channels';
import { pgToolEnv, pgToolPath, type PgTool } from './postgres/tools';
import { FsStore } from './storage/fs-store';
import { S3Store, s3SettingsFromConfig } from './storage/s3-store';
import { lazyTemporalClient, type TemporalAccess } from './temporal-client';

export interface Stores {
  /** BACKUP_ROOT. */
  local: FsStore;
  /** S3_BUCKET when REMOTE_STORAGE=true (the off-site copy every backup gets); undefined otherwise. */
  remote?: S3Store;
  /**
   * S3_BUCKET whatever REMOTE_STORAGE says (WAL shipping, uploads, the archive tier ask for it
   * explicitly): InputInvalid(S3_BUCKET) when no bucket is set, at the call, not at start-up.
   */
  offsite(): S3Store;
  /** MINIO_BACKUP_ROOT (snapshots/ below it). */
  snapshots: FsStore;
  /** The production ("source") MinIO. */
  minioSource: BucketStore;
  /** The backup MinIO, when MINIO_BACKUP_ENDPOINT is set. */
  minioBackup?: BucketStore;
  /**
   * A MinIO at `endpoint` other than the configured ones (a restore target, e.g. the new MinIO of the
   * DR runbook), reached with the source MinIO's keys (MINIO_SOURCE_ACCESS_KEY / _SECRET_KEY): the new
   * server is set up with production's credentials, so no secret travels in a workflow input.
   */
  minioAt(endpoint: string): BucketStore;
}

/** The backup key pair, loaded when asked (the key file or GnuPG keyring is read at each call). */
export interface KeyRing {
  /** The recipient's public key (encrypting). KeyUnavailable when it cannot be had. */
  publicKey(): Promise<EncryptionKey>;
  /** The private key(s) (decrypting). KeyUnavailable when they cannot be had. */
  privateKeys(): Promise<PrivateKey[]>;
}

/** PostgreSQL's own tools for the configured server (lib/postgres/tools.ts, bound to DB_*). */
export interface PgTools {
  path(tool: PgTool, serverMajor?: number): string;
  env(database?: string, tool?: PgTool): NodeJS.ProcessEnv;
}

/** Alert delivery to the configured channels (lib/notify/channels.ts). */
export interface Notifier {
  channelsFor(alert: Alert): ReturnType<typeof channelsFor>;
  send(channel: ReturnType<typeof channelsFor>[number], alert: Alert): Promise<void>;
}

export interface Deps {
  config: Config;
  logger: Logger;
  stores: Stores;
  keys: KeyRing;
  pgTools: PgTools;
  notifier: Notifier;
  /** Runbook step 2: the provider DR_ENVIRONMENT names (lib/environment/providers.ts). */
  environment?: EnvironmentProvider;
  /** The DNS switch of runbook step 8 (DR_DNS_PROVIDER); undefined when it is `none`. */
  dns?: DnsProvider;
  /**
   * The environment provider of `kind` (a DR run's `environment` input may name another than
   * DR_ENVIRONMENT's); InputInvalid naming the missing settings when that kind is not configured.
   */
  environments: (kind: EnvironmentKind) => EnvironmentProvider;
  /** A Temporal client (the audit export reads closed runs' histories); connects on first use, closed by the worker at shutdown. */
  temporal: TemporalAccess;
}

export function buildStores(config: Config): Stores {
  const remote = config.remote.enabled ? new S3Store(s3SettingsFromConfig(config.remote)) : undefined;
  let offsite: S3Store | undefined = remote;
  const targets = new Map<string, BucketStore>();
  const minioAt = (endpoint: string): BucketStore => {
    let store = targets.get(endpoint);
    if (!store) targets.set(endpoint, (store = new BucketStore({ ...config.minio.source, endpoint }, 'source')));
    return store;
  };
  return {
    local: new FsStore(config.backupRoot),
    remote,
    offsite: () => (offsite ??= new S3Store(s3SettingsFromConfig(config.remote))),
    snapshots: new FsStore(config.minio.backupRoot),
    minioSource: new BucketStore(config.minio.source, 'source'),
    minioBackup: config.minio.backup ? new BucketStore(config.minio.backup, 'backup') : undefined,
    minioAt,
  };
}

export function buildKeyRing(encryption: Config['encryption']): KeyRing {
  return { publicKey: () => loadPublicKey(encryption), privateKeys: () => loadPrivateKeys(encryption) };
}

/** Providers by kind, each built once, on first use (so a kind that is not configured fails only when asked for). */
function environmentsOf(config: Config, logger: Logger): (kind: EnvironmentKind) => EnvironmentProvider {
  const built = new Map<EnvironmentKind, EnvironmentProvider>();
  return (kind) => {
    let provider = built.get(kind);
    if (!provider) built.set(kind, (provider = environmentProviderFor(kind, config, logger)));
    return provider;
  };
}

/** The composition root's builder; `overrides` replaces chosen parts (tests). */
export function buildDeps(config: Config, logger: Logger, overrides: Partial<Omit<Deps, 'config' | 'logger'>> = {}): Deps {
  return {
    config,
    logger,
    stores: buildStores(config),
    keys: buildKeyRing(config.encryption),
    pgTools: { path: (tool, serverMajor) => pgToolPath(config.db, tool, serverMajor), env: (database, tool) => pgToolEnv(config.db, database, tool) },
    notifier: { channelsFor: (alert) => channelsFor(alert, config), send: (channel, alert) => sendToChannel(channel, alert, config) },
    dns: dnsProviderFromConfig(config.dns),
    environment: environmentProviderFor(config.environment.kind, config, logger, 'DR_ENVIRONMENT'),
    environments: environmentsOf(config, logger),
    temporal: lazyTemporalClient(config),
    ...overrides,
  };
}
