/** `lifeboat stack up|down|status` and `lifeboat tools ensure`. */
import { stackDown, stackStatus, stackUp } from '../stack/stack';
import { stackSettings } from '../stack/settings';
import { ensureTemporalServer, ensureTools } from '../stack/tools';
import { TOPOLOGIES, type Topology } from '../stack/topology';
import { InputInvalid } from '../../lib/errors';
import type { CommandSpec } from '../command-table';

const profileOption = { flags: '--test', description: "the test suite's stack (its own directory and ports)" };
const topologyOption = {
  flags: '--topology <name>',
  description: '`dev` (default): the Temporal dev server; `production`: the real Temporal server on PostgreSQL and workers for db-host and backup-host (docs/production-topology.md)',
  default: 'dev',
};

function topologyOf(opts: Record<string, unknown>): Topology {
  const value = String(opts.topology ?? 'dev');
  if (!(TOPOLOGIES as readonly string[]).includes(value)) throw new InputInvalid('--topology', `must be one of ${TOPOLOGIES.join(', ')} (got "${value}")`, 'use --topology production or leave it out');
  return value as Topology;
}

const settingsFor = (opts: Record<string, unknown>) => stackSettings(process.env, opts.test ? 'test' : 'dev', topologyOf(opts));

export const stackCommands: CommandSpec[] = [
  {
    name: 'stack up',
    summary: 'start the embedded Temporal, PostgreSQL, MinIO and BIND 9 servers (idempotent)',
    options: [profileOption, topologyOption],
    async run(_args, opts) {
      const settings = settingsFor(opts);
      const result = await stackUp(settings);
      const started = result.started.length > 0 ? `started ${result.started.join(', ')}` : 'nothing to start';
      const running = result.alreadyRunning.length > 0 ? `; already running: ${result.alreadyRunning.join(', ')}` : '';
      process.stdout.write(`stack up in ${settings.dir}: ${started}${running}\nconfig: ${result.envFile}\ntemporal ui: ${result.uiUrl || 'none (the real server has no UI built in; see docs/production-topology.md)'}\n`);
    },
  },
  {
    name: 'stack down',
    summary: 'stop exactly the processes `stack up` started',
    options: [profileOption, topologyOption],
    async run(_args, opts) {
      const settings = settingsFor(opts);
      const stopped = await stackDown(settings);
      process.stdout.write(stopped.length > 0 ? `stopped ${stopped.join(', ')}\n` : 'nothing was running\n');
    },
  },
  {
    name: 'stack status',
    summary: 'show which stack servers run and answer',
    options: [profileOption, topologyOption, { flags: '--json', description: 'machine-readable output' }],
    async run(_args, opts) {
      const status = await stackStatus(settingsFor(opts));
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
      } else {
        for (const s of status) {
          process.stdout.write(`${s.name.padEnd(18)} ${s.running ? `running pid ${s.pid}` : 'stopped'}${s.running ? (s.answering ? '' : ' (not answering)') : ''}  ${s.address}\n`);
        }
      }
      return status.every((s) => s.running && s.answering) ? 0 : 1;
    },
  },
  {
    name: 'tools ensure',
    summary: 'build or install missing servers and tools (temporal, minio, the WAL archive_command, postgresql-15, gpg, zstd, bind9, bind9-dnsutils)',
    options: [
      { flags: '--production', description: 'also the real Temporal server and its SQL tool for `stack up --topology production` (a ~10 min build, once)' },
      { flags: '--browser', description: "also Debian's chromium, for the tests that open the Temporal UI headless" },
    ],
    async run(_args, opts) {
      const tools = await ensureTools(stackSettings().toolsDir, undefined, { browser: Boolean(opts.browser) });
      const server = opts.production ? await ensureTemporalServer() : undefined;
      const lines = { ...tools, ...(server ? { temporalServer: server.server, temporalSql: server.sql, temporalSchema: server.schemaDir ?? '(embedded in the sql tool)' } : {}) };
      process.stdout.write(`${Object.entries(lines).map(([k, v]) => `${k}: ${v}`).join('\n')}\n`);
    },
  },
];
