/** `lifeboat worker`: serve the general and host-pinned task queues until interrupted. */
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
      await workers.run();
    },
  },
];
