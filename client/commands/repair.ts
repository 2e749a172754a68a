/**
 * `lifeboat repair <backup> [--json]`: replace a bad copy of a backup (local or off-site) from the
 * good one (the repairBackup workflow). Exit 0 when it repaired a copy or both were good already;
 * exit 6 when no copy is good, naming both copies' states. The backup is found before anything starts.
 */
import { formatStamp } from '../../lib/catalog/names';
import type { Config } from '../../lib/config/load';
import { buildStores } from '../../lib/deps';
import { locateBackup } from '../../lib/restore/locate';
import { repairBackup, type RepairBackupResult } from '../../workflows/repair-backup';
import type { CommandSpec } from '../command-table';
import { connectClient, loadCliContext } from '../context';
import { printJson, startedJson } from '../format';
import { awaitResult, requireWorkers } from '../progress';
import { uiStartOptions, type UiLabel } from '../start-options';
import { temporalHint } from './temporal';

/** The UI label of a repair of `key`. Pure. */
export function repairLabel(config: Pick<Config, 'db'>, key: string): UiLabel {
  return {
    kind: 'repair',
    summary: `Repair of ${key}: replace a bad copy from the good one`,
    what: `Both copies of backup \`${key}\` (local and off-site) checked against its metadata; a bad or missing copy is replaced from the good one after the good one's checksum is proven. Nothing is done when both are good or none is.`,
    show: 'lifeboat backups list',
    backup: key,
    attributes: { LifeboatDatabase: config.db.name },
  };
}

/** The human report of a repair: what was done, then each copy's state. */
export function describeRepair(r: RepairBackupResult): string {
  const state = (c: { ok: boolean; detail: string } | undefined): string => (c ? `${c.ok ? 'ok ' : 'BAD'} ${c.detail}` : 'none (REMOTE_STORAGE is off)');
  const copies = r.after ?? r.before;
  const head = r.action === 'none' ? `nothing to repair: ${r.summary}` : `repaired: ${r.summary}`;
  return `${head}\n  local   ${state(copies.local)}\n  remote  ${state(copies.remote)}\n`;
}

export const repairCommands: CommandSpec[] = [
  {
    name: 'repair',
    summary: 'replace a bad copy of a backup (local or off-site) from the good one, checked against its metadata',
    args: [{ name: 'backup', description: 'key, file name or path under BACKUP_ROOT (see `lifeboat backups list`)' }],
    options: [{ flags: '--json', description: 'print {workflowId, runId, result} as JSON' }],
    async run(args, opts) {
      const { config } = loadCliContext();
      // Refuse an unknown backup before connecting to anything else.
      const { local, remote } = buildStores(config);
      const { key } = await locateBackup(String(args[0]), local, remote);
      const client = await connectClient(config);
      try {
        await requireWorkers(client, config.temporal.taskQueue, [config.temporal.backupHostTaskQueue]);
        const handle = await client.workflow.start(repairBackup, {
          taskQueue: config.temporal.taskQueue,
          workflowId: `repair-backup-${formatStamp(new Date())}-${Math.random().toString(36).slice(2, 6)}`,
          args: [{ backup: key }],
          ...(await uiStartOptions(client, repairLabel(config, key))),
        });
        process.stderr.write(`started workflow ${handle.workflowId} (repair ${key}; ${temporalHint(config, `workflow show --workflow-id ${handle.workflowId}`)})\n`);
        const result = await awaitResult(handle);
        if (opts.json) printJson(startedJson(handle, result));
        else process.stdout.write(describeRepair(result));
      } finally {
        await client.connection.close();
      }
    },
  },
];
