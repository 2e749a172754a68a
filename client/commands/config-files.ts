/**
 * `lifeboat backup config [--wait]` and `lifeboat restore config [BACKUP] --target DIR | --diff |
 * --in-place --confirm FILE`: configuration file backups (CONFIG_BACKUP_PATHS). Flags are checked
 * here before any connection; the workflows check them again (they can be started from the UI).
 */
import type { Client } from '@temporalio/client';
import { formatStamp } from '../../lib/catalog/names';
import type { Config } from '../../lib/config/load';
import { InputInvalid } from '../../lib/errors';
import { backupConfigFiles, type BackupConfigFilesResult } from '../../workflows/backup-config-files';
import { approveInPlaceUpdate, configRestoreQuery, restoreConfigFiles, type RestoreConfigFilesInput, type RestoreConfigFilesResult } from '../../workflows/restore-config-files';
import type { CommandSpec } from '../command-table';
import { personOf, withClient } from '../context';
import { formatBytes, printJson, startedJson } from '../format';
import { awaitResult, requireWorkers } from '../progress';
import { uiStartOptions } from '../start-options';
import { temporalHint } from './temporal';
import { parseSourceOption } from './restore';

const stampNow = (): string => formatStamp(new Date());

export async function startBackupConfigFiles(client: Client, config: Config, options: { taskQueue?: string; startedBy?: string } = {}) {
  return client.workflow.start(backupConfigFiles, {
    taskQueue: options.taskQueue ?? config.temporal.taskQueue,
    workflowId: `backup-config-${stampNow()}`,
    args: [{}],
    ...(await uiStartOptions(client, {
      kind: 'config-backup',
      summary: `Configuration files backup (${config.configBackup.paths.length} path(s))`,
      what: `The configured CONFIG_BACKUP_PATHS (${config.configBackup.paths.map((p) => `\`${p}\``).join(', ') || 'none'}) as one encrypted archive under \`config/\`, copied off-site; or an "unchanged" entry when nothing changed.`,
      show: 'lifeboat backups list',
      startedBy: options.startedBy,
    })),
  });
}

export function describeConfigBackup(r: BackupConfigFilesResult): string {
  const what = r.outcome === 'unchanged'
    ? `unchanged since ${r.sameAs} (${r.files} files): recorded as ${r.key}`
    : `${r.key} ${formatBytes(r.bytes)}, ${r.files} files / ${r.directories} directories / ${r.symlinks} links (${formatBytes(r.fileBytes)}), sha256 ${r.sha256?.slice(0, 12)}...`;
  const remote = r.remote ? ', copied off-site' : '';
  const warnings = r.warnings.map((w) => `\nwarning: ${w}`).join('');
  return `${what}${remote}${warnings}`;
}

export function describeConfigRestore(r: RestoreConfigFilesResult): string {
  const lines: string[] = [];
  const from = r.requested !== r.backup ? `${r.backup} (for ${r.requested})` : r.backup;
  if (r.differences) {
    const d = r.differences;
    lines.push(`${from} against ${d.against}: ${d.total} difference(s) in ${d.compared} entries`);
    for (const x of d.list) lines.push(`  ${x.change.padEnd(7)} ${x.path}: ${x.detail}`);
    if (d.total > d.list.length) lines.push(`  ... ${d.total - d.list.length} more`);
  }
  if (r.restored) {
    const x = r.restored;
    const where = x.mode === 'in-place' ? 'in place' : `into ${x.targetDir}`;
    lines.push(`restored ${from} ${where}: ${x.files} files, ${x.directories} directories, ${x.symlinks} links (${formatBytes(x.bytes)}), all ${x.checked} entries checked against the manifest (${x.copy} copy)${x.ownersRestored ? '' : '; owners not restored (the worker is not root)'}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The workflow input of `restore config`, checked (no connection yet). */
export function restoreConfigInput(backup: string | undefined, opts: Record<string, unknown>): RestoreConfigFilesInput {
  const target = opts.target as string | undefined;
  const source = parseSourceOption(opts.source);
  if (target !== undefined && !target.startsWith('/')) throw new InputInvalid('--target', `"${target}" is not an absolute directory`, 'e.g. --target /srv/restored-config (a new or empty directory)');
  if (opts.inPlace && opts.diff) throw new InputInvalid('--in-place', 'cannot be combined with --diff');
  if (opts.inPlace && target !== undefined) throw new InputInvalid('--target', 'cannot be combined with --in-place (files go back to their own paths)');
  if (opts.confirm !== undefined && !opts.inPlace) throw new InputInvalid('--confirm', 'only confirms an --in-place restore');
  if (!opts.inPlace && !opts.diff && target === undefined) throw new InputInvalid('--target', 'is required', 'restore into a new directory: --target DIR; compare with the live files: --diff; over the live files: --in-place --confirm FILE');
  return { ...(backup ? { backup } : {}), ...(target ? { targetDir: target } : {}), ...(opts.diff ? { diff: true } : {}), ...(opts.inPlace ? { inPlace: true } : {}), ...(source ? { source } : {}) };
}

export const configFileCommands: CommandSpec[] = [
  {
    name: 'backup config',
    summary: 'back up the configuration files of CONFIG_BACKUP_PATHS (an archive, or "unchanged" when nothing changed)',
    options: [{ flags: '--wait', description: 'wait for the workflow and print its result' }, { flags: '--json', description: 'print {workflowId, runId, result} as JSON (result with --wait)' }],
    async run(_args, opts) {
      return withClient(async (client, config) => {
        await requireWorkers(client, config.temporal.taskQueue);
        const handle = await startBackupConfigFiles(client, config);
        (opts.json ? process.stderr : process.stdout).write(`started workflow ${handle.workflowId}\n`);
        const result = opts.wait ? await awaitResult(handle) : undefined;
        if (opts.json) printJson(startedJson(handle, result));
        else if (result) process.stdout.write(`done: ${describeConfigBackup(result)}\n`);
      });
    },
  },
  {
    name: 'restore config',
    summary: 'restore configuration files into a new directory (--target), compare them with the live files (--diff), or restore in place after approval',
    args: [{ name: 'backup', description: 'a configuration backup (`lifeboat backups list`); default the newest', optional: true }],
    options: [
      { flags: '--target <dir>', description: 'a new or empty directory; files land below it at their own paths' },
      { flags: '--diff', description: 'list what differs from the live files (or from those below --target); write nothing' },
      { flags: '--in-place', description: 'restore over the live files; waits for the approveInPlace Update' },
      { flags: '--confirm <file>', description: 'with --in-place: approve it, naming the backup file (config_<stamp>.tar.zst.gpg)' },
      { flags: '--by <name>', description: 'with --confirm: who approves, recorded in the history beside the CLI identity (default: $USER)' },
      { flags: '--source <copy>', description: 'copy to read: local, remote (off-site only) or auto (default)' },
      { flags: '--no-wait', description: 'start the workflow and return' },
      { flags: '--json', description: 'print {workflowId, runId, result} as JSON' },
    ],
    async run([backup], opts) {
      const input = restoreConfigInput(backup, opts);
      return withClient(async (client, config) => {
        await requireWorkers(client, config.temporal.taskQueue);
        const handle = await client.workflow.start(restoreConfigFiles, {
          taskQueue: config.temporal.taskQueue,
          workflowId: `restore-config-${input.diff ? 'diff' : input.inPlace ? 'in-place' : 'new'}-${stampNow()}-${Math.random().toString(36).slice(2, 6)}`,
          args: [input],
          ...(await uiStartOptions(client, {
            kind: 'config-restore',
            summary: `Configuration files ${input.diff ? 'compared with' : 'restored from'} ${backup ?? 'the newest backup'}${input.inPlace ? ' (in place, after approval)' : ''}`,
            what: input.diff
              ? 'The backup\'s files compared with the live ones (or those below the target): what differs is listed, nothing is written.'
              : input.inPlace
                ? 'The backup\'s files restored over the live ones, once the `approveInPlace` Update names the backup file.'
                : `The backup's files restored below \`${input.targetDir ?? '?'}\` at their own paths.`,
            show: 'lifeboat backups list',
            ...(backup ? { backup } : {}),
          })),
        });
        process.stderr.write(`started workflow ${handle.workflowId}\n`);
        if (opts.wait === false) {
          if (opts.json) printJson(startedJson(handle));
          return;
        }
        if (input.inPlace) {
          // Wait for the comparison, show it, then approve (with --confirm) or say how to.
          for (;;) {
            const state = await handle.query(configRestoreQuery);
            if (state.stage === 'awaiting-approval') {
              process.stderr.write(`${state.differences ?? 0} live file(s) differ from ${state.backup}\n`);
              if (opts.confirm === undefined) {
                const file = state.backup?.split('/').pop() ?? '';
                process.stderr.write(`waiting for approval (rerun with --confirm ${file}, or send the Update): ${temporalHint(config, `workflow update execute --workflow-id ${handle.workflowId} --name ${approveInPlaceUpdate.name} --input '{"confirm":"${file}"}'`)}\n`);
              } else {
                process.stderr.write(`${await handle.executeUpdate(approveInPlaceUpdate, { args: [{ confirm: String(opts.confirm), approvedBy: personOf(opts.by) }] })}\n`);
              }
              break;
            }
            if (state.stage === 'done' || state.stage === 'failed') break;
            await new Promise((r) => setTimeout(r, 500));
          }
        }
        const result = await awaitResult(handle);
        if (opts.json) printJson(startedJson(handle, result));
        else process.stdout.write(describeConfigRestore(result));
      });
    },
  },
];
