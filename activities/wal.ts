/**
 * WAL shipping activities (backup host): send every archived-but-unshipped WAL file to S3 (several
 * at once) and report the backlog; measure the RPO exposure and turn it into the `rpo-exposure`
 * alert state. Each file is independent and re-shipping is harmless, so a retry after a crash
 * simply continues with what is still pending.
 */
import { Context } from '@temporalio/activity';
import { walArchiveDir } from '../lib/catalog/paths';
import type { Deps } from '../lib/deps';
import type { Alert } from '../lib/notify/alert';
import { alertStatePath, updateAlertState } from '../lib/notify/state';
import { scrubSecrets } from '../lib/secrets';
import { currentWalLsn, readRpoExposureOrLastKnown } from '../lib/wal/exposure';
import { shipWalFiles, walBacklog, WAL_SHIP_CONCURRENCY, type WalBacklog } from '../lib/wal/remote';
import { rpoExposureEvaluation, shipIntervalSeconds, type RpoExposure } from '../lib/wal/rpo';

export interface ShipWalResult {
  shipped: string[];
  backlog: Omit<WalBacklog, 'pending'> & { pendingCount: number };
}

export interface RpoExposureCheck {
  exposure?: RpoExposure;
  /** Why there is no figure (the off-site store never answered on this host). */
  unmeasured?: string;
  /** Alerts that started, changed severity or cleared with this check (deduplicated: send them all). */
  alerts: Alert[];
  /** How often to check again while a shipping run is still busy: the ship interval. */
  recheckSeconds: number;
}

export function createWalActivities({ config, logger, stores, keys }: Pick<Deps, 'config' | 'logger' | 'stores' | 'keys'>) {
  const summarize = (b: WalBacklog): ShipWalResult['backlog'] => {
    const { pending, ...rest } = b;
    return { ...rest, pendingCount: pending.length };
  };
  return {
    async shipWal(input: { limit?: number } = {}): Promise<ShipWalResult> {
      const ctx = Context.current();
      const remote = stores.offsite();
      const archiveDir = walArchiveDir(config.backupRoot);
      const key = config.encryption.enabled ? await keys.publicKey() : undefined;
      const before = await walBacklog(archiveDir, remote);
      const todo = before.pending.slice(0, input.limit ?? before.pending.length);
      const execution = ctx.info.workflowExecution;
      const shipped = await shipWalFiles(
        todo,
        { archiveDir, remote, compression: config.compression, encryptionKey: key, workflowId: execution?.workflowId, runId: execution?.runId },
        { concurrency: WAL_SHIP_CONCURRENCY, signal: ctx.cancellationSignal, onShipped: (progress) => ctx.heartbeat(progress) },
      );
      const after = await walBacklog(archiveDir, remote);
      if (shipped.length > 0) logger.info({ shipped: shipped.length, pending: after.pending.length }, 'wal shipped');
      return { shipped, backlog: summarize(after) };
    },

    async measureWalBacklog(): Promise<ShipWalResult['backlog']> {
      return summarize(await walBacklog(walArchiveDir(config.backupRoot), stores.offsite()));
    },

    /**
     * The exposure now (the last known off-site state when the store does not answer) and the
     * `rpo-exposure` transitions in the alert state the hourly monitor shares.
     */
    async checkRpoExposure(): Promise<RpoExposureCheck> {
      const target = config.monitor.rpoTargetSeconds;
      const recheckSeconds = shipIntervalSeconds(target);
      let exposure: RpoExposure;
      try {
        exposure = await readRpoExposureOrLastKnown(config.backupRoot, walArchiveDir(config.backupRoot), stores.offsite(), target, {
          currentLsn: await currentWalLsn(config.db), secretValues: config.secretValues,
        });
      } catch (error) {
        // Never listed off-site and it does not answer now: there is no figure to alert on.
        const unmeasured = scrubSecrets(error instanceof Error ? error.message : String(error), config.secretValues);
        logger.warn({ error: unmeasured }, 'rpo exposure not measured');
        return { alerts: [], recheckSeconds, unmeasured };
      }
      const evaluation = rpoExposureEvaluation(exposure, target);
      const alerts = evaluation ? await updateAlertState(alertStatePath(config.backupRoot), [evaluation]) : [];
      return { exposure, alerts, recheckSeconds };
    },
  };
}
