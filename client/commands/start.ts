/**
 * `lifeboat start [--once]` (what `npm start` runs): bring up the embedded stack, start a worker
 * in this process, run the main job, print a summary and the Temporal UI address, then keep serving
 * until interrupted. With --once, exit after the job: 0 when every step succeeded, 1 otherwise.
 * The stack keeps running after exit; `lifeboat stack down` stops it.
 */
import { join } from 'node:path';
import { startMetricsServer } from '../../lib/monitor/prometheus';
import { connectClient, loadCliContext } from '../context';
import { runMainJob } from '../main-job';
import { stackSettings } from '../stack/settings';
import { stackUp } from '../stack/stack';
import { installRuntime } from '../../workers/runtime';
import { createWorkers } from '../../workers/worker';
import type { CommandSpec } from '../command-table';

export const startCommands: CommandSpec[] = [
  {
    name: 'start',
    summary: 'bring up the local stack, start a worker, run the main job and keep serving',
    options: [{ flags: '--once', description: 'exit after the main job (status 0 or 1)' }],
    async run(_args, opts) {
      const t0 = Date.now();
      const settings = stackSettings();
      process.stdout.write(`lifeboat: bringing up the local stack in ${settings.dir}\n`);
      const up = await stackUp(settings, (line) => process.stdout.write(`  ${line}\n`));
      const logFile = join(settings.dir, 'logs', 'worker.log');
      const { config, logger } = loadCliContext({ envFile: up.envFile, logFile });
      installRuntime({ logger, metricsPort: config.metricsPort });
      const workers = await createWorkers({ config, logger });
      const metricsServer = config.monitor.metricsPort ? await startMetricsServer(join(config.backupRoot, 'metrics'), config.monitor.metricsPort).catch(() => undefined) : undefined;
      const serving = workers.run().finally(() => metricsServer?.close());
      const client = await connectClient(config);
      const results = await runMainJob({ client, config, taskQueue: workers.taskQueue, hostTaskQueue: workers.hostTaskQueue, made: {} });
      const ok = results.every((r) => r.ok) && results.length > 0;
      const out: string[] = [
        '',
        ok ? 'lifeboat: main job succeeded' : 'lifeboat: main job FAILED',
        ...results.map((r) => `  ${r.ok ? 'ok  ' : 'FAIL'} ${r.name} (${r.seconds.toFixed(1)} s): ${r.summary}`),
        `  temporal ui   ${up.uiUrl}/namespaces/${config.temporal.namespace}/workflows`,
        `  task queues   ${workers.taskQueue}, ${workers.hostTaskQueue}`,
        `  config        ${up.envFile}`,
        `  worker log    ${logFile}`,
        ...(metricsServer ? [`  metrics       http://127.0.0.1:${config.monitor.metricsPort}/metrics`] : []),
        `  total         ${((Date.now() - t0) / 1000).toFixed(1)} s`,
        '',
      ];
      process.stdout.write(out.join('\n'));
      await client.connection.close();
      if (opts.once) {
        workers.shutdown();
        await serving;
        return ok ? 0 : 1;
      }
      process.stdout.write('serving; press Ctrl-C to stop the worker (the stack keeps running: `npx lifeboat stack down` stops it)\n');
      await serving;
      return ok ? 0 : 1;
    },
  },
];
