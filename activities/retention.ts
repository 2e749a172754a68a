/**
 * Retention activities (backup host): plan and apply in one step per location, so the plan acted on
 * is never stale. Every deletion is logged (JSON log and `$BACKUP_ROOT/logs/prune.jsonl`).
 * `sweepStalePartials` removes the hidden `.partial` temp files killed runs left (older than any
 * activity may run). `ensureArchiveTier` sets the lifecycle rule that moves remote monthly backups to an archive
 * storage class, where the target supports it.
 */
import { GetBucketLifecycleConfigurationCommand, PutBucketLifecycleConfigurationCommand } from '@aws-sdk/client-s3';
import { Context } from '@temporalio/activity';
import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { REMOTE_SNAPSHOT_PREFIX, SNAPSHOT_DIR } from '../lib/catalog/layout';
import { logsDir, walArchiveDir } from '../lib/catalog/paths';
import type { Deps } from '../lib/deps';
import { InputInvalid } from '../lib/errors';
import { backupInventory, snapshotInventory, type LocatedItem } from '../lib/retention/inventory';
import { sweepStalePartials, type StalePartial } from '../lib/retention/partials';
import { planRetention, type Decision } from '../lib/retention/plan';
import type { Store } from '../lib/storage/store';

export interface PruneResult {
  location: string;
  dryRun: boolean;
  kept: number;
  removed: Decision[];
  bytesFreed: number;
}

export interface PartialsSweep {
  dryRun: boolean;
  /** Only temp files untouched for this long were considered (the longest activity timeout). */
  minAgeSeconds: number;
  /** Removed (or, on a dry run, to remove). */
  files: StalePartial[];
  bytesFreed: number;
}

export function createRetentionActivities({ config, logger, stores: deps }: Pick<Deps, 'config' | 'logger' | 'stores'>) {
  const stores = (location: 'local' | 'remote'): { backups: Store; snapshots: Store; snapshotPrefix: string; walDays: number; localWalDir?: string } =>
    location === 'local'
      ? { backups: deps.local, snapshots: deps.snapshots, snapshotPrefix: `${SNAPSHOT_DIR}/`, walDays: config.retention.walLocalDays, localWalDir: walArchiveDir(config.backupRoot) }
      : (() => {
          const s3 = deps.offsite();
          return { backups: s3, snapshots: s3, snapshotPrefix: REMOTE_SNAPSHOT_PREFIX, walDays: config.retention.walRemoteDays };
        })();

  return {
    async pruneBackups(input: { location: 'local' | 'remote'; dryRun?: boolean }): Promise<PruneResult> {
      const ctx = Context.current();
      const where = stores(input.location);
      const items: LocatedItem[] = [
        ...(await backupInventory(where.backups, { localWalDir: where.localWalDir })),
        ...(await snapshotInventory(where.snapshots, where.snapshotPrefix)),
      ];
      const { retention } = config;
      const plan = planRetention(items, { daily: retention.daily, weekly: retention.weekly, monthly: retention.monthly, walDays: where.walDays, snapshotDays: retention.snapshotDays }, new Date());
      const byKey = new Map(items.map((i) => [i.key, i]));
      let bytesFreed = 0;
      if (!input.dryRun) {
        const logDir = logsDir(config.backupRoot);
        await mkdir(logDir, { recursive: true });
        for (const [index, decision] of plan.remove.entries()) {
          const item = byKey.get(decision.key)!;
          const store = item.store === 'snapshots' ? where.snapshots : where.backups;
          bytesFreed += (await store.stat(item.key))?.size ?? 0;
          for (const key of item.keys) await store.delete(key);
          const entry = { at: new Date().toISOString(), location: store.location, key: decision.key, kind: decision.kind, reason: decision.reason };
          await appendFile(join(logDir, 'prune.jsonl'), `${JSON.stringify(entry)}\n`);
          logger.info(entry, 'pruned');
          if (index % 20 === 0) ctx.heartbeat({ removed: index + 1, of: plan.remove.length });
        }
      }
      return { location: where.backups.location, dryRun: Boolean(input.dryRun), kept: plan.keep.length, removed: plan.remove, bytesFreed };
    },

    /**
     * Remove the `.partial` temp files killed runs left under BACKUP_ROOT and MINIO_BACKUP_ROOT that
     * nothing has written for `minAgeMs` (the workflow passes the longest activity timeout), or only
     * list them on a dry run. Each removal is logged like a pruned backup.
     */
    async sweepStalePartials(input: { minAgeMs: number; dryRun?: boolean }): Promise<PartialsSweep> {
      if (!Number.isFinite(input.minAgeMs) || input.minAgeMs < 60_000) throw new InputInvalid('minAgeMs', `must be at least one minute (got ${input.minAgeMs})`);
      const dryRun = Boolean(input.dryRun);
      const files = await sweepStalePartials([config.backupRoot, config.minio.backupRoot], input.minAgeMs, dryRun);
      if (!dryRun && files.length > 0) {
        const logDir = logsDir(config.backupRoot);
        await mkdir(logDir, { recursive: true });
        for (const f of files) {
          const entry = { at: new Date().toISOString(), location: 'local', key: f.path, kind: 'partial', reason: `temp file of an interrupted run, untouched for ${Math.round(f.ageSeconds / 3600)} h` };
          await appendFile(join(logDir, 'prune.jsonl'), `${JSON.stringify(entry)}\n`);
          logger.info(entry, 'pruned');
        }
      }
      return { dryRun, minAgeSeconds: Math.round(input.minAgeMs / 1000), files, bytesFreed: dryRun ? 0 : files.reduce((n, f) => n + f.bytes, 0) };
    },

    /** Lifecycle rule: remote monthly backups to ARCHIVE_STORAGE_CLASS after ARCHIVE_AFTER_DAYS. */
    async ensureArchiveTier(): Promise<{ configured: boolean; detail: string }> {
      const storageClass = config.retention.archiveStorageClass;
      if (!storageClass) return { configured: false, detail: 'ARCHIVE_STORAGE_CLASS is not set' };
      const s3 = deps.offsite();
      const { settings } = s3;
      const rule = {
        ID: 'lifeboat-monthly-archive',
        Status: 'Enabled' as const,
        Filter: { Prefix: 'monthly/' },
        Transitions: [{ Days: config.retention.archiveAfterDays, StorageClass: storageClass as never }],
      };
      try {
        const current = await s3.client.send(new GetBucketLifecycleConfigurationCommand({ Bucket: settings.bucket })).catch(() => ({ Rules: [] }));
        const others = (current.Rules ?? []).filter((r) => r.ID !== rule.ID);
        await s3.client.send(new PutBucketLifecycleConfigurationCommand({ Bucket: settings.bucket, LifecycleConfiguration: { Rules: [...others, rule] } }));
        return { configured: true, detail: `monthly/ -> ${storageClass} after ${config.retention.archiveAfterDays} days; local copies stay hot` };
      } catch (error) {
        // e.g. MinIO without a remote tier of that name: report, do not fail the prune.
        return { configured: false, detail: `${settings.endpoint} does not support a transition to ${storageClass}: ${(error as Error).message}` };
      }
    },
  };
}
