/**
 * WAL shipping activities (backup host): send every archived-but-unshipped WAL file to S3 and
 * report the backlog. Each file is independent and re-shipping is harmless, so a retry after a
 * crash simply continues with what is still pending.
 */
import { Context } from '@temporalio/activity';
import { join } from 'node:path';
import type { Config } from '../lib/config/load';
import { loadPublicKey } from '../lib/crypto/openpgp';
import type { Logger } from '../lib/logger';
import { S3Store, s3SettingsFromConfig } from '../lib/storage/s3-store';
import { shipWalFile, walBacklog, type WalBacklog } from '../lib/wal/remote';

export interface ShipWalResult {
  shipped: string[];
  backlog: Omit<WalBacklog, 'pending'> & { pendingCount: number };
}

export function walArchiveDir(config: Config): string {
  return join(config.backupRoot, 'wal-archive');
}

export function createWalActivities({ config, logger }: { config: Config; logger: Logger }) {
  const summarize = (b: WalBacklog): ShipWalResult['backlog'] => {
    const { pending, ...rest } = b;
    return { ...rest, pendingCount: pending.length };
  };
  return {
    async shipWal(input: { limit?: number } = {}): Promise<ShipWalResult> {
      const ctx = Context.current();
      const remote = new S3Store(s3SettingsFromConfig(config.remote));
      const archiveDir = walArchiveDir(config);
      const key = config.encryption.enabled ? await loadPublicKey(config.encryption) : undefined;
      const before = await walBacklog(archiveDir, remote);
      const todo = before.pending.slice(0, input.limit ?? before.pending.length);
      const shipped: string[] = [];
      for (const name of todo) {
        ctx.cancellationSignal.throwIfAborted();
        await shipWalFile(name, { archiveDir, remote, compression: config.compression, encryptionKey: key, workflowId: ctx.info.workflowExecution?.workflowId, runId: ctx.info.workflowExecution?.runId });
        shipped.push(name);
        ctx.heartbeat({ shipped: shipped.length, of: todo.length, last: name });
      }
      const after = await walBacklog(archiveDir, remote);
      if (shipped.length > 0) logger.info({ shipped: shipped.length, pending: after.pending.length }, 'wal shipped');
      return { shipped, backlog: summarize(after) };
    },
    async measureWalBacklog(): Promise<ShipWalResult['backlog']> {
      return summarize(await walBacklog(walArchiveDir(config), new S3Store(s3SettingsFromConfig(config.remote))));
    },
  };
}
