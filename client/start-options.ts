/**
 * What the Temporal UI shows for a workflow Lifeboat starts: a one-line static summary, static
 * details (what it does, which backup or buckets, who started it, the CLI command that shows it),
 * a memo with the backup key, and the search attributes. Every start in the CLI, the main job and
 * the schedules goes through `uiStartOptions`, so no run in the UI is a bare workflow type.
 *
 * Nothing secret goes here (principle 5): names, keys and commands only. With payload encryption
 * on, the summary, details and memo are encrypted like every payload; the UI shows them through
 * the codec server (`lifeboat codec-server`).
 */
import { hostname, userInfo } from 'node:os';
import type { Client, WorkflowStartOptions } from '@temporalio/client';
import { lifeboatSearchAttributes } from './search-attributes';

/** Memo field holding the backup a run works on (a restore's source, a backup's result). */
export const BACKUP_MEMO = 'lifeboatBackup';

export interface UiLabel {
  /** `LifeboatKind`: backup, base-backup, restore, verify, minio-backup, ... */
  kind: string;
  /** One line for the workflow list: what, on what. */
  summary: string;
  /** Sentences on what the run does, rendered as the first paragraph of the details. */
  what: string;
  /** The CLI command that shows this run or what it made. */
  show: string;
  /** The backup the run works on, when known at start (restores, verifications). */
  backup?: string;
  buckets?: readonly string[];
  /** Further search attributes (LifeboatTier, LifeboatDatabase, ...). */
  attributes?: Record<string, string | undefined>;
  /** Who started it; default the user and host of this process and its `lifeboat` verb. */
  startedBy?: string;
}

/**
 * `user@host (lifeboat backup postgres daily)`: the words before the first option, never an
 * option's value (`dr start --reason TEXT` shows as `lifeboat dr start`).
 */
export function startedByThisProcess(argv: readonly string[] = process.argv): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry for this uid (containers): keep "unknown".
  }
  const args = argv.slice(2);
  const firstOption = args.findIndex((a) => a.startsWith('-'));
  const words = (firstOption === -1 ? args : args.slice(0, firstOption)).slice(0, 4);
  return `${user}@${hostname()}${words.length ? ` (\`lifeboat ${words.join(' ')}\`)` : ''}`;
}

/** The markdown of the static details. Pure. */
export function renderStaticDetails(label: UiLabel, startedBy: string): string {
  const lines = [label.what, ''];
  if (label.backup) lines.push(`**backup**: \`${label.backup}\``);
  if (label.buckets?.length) lines.push(`**buckets**: ${label.buckets.map((b) => `\`${b}\``).join(', ')}`);
  lines.push(`**started by**: ${startedBy}`, `**show it**: \`${label.show}\``);
  return lines.join('\n\n');
}

export type UiStartOptions = Required<Pick<WorkflowStartOptions, 'staticSummary' | 'staticDetails' | 'memo' | 'typedSearchAttributes'>>;

/** Start options carrying the label: spread them into `client.workflow.start(..., { ... })`. */
export async function uiStartOptions(client: Client, label: UiLabel): Promise<UiStartOptions> {
  return {
    staticSummary: label.summary,
    staticDetails: renderStaticDetails(label, label.startedBy ?? startedByThisProcess()),
    memo: { lifeboatKind: label.kind, ...(label.backup ? { [BACKUP_MEMO]: label.backup } : {}) },
    typedSearchAttributes: await lifeboatSearchAttributes(client, {
      LifeboatKind: label.kind,
      ...(label.backup ? { LifeboatBackupId: label.backup } : {}),
      ...(label.buckets?.length ? { LifeboatBucket: label.buckets.join(','), LifeboatBuckets: label.buckets } : {}),
      ...label.attributes,
    }),
  };
}

/** A restore's label (client/commands/restore.ts, the main job): the backup in memo and LifeboatBackupId. */
export function restoreLabel(
  config: { db: { name: string } },
  args: { backup: string; targetDatabase?: string; verifyOnly?: boolean; replaceProduction?: boolean; source?: string; targetServer?: { host: string; port: number } },
): UiLabel {
  const into = args.verifyOnly
    ? 'a temporary database, checked against the backup\'s row counts, then dropped'
    : args.replaceProduction
      ? `\`${config.db.name}\` itself (staged, then swapped in after approval)`
      : `\`${args.targetDatabase ?? '(a new database)'}\``;
  return {
    kind: args.verifyOnly ? 'verify' : 'restore',
    summary: `${args.verifyOnly ? 'Verify-only restore' : 'Restore'} of ${args.backup}${args.verifyOnly ? '' : ` into ${args.replaceProduction ? config.db.name : (args.targetDatabase ?? 'a new database')}`}`,
    what: `The seed's \`restore-database.sh${args.verifyOnly ? ' --verify-only' : ''}\`: backup \`${args.backup}\` (${args.source ?? 'local copy, else off-site'}) restored into ${into}${args.targetServer ? ` on ${args.targetServer.host}:${args.targetServer.port}` : ''}.`,
    show: 'lifeboat backups list',
    backup: args.backup,
    attributes: { LifeboatDatabase: config.db.name },
  };
}

/** `lifeboat verify`'s label. */
export function verifyLabel(config: { db: { name: string } }, input: { scope: string; backup?: string; restore?: boolean }): UiLabel {
  return {
    kind: 'verify',
    summary: `Verify ${input.backup ?? `${input.scope} backups`}${input.restore ? ' with a test restore' : ''}`,
    what: `The seed's \`verify-backups.sh --${input.scope === 'one' ? 'backup-file' : input.scope}\`: checksums of every copy against the metadata, decryption and decompression, the content of each kind${input.restore ? ', and a test restore of each dump' : ''}; results recorded beside each backup, failures alerted.`,
    show: 'lifeboat backups list',
    ...(input.backup ? { backup: input.backup } : {}),
    attributes: { LifeboatDatabase: config.db.name },
  };
}
