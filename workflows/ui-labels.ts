/**
 * What a running workflow tells the Temporal UI beyond the static summary its starter gave it: the
 * backup key once the workflow named it (memo `lifeboatBackup`, search attribute `LifeboatBackupId`),
 * and a one-line current-details helper for runbooks without a step tracker.
 *
 * Replay: `setCurrentDetails` is not a command, so `progress` never changes a history. `upsertMemo`
 * and `upsertSearchAttributes` ARE commands: `recordBackupKey` runs them only behind
 * `patched(UI_PATCH)`, so histories from before keep replaying (they take the old path).
 *
 * The search attribute is upserted only when the start carried `LifeboatKind` (the client sends
 * only attributes the namespace has registered, and Lifeboat registers its set together): an
 * upsert of an unregistered attribute would fail the workflow task again and again.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { patched, setCurrentDetails, upsertMemo, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';

export const UI_PATCH = 'ui-explains-itself';

const KIND = defineSearchAttributeKey('LifeboatKind', SearchAttributeType.KEYWORD);
const BACKUP_ID = defineSearchAttributeKey('LifeboatBackupId', SearchAttributeType.KEYWORD);

/** The backup this run made is `key`: memo and search attribute, for the UI's list and filters. */
export function recordBackupKey(key: string): void {
  if (!patched(UI_PATCH)) return;
  upsertMemo({ lifeboatBackup: key });
  if (workflowInfo().typedSearchAttributes.get(KIND) !== undefined) upsertSearchAttributes([{ key: BACKUP_ID, value: key }]);
}

/**
 * The UI's current details for a runbook of numbered steps: `**dump** (step 3 of 4) ...`,
 * then what is done so far, one line each. Not a command: safe to add, change or remove.
 */
export class Progress {
  private readonly done: string[] = [];
  constructor(private readonly title: string, private readonly steps: readonly string[]) {
    setCurrentDetails(`**${title}**: starting`);
  }

  /** Step `name` starts (`detail`: what it works on). */
  step(name: string, detail = ''): void {
    const n = this.steps.indexOf(name) + 1;
    this.render(`**${name}** (step ${n} of ${this.steps.length})${detail ? `: ${detail}` : ''}`);
  }

  /** Something finished, kept in the list below the current step. */
  note(line: string): void {
    this.done.push(line);
  }

  /** The run is over. */
  finish(line: string): void {
    this.render(`**done**: ${line}`);
  }

  private render(head: string): void {
    setCurrentDetails([`${this.title}`, '', head, ...(this.done.length ? ['', ...this.done.map((l) => `- ${l}`)] : [])].join('\n'));
  }
}
