/**
 * The one notification hook: every alert Lifeboat raises (failed verification, drift, stale backups)
 * is an Alert, appended to `$BACKUP_ROOT/logs/alerts.jsonl` and logged. Routing to Slack, e-mail and
 * PagerDuty plugs in behind `deliverAlert` without changing any caller.
 */
import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { scrubSecrets, type Config } from '../config/load';
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

export async function deliverAlert(alert: Alert, { config, logger }: { config: Config; logger: Logger }): Promise<DeliveryResult> {
  const record = { at: new Date().toISOString(), ...alert, summary: scrubSecrets(alert.summary, config.secretValues) };
  const dir = join(config.backupRoot, 'logs');
  await mkdir(dir, { recursive: true });
  await appendFile(join(dir, 'alerts.jsonl'), `${JSON.stringify(record)}\n`);
  (alert.severity === 'info' || alert.resolved ? logger.info.bind(logger) : logger.warn.bind(logger))({ alert: record }, `alert ${alert.resolved ? 'resolved' : alert.severity}: ${record.summary}`);
  return { channels: [{ channel: 'log', ok: true }] };
}
