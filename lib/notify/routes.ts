/** Which channels each alert severity goes to (ALERT_ROUTES), parsed and validated. */
import type { Severity } from './alert';

export const CHANNELS = ['slack', 'email', 'pagerduty'] as const;
export type Channel = (typeof CHANNELS)[number];
export const SEVERITIES: readonly Severity[] = ['info', 'warning', 'critical'];
export const DEFAULT_ALERT_ROUTES = 'critical=slack,email,pagerduty;warning=slack,email;info=slack';

/** Parse `severity=channel,channel;...`. Throws an Error listing every problem (unknown names). */
export function parseAlertRoutes(text: string): Record<Severity, Channel[]> {
  const routes: Record<Severity, Channel[]> = { info: [], warning: [], critical: [] };
  const problems: string[] = [];
  for (const entry of text.split(';').map((e) => e.trim()).filter(Boolean)) {
    const [severity, list] = entry.split('=').map((x) => x?.trim());
    if (!severity || list === undefined || !SEVERITIES.includes(severity as Severity)) {
      problems.push(`"${entry}": severity must be one of ${SEVERITIES.join(', ')}`);
      continue;
    }
    for (const channel of list.split(',').map((c) => c.trim()).filter(Boolean)) {
      if (!(CHANNELS as readonly string[]).includes(channel)) problems.push(`unknown channel "${channel}" (known: ${CHANNELS.join(', ')})`);
      else routes[severity as Severity].push(channel as Channel);
    }
  }
  if (problems.length > 0) throw new Error(problems.join('; '));
  return routes;
}
