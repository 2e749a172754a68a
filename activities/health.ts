/** Health probes: prove that this worker reaches PostgreSQL, both MinIO servers and its local disk. */
import { statfs } from 'node:fs/promises';
import type { Config } from '../lib/config/load';
import { postgresServerInfo, type PostgresServerInfo } from '../lib/postgres/connection';
import { minioServerInfo, type MinioServerInfo } from '../lib/storage/minio';
import { LIFEBOAT_VERSION } from '../lib/version';
import { hostname } from 'node:os';

export interface LocalDiskInfo {
  host: string;
  lifeboatVersion: string;
  backupRoot: string;
  exists: boolean;
  freeBytes?: number;
  totalBytes?: number;
}

export function createHealthActivities({ config }: { config: Config }) {
  return {
    /** Server version, database size and recovery state of the configured database. */
    async probePostgres(): Promise<PostgresServerInfo> {
      return postgresServerInfo(config.db);
    },
    /** Version and buckets of the source or backup MinIO. */
    async probeMinio(role: 'source' | 'backup'): Promise<MinioServerInfo | { endpoint: null; note: string }> {
      const endpoint = role === 'source' ? config.minio.source : config.minio.backup;
      if (!endpoint) return { endpoint: null, note: 'MINIO_BACKUP_ENDPOINT is not configured' };
      return minioServerInfo(endpoint);
    },
    /** Free space under BACKUP_ROOT on the host this activity runs on (host-pinned queue). */
    async probeLocalDisk(): Promise<LocalDiskInfo> {
      const base = { host: hostname(), lifeboatVersion: LIFEBOAT_VERSION, backupRoot: config.backupRoot };
      try {
        const fs = await statfs(config.backupRoot);
        return { ...base, exists: true, freeBytes: fs.bavail * fs.bsize, totalBytes: fs.blocks * fs.bsize };
      } catch {
        return { ...base, exists: false };
      }
    },
  };
}
