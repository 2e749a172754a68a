/**
 * WAL shipping activities (backup host): send every archived-but-unshipped WAL file to S3 and
 * report the backlog. Each file is independent and re-shipping is harmless, so a retry after a
 * crash simply continues with what is still pending.
 */
import { Context } from '@temporalio/activity';
import { walArchiveDir } from '../lib/catalog/paths';
import type { Deps } from '../lib/deps';
import { shipWalFile, walBacklog, type WalBacklog } from '../lib/wal/remote';

export interface ShipWalResult {
  shipped: string[];
  backlog: Omit<WalBacklog, 'pending'> & { pendingCount: number };
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
      return summarize(await walBacklog(walArchiveDir(config.backupRoot), stores.offsite()));
    },
  };
}
