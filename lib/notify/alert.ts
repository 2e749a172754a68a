/**
 * The one notification hook: every alert Lifeboat raises (failed verification, bucket drift, stale
 * backups, full disks) is an Alert. It is appended to `$BACKUP_ROOT/logs/alerts.jsonl`, logged, and
 * routed by severity to the channels of ALERT_ROUTES (lib/notify/channels.ts).
 */
import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config/load';
import { scrubSecrets } from '../secrets';
import type { Logger } from '../logger';

export type Severity = 'info' | 'warning' | 'critical';

export interface Alert {
  severity: Severity;
  /** Stable identity of the condition (dedup key), e.g. `verify:daily/corporate_intel_daily_...`. */
  condition: string;
  summary: string;
  details?: Record<string, unknown>;
  /** True when the condition has cleared. */
  resolved?: boolean;
}

export interface DeliveryResult {
  channels: { channel: string; ok: boolean; detail?: string }[];
}

/** Append the alert (or a delivery problem) to the local alert log, and log it. */
export async function recordAlert(alert: Alert & { undelivered?: string }, { config, logger }: { config: Config; logger: Logger }): Promise<void> {
  const record = { at: new Date().toISOString(), ...alert, summary: scrubSecrets(alert.summary, config.secretValues) };
  const dir = join(config.backupRoot, 'logs');
  await mkdir(dir, { recursive: true });
  await appendFile(join(dir, 'alerts.jsonl'), `${JSON.stringify(record)}\n`);
  const log = alert.undelivered ? logger.error.bind(logger) : alert.severity === 'info' || alert.resolved ? logger.info.bind(logger) : logger.warn.bind(logger);
  log({ alert: record }, alert.undelivered ? `alert not delivered: ${alert.undelivered}` : `alert ${alert.resolved ? 'resolved' : alert.severity}: ${record.summary}`);
}
