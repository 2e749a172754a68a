/**
 * Monitoring and alert routing end to end: a stale backup raises a critical alert that arrives at a
 * real HTTP receiver (Slack and PagerDuty shapes) and a real SMTP server on loopback; repeats are
 * deduplicated; after a fresh backup the resolve arrives. The metrics JSON matches the seed's format
 * field for field and /metrics serves the same values. An unreachable channel never fails a runbook.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMetricsServer } from '../../lib/monitor/prometheus';
import type { MonitorBackupsResult } from '../../workflows/monitor-backups';
import type { VerifyBackupsResult } from '../../workflows/verify-backups';
import { startTestWorker, type TestWorkerHandle } from './helpers';

const FIXTURES = join(__dirname, '..', 'fixtures');
const FIXTURE_KEY = 'daily/fixture_db_daily_20250101-000000.sql.zst.gpg';

interface Received {
  slack: { text: string }[];
  pagerduty: { routing_key: string; event_action: string; dedup_key: string; payload: { summary: string; severity: string } }[];
  mail: { subject: string; raw: string }[];
}

/** An HTTP receiver for Slack and PagerDuty, and an SMTP server, on loopback. */
async function startReceivers(): Promise<{ received: Received; httpPort: number; smtpPort: number; close(): Promise<void> }> {
  const received: Received = { slack: [], pagerduty: [], mail: [] };
  const http: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (req.url === '/slack') received.slack.push(JSON.parse(body) as Received['slack'][number]);
      else if (req.url === '/pagerduty') received.pagerduty.push(JSON.parse(body) as Received['pagerduty'][number]);
      res.writeHead(req.url === '/pagerduty' ? 202 : 200).end(req.url === '/pagerduty' ? '{"status":"success"}' : 'ok');
    });
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, _session, callback) {
      let raw = '';
      stream.on('data', (c: Buffer) => (raw += c.toString()));
      stream.on('end', () => {
        received.mail.push({ subject: /^Subject: (.*)$/m.exec(raw)?.[1] ?? '', raw });
        callback();
      });
    },
  });
  await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', r));
  return {
    received,
    httpPort: (http.address() as AddressInfo).port,
    smtpPort: (smtp.server.address() as AddressInfo).port,
    async close() {
      await new Promise((r) => http.close(r));
      await new Promise((r) => smtp.close(() => r(undefined)));
    },
  };
}

/** Until `probe` is true (deliveries are asynchronous only across activities; this is a guard). */
async function until(probe: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 150 && !probe(); i++) await new Promise((r) => setTimeout(r, 100));
  if (!probe()) throw new Error(`timed out waiting for ${what}`);
}

describe('monitoring and alert routing', () => {
  let receivers: Awaited<ReturnType<typeof startReceivers>>;
  let backupRoot: string;
  let worker: TestWorkerHandle;
  beforeAll(async () => {
    receivers = await startReceivers();
    backupRoot = mkdtempSync('/tmp/lifeboat-monitor-');
    // One daily backup that finished 30 hours ago (the fixture, with its metadata moved back in time).
    const key = 'daily/corporate_intel_daily_20250101-000000.sql.zst.gpg';
    mkdirSync(join(backupRoot, 'daily'), { recursive: true });
    copyFileSync(join(FIXTURES, 'backups', 'good', FIXTURE_KEY), join(backupRoot, key));
    const metadata = JSON.parse(readFileSync(join(FIXTURES, 'backups', 'good', `${FIXTURE_KEY}.metadata.json`), 'utf8')) as Record<string, unknown>;
    const finishedAt = new Date(Date.now() - 30 * 3600_000).toISOString();
    writeFileSync(join(backupRoot, `${key}.metadata.json`), JSON.stringify({ ...metadata, key, file: key.split('/')[1], finishedAt, startedAt: finishedAt }));
    worker = await startTestWorker({
      overrides: {
        BACKUP_ROOT: backupRoot,
        REMOTE_STORAGE: 'false',
        SLACK_WEBHOOK: `http://127.0.0.1:${receivers.httpPort}/slack`,
        PAGERDUTY_ROUTING_KEY: 'pd-routing-key-0123456789',
        PAGERDUTY_EVENTS_URL: `http://127.0.0.1:${receivers.httpPort}/pagerduty`,
        SMTP_URL: `smtp://127.0.0.1:${receivers.smtpPort}`,
        EMAIL_ALERTS: 'ops@corporate-intel.local',
        ALERT_EMAIL_FROM: 'lifeboat@corporate-intel.local',
      },
    });
  });
  afterAll(async () => {
    await worker?.stop();
    await receivers?.close();
    rmSync(backupRoot, { recursive: true, force: true });
  });

  const monitor = async (): Promise<MonitorBackupsResult> =>
    (await worker.env.client.workflow.execute('monitorBackups', { taskQueue: worker.taskQueue, workflowId: `test-monitor-${Date.now()}`, args: [{}] })) as MonitorBackupsResult;

  it('raises a stale-backup alert to Slack, PagerDuty and e-mail, without secrets, and writes the seed metrics', async () => {
    const result = await monitor();
    expect(result.firing.map((e) => e.condition)).toContain('stale-backup');
    await until(() => receivers.received.slack.length > 0 && receivers.received.pagerduty.length > 0 && receivers.received.mail.length > 0, 'deliveries');
    const slack = receivers.received.slack.find((m) => m.text.includes('stale-backup'));
    expect(slack?.text).toMatch(/CRITICAL: newest good backup daily\/corporate_intel_daily_20250101-000000\.sql\.zst\.gpg is 30\.0 h old \(limit 24 h\)/);
    const pd = receivers.received.pagerduty.find((e) => e.dedup_key === 'lifeboat:stale-backup');
    expect(pd).toMatchObject({ routing_key: 'pd-routing-key-0123456789', event_action: 'trigger', payload: { severity: 'critical' } });
    expect(receivers.received.mail.find((m) => m.subject.includes('stale backup') || m.subject.includes('newest good backup'))?.subject).toMatch(/^\[Lifeboat\] CRITICAL: /);
    // No configured secret in any message text (the PagerDuty routing key is only the API's auth field).
    const texts = [...receivers.received.slack.map((m) => m.text), ...receivers.received.pagerduty.map((e) => JSON.stringify(e.payload)), ...receivers.received.mail.map((m) => m.raw)];
    for (const secret of worker.config.secretValues) for (const text of texts) expect(text.includes(secret)).toBe(false);

    // The metrics JSON: exactly the seed's fields, with the right values.
    const metrics = JSON.parse(readFileSync(result.metricsFile, 'utf8')) as { timestamp: string; metrics: Record<string, number> };
    expect(Object.keys(metrics)).toEqual(['timestamp', 'metrics']);
    expect(metrics.timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    expect(Object.keys(metrics.metrics)).toEqual(['last_backup_age_hours', 'last_backup_size_mb', 'disk_usage_percent', 'success_rate_percent', 'daily_backup_count', 'weekly_backup_count', 'monthly_backup_count']);
    expect(metrics.metrics).toMatchObject({ last_backup_age_hours: 30, last_backup_size_mb: 0, daily_backup_count: 1, weekly_backup_count: 0, monthly_backup_count: 0 });
    expect(Number.isInteger(metrics.metrics.disk_usage_percent)).toBe(true);
    expect(metrics).toEqual(JSON.parse(readFileSync(join(backupRoot, 'metrics', 'latest.json'), 'utf8')));

    // /metrics serves the same figures.
    const server = await startMetricsServer(join(backupRoot, 'metrics'), 0);
    try {
      const text = await (await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`)).text();
      for (const [field, value] of Object.entries(metrics.metrics)) expect(text).toContain(`\nlifeboat_${field} ${value}\n`);
      // A second worker on the same port is told which setting to change (it used to exit with a bare EADDRINUSE).
      const port = (server.address() as AddressInfo).port;
      await expect(startMetricsServer(join(backupRoot, 'metrics'), port)).rejects.toThrow(new RegExp(`BACKUP_METRICS_PORT: 127\\.0\\.0\\.1:${port} is already in use`));
    } finally {
      server.close();
    }
  });

  it('deduplicates a condition that is still firing', async () => {
    const before = { slack: receivers.received.slack.length, pd: receivers.received.pagerduty.length, mail: receivers.received.mail.length };
    const result = await monitor();
    expect(result.firing.map((e) => e.condition)).toContain('stale-backup');
    expect(result.sent.filter((s) => s.condition === 'stale-backup')).toEqual([]);
    expect({ slack: receivers.received.slack.length, pd: receivers.received.pagerduty.length, mail: receivers.received.mail.length }).toEqual(before);
  });

  it('sends the resolve after a fresh backup', async () => {
    await worker.env.client.workflow.execute('backupDatabase', { taskQueue: worker.taskQueue, workflowId: `test-fresh-${Date.now()}`, args: [{ tier: 'daily' }] });
    const result = await monitor();
    expect(result.firing.map((e) => e.condition)).not.toContain('stale-backup');
    expect(result.sent).toContainEqual({ condition: 'stale-backup', resolved: true, severity: 'critical' });
    await until(() => receivers.received.pagerduty.some((e) => e.event_action === 'resolve'), 'the PagerDuty resolve');
    expect(receivers.received.pagerduty.filter((e) => e.dedup_key === 'lifeboat:stale-backup').map((e) => e.event_action)).toEqual(['trigger', 'resolve']);
    expect(receivers.received.slack.at(-1)?.text).toMatch(/RESOLVED: resolved: newest good backup daily\/corporate_intel_daily_\d{8}-\d{6}\.sql\.zst\.gpg/);
    await until(() => receivers.received.mail.some((m) => /^\[Lifeboat\] RESOLVED/.test(m.subject)), 'the resolve e-mail');
  });
});

describe('an unreachable channel', () => {
  it('is retried, recorded, and never fails the runbook that raised the alert', async () => {
    const backupRoot = mkdtempSync('/tmp/lifeboat-deadchannel-');
    const key = 'daily/fixture_db_daily_20250101-000000.sql.zst.gpg';
    mkdirSync(join(backupRoot, 'daily'), { recursive: true });
    copyFileSync(join(FIXTURES, 'backups', 'flipped-byte', FIXTURE_KEY), join(backupRoot, key));
    copyFileSync(join(FIXTURES, 'backups', 'good', `${FIXTURE_KEY}.metadata.json`), join(backupRoot, `${key}.metadata.json`));
    const worker = await startTestWorker({
      overrides: { BACKUP_ROOT: backupRoot, REMOTE_STORAGE: 'false', SLACK_WEBHOOK: 'http://127.0.0.1:9/hooks/dead', GPG_PRIVATE_KEY_FILE: join(FIXTURES, 'keys', 'fixture-private.asc') },
    });
    try {
      const result = (await worker.env.client.workflow.execute('verifyBackups', { taskQueue: worker.taskQueue, workflowId: `test-deadchannel-${Date.now()}`, args: [{ scope: 'one', backup: key }] })) as VerifyBackupsResult;
      expect(result.failed).toBe(1); // the verification failed, and the workflow itself completed
      const log = readFileSync(join(backupRoot, 'logs', 'alerts.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { condition: string; undelivered?: string });
      expect(log.filter((e) => e.condition === `verify:${key}`).map((e) => Boolean(e.undelivered))).toEqual([false, true]);
      expect(log.at(-1)?.undelivered).toMatch(/Slack webhook is unreachable/);
      expect(log.at(-1)?.undelivered).not.toContain('/hooks/dead');
    } finally {
      await worker.stop();
      rmSync(backupRoot, { recursive: true, force: true });
    }
  });
});
