/**
 * restoreConfigFiles: step 6 of the disaster-recovery runbook ("Restore configuration files").
 *
 * A configuration backup (the newest when `backup` is not given; an "unchanged" record stands for
 * the archive it names) is restored into a NEW directory (`targetDir`, which must not exist or be
 * empty), never over live files, unless `inPlace` is asked for AND approved through the
 * `approveInPlace` Update naming the backup. Before anything is written the whole archive passes
 * the snapshot restores' safety pass (no `..`, no absolute paths, no links out of the target, no
 * devices) and every entry is checked against the manifest; after writing, every restored file is
 * checked again. `diff` lists what differs between the backup and the live files (or the files
 * below `targetDir`) and writes nothing. Paths, modes and sizes only ever enter the history, never
 * file contents.
 */
import { condition, defineQuery, defineUpdate, proxyActivities, setCurrentDetails, setHandler } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { ConfigRestoreSummary } from '../activities/config-files';
import type { ConfigDifference } from '../lib/config-files/restore';
import { OperationRefused } from '../lib/errors';
import type { CopySource } from '../lib/restore/fetch';
import { checkSource, invalidInput, permanentFailure } from './failures';
import { LOCAL, QUICK, STREAMING } from './options';

export interface RestoreConfigFilesInput {
  /** Key or file name of a configuration backup (`lifeboat backups list`); default the newest. */
  backup?: string;
  /** A new or empty absolute directory; files land below it at their own paths (`<targetDir>/etc/...`). */
  targetDir?: string;
  /** List the differences from the live files (or those below `targetDir`); write nothing. */
  diff?: boolean;
  /** Restore over the live files, after an `approveInPlace` Update naming the backup. */
  inPlace?: boolean;
  /** Which copy to read: local, remote (off-site only) or auto (local first; the default). */
  source?: CopySource;
}

export interface RestoreConfigFilesResult {
  /** The archive the files came from, and what was asked for (an unchanged record names its archive). */
  backup: string;
  requested: string;
  mode: 'new' | 'in-place' | 'diff';
  restored?: ConfigRestoreSummary;
  /** With `diff` (and before an in-place restore): what differs, at most 500 listed. */
  differences?: { against: string; compared: number; total: number; list: ConfigDifference[] };
}

export interface ConfigRestoreState {
  stage: 'locating' | 'comparing' | 'awaiting-approval' | 'restoring' | 'done' | 'failed';
  backup?: string;
  differences?: number;
}

export const configRestoreQuery = defineQuery<ConfigRestoreState>('configRestore');
/** `confirm` names the backup; `approvedBy` (optional) names the approver, recorded in the history beside the caller's identity. */
export const approveInPlaceUpdate = defineUpdate<string, [{ confirm: string; approvedBy?: string }]>('approveInPlace');

const planning = proxyActivities<Activities>(QUICK);

function checkInput(input: RestoreConfigFilesInput): { targetDir?: string; source?: CopySource } {
  if (!input || typeof input !== 'object') throw invalidInput('input: must be an object like {"targetDir": "/srv/restored-config"}');
  if (input.backup !== undefined && (typeof input.backup !== 'string' || input.backup.trim() === '')) throw invalidInput('backup: must be a configuration backup name (or left out for the newest)');
  const targetDir = input.targetDir;
  if (targetDir !== undefined && (typeof targetDir !== 'string' || !targetDir.startsWith('/') || targetDir.split('/').includes('..'))) {
    throw invalidInput(`targetDir: ${JSON.stringify(targetDir)} is not an absolute directory path without ".."`);
  }
  if (input.diff && input.inPlace) throw invalidInput('diff: cannot be combined with inPlace');
  if (input.inPlace && targetDir !== undefined) throw invalidInput('targetDir: an in-place restore writes the files at their own paths; leave targetDir out');
  if (!input.diff && !input.inPlace && targetDir === undefined) throw invalidInput('targetDir: required (a new or empty directory); or diff to compare, or inPlace with an approval');
  if (targetDir === '/') throw invalidInput('targetDir: "/" is the live system; use inPlace (with its approval) to restore over live files');
  return { targetDir, source: checkSource(input.source) };
}

export async function restoreConfigFiles(input: RestoreConfigFilesInput): Promise<RestoreConfigFilesResult> {
  // 0. Refuse bad input before any side effect.
  const { targetDir, source } = checkInput(input);
  let state: ConfigRestoreState = { stage: 'locating' };
  const show = (next: ConfigRestoreState, details: string): void => {
    state = next;
    setCurrentDetails(`**${next.stage}**${next.backup ? ` \`${next.backup}\`` : ''}: ${details}`);
  };
  setHandler(configRestoreQuery, () => state);

  // 1. Which archive (local and off-site listings), on the host that owns the files.
  const target = await planning.describeConfigBackup();
  const hostLocal = proxyActivities<Activities>(LOCAL(target.hostTaskQueue));
  const host = proxyActivities<Activities>(STREAMING(target.hostTaskQueue));
  const found = await hostLocal.findConfigBackup({ ...(input.backup ? { backup: input.backup } : {}) });
  const base = { backup: found.key, requested: found.requested };

  // 2. Compare with the live files: the whole answer of a diff, and what an in-place restore changes.
  if (input.diff || input.inPlace) {
    show({ stage: 'comparing', backup: found.key }, `${found.entries} entries against ${targetDir ?? 'the live files'}`);
    const diff = await host.diffConfigBackup({ key: found.key, ...(targetDir ? { targetDir } : {}) });
    const differences = { against: diff.against, compared: diff.compared, total: diff.total, list: diff.differences };
    if (input.diff) {
      show({ stage: 'done', backup: found.key, differences: diff.total }, `${diff.total} difference(s)`);
      return { ...base, mode: 'diff', differences };
    }

    // 3. In place only after an explicit approval naming the backup.
    const file = found.key.split('/').pop()!;
    let approved = false;
    setHandler(approveInPlaceUpdate, () => {
      approved = true;
      return `approved: ${found.key} will be restored over the live files`;
    }, {
      validator: (approval) => {
        if (state.stage !== 'awaiting-approval') throw new Error(`not waiting for approval (stage: ${state.stage})`);
        if (!approval || (approval.confirm !== file && approval.confirm !== found.key)) throw new Error(`confirm must name the backup: "${file}"`);
      },
    });
    show({ stage: 'awaiting-approval', backup: found.key, differences: diff.total }, `${diff.total} live file(s) differ; send the approveInPlace Update with {"confirm": "${file}"}`);
    if (!(await condition(() => approved, '24 hours'))) {
      show({ ...state, stage: 'failed' }, 'no approval');
      throw permanentFailure(OperationRefused, `no approval within 24 h; no live file was changed`);
    }
    show({ ...state, stage: 'restoring' }, 'over the live files');
    const restored = await host.restoreConfigBackup({ key: found.key, mode: 'in-place', ...(source ? { source } : {}) });
    show({ ...state, stage: 'done' }, `${restored.files} file(s) restored in place and checked`);
    return { ...base, mode: 'in-place', restored, differences };
  }

  // 3. Into a new directory: refused when it is not empty; checked against the manifest after writing.
  show({ stage: 'restoring', backup: found.key }, `into ${targetDir}`);
  const restored = await host.restoreConfigBackup({ key: found.key, mode: 'new', targetDir, ...(source ? { source } : {}) });
  show({ ...state, stage: 'done' }, `${restored.files} file(s) restored into ${targetDir} and checked`);
  return { ...base, mode: 'new', restored };
}
