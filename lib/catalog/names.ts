/**
 * Artifact names and keys, seed-compatible. Keys are relative to BACKUP_ROOT and identical on S3:
 *   daily/corporate_intel_daily_20251017-020000.sql.zst.gpg      (+ .metadata.json)
 *   daily/globals_20251017-020000.sql.zst.gpg                    (+ .metadata.json)
 *   base/20251017-030000/base.tar.zst.gpg                        (+ .metadata.json)
 *   wal-archive/000000010000000000000001                         (local, raw)
 *   wal-archive/000000010000000000000001.zst.gpg                 (remote, + .metadata.json)
 *   config/config_20251017-023000.tar.zst.gpg                    (+ .metadata.json)
 *   logs/backup-20251017-020000.log                              (local: one per backup run)
 * The extension always names the real encoding (COMPRESSION=gzip gives the seed's exact
 * `<db>_<tier>_<stamp>.sql.gz.gpg` and `globals_<stamp>.sql.gz.gpg`). Stamps are UTC.
 */
import type { CompressionAlgorithm } from '../pipeline/compress';
import { CONFIG_PREFIX, LOGS_DIR } from './layout';

export const TIERS = ['daily', 'weekly', 'monthly'] as const;
export type Tier = (typeof TIERS)[number];
export const METADATA_SUFFIX = '.metadata.json';

export function isTier(value: unknown): value is Tier {
  return typeof value === 'string' && (TIERS as readonly string[]).includes(value);
}

/** `YYYYMMDD-HHMMSS` in UTC. */
export function formatStamp(date: Date): string {
  const iso = date.toISOString();
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}-${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}`;
}

export function parseStamp(stamp: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})$/.exec(stamp);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m;
  const date = new Date(`${y}-${mo}-${d}T${h}:${mi}:${s}Z`);
  // Reject calendar times that do not exist (Feb 30, 24:00): they must survive the round trip.
  return Number.isNaN(date.getTime()) || formatStamp(date) !== stamp ? undefined : date;
}

export interface Encoding {
  compression: CompressionAlgorithm;
  encrypted: boolean;
}

export function encodingSuffix(encoding: Encoding): string {
  return `${encoding.compression === 'zstd' ? '.zst' : '.gz'}${encoding.encrypted ? '.gpg' : ''}`;
}

export function logicalBackupKey(database: string, tier: Tier, stamp: string, format: 'plain' | 'custom', encoding: Encoding): string {
  return `${tier}/${database}_${tier}_${stamp}${format === 'plain' ? '.sql' : '.dump'}${encodingSuffix(encoding)}`;
}

export function globalsKey(tier: Tier, stamp: string, encoding: Encoding): string {
  return `${tier}/globals_${stamp}.sql${encodingSuffix(encoding)}`;
}

export function baseBackupKey(stamp: string, encoding: Encoding): string {
  return `base/${stamp}/base.tar${encodingSuffix(encoding)}`;
}

/** `config/config_<stamp>.tar.zst[.gpg]`: the configuration files of one run. */
export function configArchiveKey(stamp: string, encoding: Encoding): string {
  return `${CONFIG_PREFIX}config_${stamp}.tar${encodingSuffix(encoding)}`;
}

/** `config/config_<stamp>.unchanged.json`: a run whose files were those of the last archive. */
export function configUnchangedKey(stamp: string): string {
  return `${CONFIG_PREFIX}config_${stamp}.unchanged.json`;
}

export function walRemoteKey(segment: string, encoding: Encoding): string {
  return `wal-archive/${segment}${encodingSuffix(encoding)}`;
}

/** `logs/backup-<stamp>.log`: the seed's per-run log (what ran, how long, result), one per backup run. */
export function runLogKey(stamp: string): string {
  return `${LOGS_DIR}/backup-${stamp}.log`;
}

/** A run log's file name; group 1 is its stamp. */
export const RUN_LOG_PATTERN = /^backup-(\d{8}-\d{6})\.log$/;

export function metadataKey(key: string): string {
  return `${key}${METADATA_SUFFIX}`;
}

/** WAL file names PostgreSQL archives: segments, timeline history, backup history, partial segments. */
export const WAL_FILE_PATTERN = /^([0-9A-F]{24}(\.partial|\.[0-9A-F]{8}\.backup)?|[0-9A-F]{8}\.history)$/;

/** Decode the encoding from a key's extension. */
export function encodingOf(key: string): Encoding {
  const encrypted = key.endsWith('.gpg');
  const rest = encrypted ? key.slice(0, -4) : key;
  if (rest.endsWith('.zst')) return { compression: 'zstd', encrypted };
  if (rest.endsWith('.gz')) return { compression: 'gzip', encrypted };
  throw new Error(`unknown encoding in ${key}`);
}
