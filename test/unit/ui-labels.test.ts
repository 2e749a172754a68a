/**
 * Issue 14, "the UI explains itself" and the CLI's help: the static details of a run, every
 * schedule's note naming the seed crontab line, every command group described, `temporal` hints with
 * --address/--namespace, and `lifeboat temporal` passing its arguments through untouched.
 */
import { describe, expect, it } from 'vitest';
import { GROUP_DESCRIPTIONS } from '../../client/command-table';
import { temporalEnv, temporalHint } from '../../client/commands/temporal';
import { buildProgram, COMMANDS } from '../../client/main';
import { scheduledRunLabel, scheduleNote } from '../../client/schedules';
import { renderStaticDetails, restoreLabel } from '../../client/start-options';
import { declaredSchedules, SEED_LINES } from '../../lib/schedules/declared';
import { SCHEDULE_NAMES } from '../../lib/schedules/names';
import { loadConfig } from '../../lib/config/load';

const config = loadConfig({ envFile: '/dev/null', env: { DB_HOST: 'localhost', PGPASSWORD: 'x', BACKUP_ROOT: '/tmp/lifeboat-unit', ENCRYPT_BACKUPS: 'false', REMOTE_STORAGE: 'true', S3_BUCKET: 'b', AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 's', MINIO_SOURCE_ENDPOINT: 'http://127.0.0.1:9000', MINIO_BACKUP_ENDPOINT: 'http://127.0.0.1:9100', MINIO_SOURCE_ACCESS_KEY: 'a', MINIO_SOURCE_SECRET_KEY: 's', MINIO_BACKUP_ACCESS_KEY: 'a', MINIO_BACKUP_SECRET_KEY: 's' } });

describe('static details', () => {
  it('name what, which backup, who started it and the command that shows it', () => {
    const label = restoreLabel({ db: { name: 'corporate_intel' } }, { backup: 'daily/corporate_intel_daily_20251017-020000.sql.zst.gpg', targetDatabase: 'restored' });
    expect(label.summary).toBe('Restore of daily/corporate_intel_daily_20251017-020000.sql.zst.gpg into restored');
    const details = renderStaticDetails(label, 'alice@db1');
    expect(details).toContain('**backup**: `daily/corporate_intel_daily_20251017-020000.sql.zst.gpg`');
    expect(details).toContain('**started by**: alice@db1');
    expect(details).toContain('**show it**: `lifeboat backups list`');
  });
});

describe('schedules', () => {
  it('every schedule name has its seed line, and the seed crontab lines are the seed overview', () => {
    expect(Object.keys(SEED_LINES).sort()).toEqual([...SCHEDULE_NAMES].sort());
    expect(SEED_LINES['postgres-daily']).toBe('0 2 * * * /opt/corporate-intel/scripts/backup/postgres-backup.sh daily');
    expect(SEED_LINES['minio-snapshot']).toMatch(/^0 1 \* \* \* .*minio-backup\.sh backup$/);
  });

  it('each declared schedule carries a note and its runs a label naming the schedule', () => {
    const declared = declaredSchedules(config);
    const daily = declared.find((d) => d.name === 'postgres-daily')!;
    expect(scheduleNote(daily)).toBe('lifeboat: replaces seed crontab line "0 2 * * * /opt/corporate-intel/scripts/backup/postgres-backup.sh daily"');
    expect(scheduleNote(declared.find((d) => d.name === 'base-backup')!)).toMatch(/^lifeboat: no seed line/);
    const label = scheduledRunLabel(daily);
    expect(label).toMatchObject({ kind: 'backup', attributes: { LifeboatTier: 'daily' } });
    expect(label.startedBy).toContain('lifeboat-postgres-daily');
    expect(scheduledRunLabel(declared.find((d) => d.name === 'minio-snapshot')!).buckets).toEqual(config.minio.buckets);
  });
});

describe('CLI help and the temporal passthrough', () => {
  it('every command group has a description', () => {
    const groups = new Set(COMMANDS.flatMap((c) => c.name.split(' ').slice(0, -1).map((_, i, w) => w.slice(0, i + 1).join(' '))));
    const leaves = new Set(COMMANDS.map((c) => c.name));
    for (const g of groups) if (!leaves.has(g)) expect(GROUP_DESCRIPTIONS[g], `group "${g}"`).toBeTruthy();
    const program = buildProgram(COMMANDS, () => {});
    for (const c of program.commands) expect(c.description(), c.name()).not.toBe('');
  });

  it('hints carry --address and --namespace; the passed-through CLI gets them in its environment', () => {
    expect(temporalHint(config, 'workflow show --workflow-id x')).toBe(`temporal workflow show --workflow-id x --address ${config.temporal.address} --namespace ${config.temporal.namespace}`);
    expect(temporalEnv(config, {})).toMatchObject({ TEMPORAL_ADDRESS: config.temporal.address, TEMPORAL_NAMESPACE: config.temporal.namespace });
  });

  it('`lifeboat temporal` passes every argument through, options and --help included', async () => {
    let seen: string[] = [];
    const commands = COMMANDS.map((c) => (c.name === 'temporal' ? { ...c, run: async (args: string[]) => void (seen = args) } : c));
    await buildProgram(commands, () => {}).parseAsync(['node', 'lifeboat', 'temporal', 'workflow', 'list', '--query', "LifeboatKind='backup'", '--limit', '2']);
    expect(seen).toEqual(['workflow', 'list', '--query', "LifeboatKind='backup'", '--limit', '2']);
    await buildProgram(commands, () => {}).parseAsync(['node', 'lifeboat', 'temporal', '--help']);
    expect(seen).toEqual(['--help']);
  });
});
