/** `lifeboat worker`: serve the general and host-pinned task queues until interrupted. */
import { join } from 'node:path';
import { startMetricsServer } from '../../lib/monitor/prometheus';
import { loadCliContext } from '../context';
import { installRuntime } from '../../workers/runtime';
import { createWorkers } from '../../workers/worker';
import type { CommandSpec } from '../command-table';

export const workerCommands: CommandSpec[] = [
  {
    name: 'worker',
    summary: 'run a Lifeboat worker (general queue and this host\'s pinned queue)',
    async run() {
      const { config, logger } = loadCliContext({ logFd: 1 });
      installRuntime({ logger, metricsPort: config.metricsPort });
      const workers = await createWorkers({ config, logger });
      const metrics = config.monitor.metricsPort ? await startMetricsServer(join(config.backupRoot, 'metrics'), config.monitor.metricsPort) : undefined;
      if (metrics) logger.info({ port: config.monitor.metricsPort }, 'serving backup metrics on /metrics');
      try {
        await workers.run();
      } finally {
        metrics?.close();
      }
    },
  },
];
