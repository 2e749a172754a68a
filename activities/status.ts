/**
 * Status activity (backup host's pinned queue): everything `lifeboat status` needs from BACKUP_ROOT,
 * the stores and PostgreSQL, collected by lib/status/collect.ts; the success rate comes from
 * Temporal's own visibility, as for monitoring.
 */
import { Context } from '@temporalio/activity';
import type { Deps } from '../lib/deps';
import type { Thresholds } from '../lib/monitor/evaluate';
import { collectHostStatus } from '../lib/status/collect';
import type { HostStatusFacts } from '../lib/status/facts';

export function createStatusActivities({ config, stores }: Pick<Deps, 'config' | 'stores'>) {
  return {
    async collectHostStatus(input: { thresholds: Thresholds }): Promise<HostStatusFacts> {
      const client = Context.current().client;
      return collectHostStatus(config, stores, async (query) => (await client.workflow.count(query)).count, input.thresholds);
    },
  };
}
