/** `lifeboat stack up|down|status` and `lifeboat tools ensure`. */
import { stackDown, stackStatus, stackUp } from '../stack/stack';
import { stackSettings } from '../stack/settings';
import { ensureTools } from '../stack/tools';
import type { CommandSpec } from '../command-table';

const profileOption = { flags: '--test', description: "the test suite's stack (its own directory and ports)" };
const settingsFor = (opts: Record<string, unknown>) => stackSettings(process.env, opts.test ? 'test' : 'dev');

export const stackCommands: CommandSpec[] = [
  {
    name: 'stack up',
    summary: 'start the embedded Temporal, PostgreSQL, MinIO and BIND 9 servers (idempotent)',
    options: [profileOption],
    async run(_args, opts) {
      const settings = settingsFor(opts);
      const result = await stackUp(settings);
      const started = result.started.length > 0 ? `started ${result.started.join(', ')}` : 'nothing to start';
      const running = result.alreadyRunning.length > 0 ? `; already running: ${result.alreadyRunning.join(', ')}` : '';
      process.stdout.write(`stack up in ${settings.dir}: ${started}${running}\nconfig: ${result.envFile}\ntemporal ui: ${result.uiUrl}\n`);
    },
  },
  {
    name: 'stack down',
    summary: 'stop exactly the processes `stack up` started',
    options: [profileOption],
    async run(_args, opts) {
      const settings = settingsFor(opts);
      const stopped = await stackDown(settings);
      process.stdout.write(stopped.length > 0 ? `stopped ${stopped.join(', ')}\n` : 'nothing was running\n');
    },
  },
  {
    name: 'stack status',
    summary: 'show which stack servers run and answer',
    options: [profileOption, { flags: '--json', description: 'machine-readable output' }],
    async run(_args, opts) {
      const status = await stackStatus(settingsFor(opts));
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
      } else {
        for (const s of status) {
          process.stdout.write(`${s.name.padEnd(13)} ${s.running ? `running pid ${s.pid}` : 'stopped'}${s.running ? (s.answering ? '' : ' (not answering)') : ''}  ${s.address}\n`);
        }
      }
      return status.every((s) => s.running && s.answering) ? 0 : 1;
    },
  },
  {
    name: 'tools ensure',
    summary: 'build or install missing servers and tools (temporal, minio, postgresql-15, gpg, zstd, bind9, bind9-dnsutils)',
    async run() {
      const tools = await ensureTools(stackSettings().toolsDir);
      process.stdout.write(`${Object.entries(tools).map(([k, v]) => `${k}: ${v}`).join('\n')}\n`);
    },
  },
];
