/**
 * Monitoring activities (backup host): collect the facts (catalog, disk, WAL, and the success rate
 * from Temporal's own visibility of Lifeboat's workflows) and write the metrics JSON.
 */
import { Context } from '@temporalio/activity';
import type { Deps } from '../lib/deps';
import { collectMonitorFacts, writeMetrics } from '../lib/monitor/collect';
import type { MonitorFacts, SeedMetrics } from '../lib/monitor/evaluate';

export function createMonitorActivities({ config, stores }: Pick<Deps, 'config' | 'stores'>) {
  return {
    async collectMonitorFacts(): Promise<MonitorFacts> {
      const client = Context.current().client;
      return collectMonitorFacts(config, stores, async (query) => (await client.workflow.count(query)).count);
    },
    async writeMetrics(input: { metrics: SeedMetrics; facts: MonitorFacts }): Promise<{ file: string }> {
      return { file: await writeMetrics(config, input.metrics, input.facts) };
    },
  };
}
