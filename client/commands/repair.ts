/**
 * `lifeboat repair <backup> [--json]`: replace a bad copy of a backup (local or off-site) from the
 * good one (the repairBackup workflow). Exit 0 when it repaired a copy or both were good already;
 * exit 6 when no copy is good, naming both copies' states. The backup is found before anything starts.
 */
import { formatStamp } from '../../lib/catalog/names';
import { buildStores } from '../../lib/deps';
import { locateBackup } from '../../lib/restore/locate';
import { repairBackup, type RepairBackupResult } from '../../workflows/repair-backup';
import type { CommandSpec } from '../command-table';
import { connectClient, loadCliContext } from '../context';
import { printJson, startedJson } from '../format';
import { awaitResult, requireWorkers } from '../progress';
import { lifeboatSearchAttributes } from '../search-attributes';

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
          typedSearchAttributes: await lifeboatSearchAttributes(client, { LifeboatKind: 'repair', LifeboatBackupId: key, LifeboatDatabase: config.db.name }),
        });
        process.stderr.write(`started workflow ${handle.workflowId} (repair ${key})\n`);
        const result = await awaitResult(handle);
        if (opts.json) printJson(startedJson(handle, result));
        else process.stdout.write(describeRepair(result));
      } finally {
        await client.connection.close();
      }
    },
  },
];
