/**
 * Issue 14, "the UI explains itself", for the verbs that gained their label late: prune, monitor,
 * audit export, repair, status, PITR (recover, list, remove) and DR. Each label names its kind
 * (`LifeboatKind`), a one-line summary, what the run does and the CLI command that shows it, and no
 * label carries a secret; "started by" names the verb, never an option's value. The failed-schedule hint of `lifeboat status` prints no bare `temporal` command.
 */
import { describe, expect, it } from 'vitest';
import { auditExportLabel } from '../../client/commands/audit';
import { drLabel } from '../../client/commands/dr';
import { monitorLabel, pruneLabel } from '../../client/commands/maintenance';
import { pitrLabel, pitrListLabel, pitrRemoveLabel } from '../../client/commands/pitr';
import { repairLabel } from '../../client/commands/repair';
import { statusLabel } from '../../client/commands/status';
import { renderStaticDetails, startedByThisProcess, type UiLabel } from '../../client/start-options';
import { loadConfig } from '../../lib/config/load';
import { parseTargetTime } from '../../lib/pitr/target-time';
import { evaluateStatus } from '../../lib/status/evaluate';

const SECRETS = { PGPASSWORD: 'pg-Secret-7f3a', AWS_SECRET_ACCESS_KEY: 'aws-Secret-91bc', MINIO_SOURCE_SECRET_KEY: 'minio-src-Secret-4d2e', MINIO_BACKUP_SECRET_KEY: 'minio-bak-Secret-0a9f', SLACK_WEBHOOK: 'https://hooks.slack.invalid/Secret-5e6f' };
const config = loadConfig({
  envFile: '/dev/null',
  env: {
    DB_HOST: 'localhost', DB_NAME: 'corporate_intel', BACKUP_ROOT: '/tmp/lifeboat-unit', ENCRYPT_BACKUPS: 'false', REMOTE_STORAGE: 'true', S3_BUCKET: 'b', AWS_ACCESS_KEY_ID: 'a',
    MINIO_SOURCE_ENDPOINT: 'http://127.0.0.1:9000', MINIO_BACKUP_ENDPOINT: 'http://127.0.0.1:9100', MINIO_SOURCE_ACCESS_KEY: 'a', MINIO_BACKUP_ACCESS_KEY: 'a',
    LIFEBOAT_TASK_QUEUE: 'lifeboat', LIFEBOAT_HOST: 'db1', ...SECRETS,
  },
});
const KEY = 'daily/corporate_intel_daily_20251017-020000.sql.zst.gpg';
const BASE = 'base/20251017-010000/base.tar.zst.gpg';

const labels: [string, UiLabel][] = [
  ['prune', pruneLabel(config, false)],
  ['prune --dry-run', pruneLabel(config, true)],
  ['monitor', monitorLabel()],
  ['audit export', auditExportLabel(config, new Date('2026-01-31T00:00:00Z'))],
  ['repair', repairLabel(config, KEY)],
  ['status', statusLabel(config.temporal.backupHostTaskQueue)],
  ['restore --pitr', pitrLabel(config, parseTargetTime('2025-10-17 14:30:00+00', 'UTC', new Date('2026-01-01T00:00:00Z')), { base: BASE, port: 5499 })],
  ['restore --pitr latest', pitrLabel(config, parseTargetTime('latest', 'UTC', new Date('2026-01-01T00:00:00Z')), { source: 'remote' })],
  ['pitr list', pitrListLabel(config)],
  ['pitr remove', pitrRemoveLabel(config, 'pitr-20251017-143000')],
  ['dr start --drill', drLabel(config, { mode: 'drill', autoApprove: true, incident: 'INC-1', declaredBy: 'alice', reason: 'quarterly drill' })],
  ['dr start --failover', drLabel(config, { mode: 'failover', incident: 'INC-2', declaredBy: 'bob' })],
];

describe('the UI labels of the CLI verbs', () => {
  it.each(labels)('%s: kind, one-line summary, what, and a lifeboat command that shows it', (_verb, label) => {
    expect(label.kind).toMatch(/^[a-z][a-z-]+$/);
    expect(label.summary.length).toBeGreaterThan(10);
    expect(label.summary).not.toContain('\n');
    expect(label.what.length).toBeGreaterThan(label.summary.length);
    expect(label.show).toMatch(/^lifeboat [a-z]/);
  });

  it.each(labels)('%s: no secret in the summary, details, memo or attributes', (_verb, label) => {
    const text = JSON.stringify({ ...label, details: renderStaticDetails(label, 'alice@db1') });
    for (const secret of [...Object.values(SECRETS), ...config.secretValues]) expect(text).not.toContain(secret);
  });

  it('each verb has its own kind, the ones the schedules and the main job use where they run the same workflow', () => {
    const kinds = Object.fromEntries(labels.map(([verb, l]) => [verb, l.kind]));
    expect(kinds).toEqual({
      prune: 'prune',
      'prune --dry-run': 'prune',
      monitor: 'monitor',
      'audit export': 'audit-export',
      repair: 'repair',
      status: 'status',
      'restore --pitr': 'pitr',
      'restore --pitr latest': 'pitr',
      'pitr list': 'pitr-list',
      'pitr remove': 'pitr-remove',
      'dr start --drill': 'dr-drill',
      'dr start --failover': 'dr-failover',
    });
  });

  it('names the backup a run works on (memo and LifeboatBackupId) where it is known at start', () => {
    expect(repairLabel(config, KEY)).toMatchObject({ backup: KEY, summary: `Repair of ${KEY}: replace a bad copy from the good one` });
    const pitr = pitrLabel(config, parseTargetTime('2025-10-17 14:30:00+00', 'UTC', new Date('2026-01-01T00:00:00Z')), { base: BASE });
    expect(pitr.backup).toBe(BASE);
    expect(pitr.summary).toBe('Point-in-time recovery of corporate_intel to 2025-10-17 14:30:00 UTC into a new cluster');
    expect(pitrLabel(config, parseTargetTime('latest', 'UTC', new Date())).summary).toContain('to the end of the archived WAL');
  });

  it('says what a dry run and a drill are, and who declared a DR run and why', () => {
    expect(pruneLabel(config, true).summary).toMatch(/dry run/);
    expect(pruneLabel(config, false).summary).not.toMatch(/dry run/);
    const drill = drLabel(config, { mode: 'drill', autoApprove: true, incident: 'INC-1', declaredBy: 'alice', reason: 'quarterly drill' });
    expect(drill.summary).toBe('DR drill of corporate_intel: the ten-step runbook into its own environment (INC-1)');
    expect(drill.what).toContain('Declared by alice; why: INC-1: quarterly drill.');
    expect(drill.what).toContain('approved automatically');
    expect(drLabel(config, { mode: 'failover', incident: 'INC-2' }).summary).toBe('DR failover of corporate_intel for INC-2: the ten-step runbook');
  });
});

describe('who started a run', () => {
  it('names the verb and its leading arguments, never an option or its value', () => {
    const verb = (argv: string[]): string => /\((`lifeboat [^`]*`)\)$/.exec(startedByThisProcess(['node', 'main.js', ...argv]))?.[1] ?? '';
    expect(verb(['backup', 'postgres', 'daily', '--wait'])).toBe('`lifeboat backup postgres daily`');
    expect(verb(['dr', 'start', '--drill', '--incident', 'INC-1', '--by', 'alice', '--reason', 'primary lost'])).toBe('`lifeboat dr start`');
    expect(verb(['prune', '--dry-run'])).toBe('`lifeboat prune`');
    expect(startedByThisProcess(['node', 'main.js', '--json'])).not.toContain('lifeboat');
  });
});

describe('hints with temporal commands', () => {
  it('a failed scheduled run points at `lifeboat audit show`, not at a bare `temporal` command', () => {
    const report = evaluateStatus({
      now: '2026-01-01T00:00:00Z',
      temporal: {
        namespace: 'default',
        queues: [],
        schedules: [{ id: 'lifeboat-postgres-daily', paused: false, lastRunAt: '2025-12-31T02:00:00Z', lastResult: 'failed', lastWorkflowId: 'lifeboat-postgres-daily-2025-12-31T02:00:00Z' }],
      },
    });
    const problem = report.problems.find((p) => p.condition === 'schedule:lifeboat-postgres-daily');
    expect(problem?.hint).toBe('see why: lifeboat audit show --workflow-id lifeboat-postgres-daily-2025-12-31T02:00:00Z');
    for (const p of report.problems) if (p.hint && /(^|\s)temporal\s/.test(p.hint)) expect(p.hint).toMatch(/--address .* --namespace /);
  });
});
