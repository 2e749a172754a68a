/**
 * Alert channels: Slack (incoming webhook), e-mail (SMTP via nodemailer) and PagerDuty (Events API
 * v2, critical alerts only). Each send either succeeds or throws: ServiceUnavailable when the channel
 * could not be reached (retryable), InputInvalid when it refused the message (not retryable).
 * Every text is scrubbed of configured secrets; the dedup key of a condition is stable, so
 * PagerDuty groups repeats and a resolve closes the incident the trigger opened.
 */
import { hostname } from 'node:os';
import nodemailer from 'nodemailer';
import type { Config } from '../config/load';
import { scrubSecrets } from '../secrets';
import { InputInvalid, ServiceUnavailable } from '../errors';
import type { Alert } from './alert';
import type { Channel } from './routes';

const ICON: Record<string, string> = { info: ':information_source:', warning: ':warning:', critical: ':rotating_light:' };

export function alertTitle(alert: Alert): string {
  return `[Lifeboat] ${alert.resolved ? 'RESOLVED' : alert.severity.toUpperCase()}: ${alert.summary}`;
}

/** Stable per-condition key (PagerDuty dedup_key, e-mail thread, Slack text). */
export function dedupKey(alert: Alert): string {
  return `lifeboat:${alert.condition}`;
}

export function slackPayload(alert: Alert, secrets: readonly string[]): { text: string } {
  const icon = alert.resolved ? ':white_check_mark:' : (ICON[alert.severity] ?? '');
  const details = alert.details ? `\n\`\`\`${JSON.stringify(alert.details, null, 2).slice(0, 2500)}\`\`\`` : '';
  return { text: scrubSecrets(`${icon} ${alertTitle(alert)}\ncondition: \`${alert.condition}\` (${dedupKey(alert)})${details}`, secrets) };
}

export function pagerdutyPayload(alert: Alert, routingKey: string, secrets: readonly string[]) {
  return {
    routing_key: routingKey,
    event_action: alert.resolved ? 'resolve' : 'trigger',
    dedup_key: dedupKey(alert),
    payload: {
      summary: scrubSecrets(alert.summary, secrets).slice(0, 1000),
      source: `lifeboat@${hostname()}`,
      severity: alert.severity === 'critical' ? 'critical' : alert.severity === 'warning' ? 'warning' : 'info',
      component: 'backups',
      group: alert.condition.split(':')[0],
      custom_details: JSON.parse(scrubSecrets(JSON.stringify(alert.details ?? {}), secrets)) as unknown,
    },
  };
}

async function post(url: string, body: unknown, what: string): Promise<void> {
  let response: Response;
  try {
    response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(15_000) });
  } catch (error) {
    throw new ServiceUnavailable(`${what} is unreachable: ${(error as Error).message}`);
  }
  if (response.status >= 500 || response.status === 429) throw new ServiceUnavailable(`${what} answered HTTP ${response.status}`);
  if (!response.ok) throw new InputInvalid(what, `refused the alert with HTTP ${response.status}: ${(await response.text()).slice(0, 200)}`);
}

/** Channels of `severity` that are configured; PagerDuty only ever for critical alerts. */
export function channelsFor(alert: Alert, config: Config): Channel[] {
  return config.alerts.routes[alert.severity].filter((channel) => {
    if (channel === 'slack') return Boolean(config.alerts.slackWebhook);
    if (channel === 'email') return Boolean(config.alerts.smtpUrl && config.alerts.email.length > 0);
    return Boolean(config.alerts.pagerdutyRoutingKey) && alert.severity === 'critical';
  });
}

export async function sendToChannel(channel: Channel, alert: Alert, config: Config): Promise<void> {
  const secrets = config.secretValues;
  if (channel === 'slack') {
    // The webhook URL is itself a credential: name the channel, never the URL.
    await post(config.alerts.slackWebhook!, slackPayload(alert, secrets), 'the Slack webhook');
  } else if (channel === 'pagerduty') {
    await post(config.alerts.pagerdutyEventsUrl, pagerdutyPayload(alert, config.alerts.pagerdutyRoutingKey!, secrets), 'PagerDuty');
  } else {
    const transport = nodemailer.createTransport(config.alerts.smtpUrl!, { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 15_000 } as never);
    try {
      await transport.sendMail({
        from: config.alerts.emailFrom,
        to: config.alerts.email.join(', '),
        subject: scrubSecrets(alertTitle(alert), secrets),
        text: scrubSecrets(`${alert.summary}\n\ncondition: ${alert.condition}\nseverity: ${alert.severity}\n${alert.details ? `\n${JSON.stringify(alert.details, null, 2)}\n` : ''}`, secrets),
        headers: { 'X-Lifeboat-Dedup-Key': dedupKey(alert) },
      });
    } catch (error) {
      const e = error as { code?: string; responseCode?: number; message?: string };
      if (e.responseCode && e.responseCode >= 500 && e.responseCode < 600) {
        throw new InputInvalid('EMAIL_ALERTS', `the SMTP server refused the alert (${e.responseCode})`);
      }
      throw new ServiceUnavailable(`the SMTP server is unreachable or failed: ${scrubSecrets(e.message ?? String(error), secrets)}`);
    } finally {
      transport.close();
    }
  }
}
