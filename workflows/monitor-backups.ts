/**
 * monitorBackups: the seed's hourly `monitor-backups.sh`. Collect the facts on the backup host,
 * compute the seed's metrics JSON and one evaluation per condition (backup age, size anomaly, disk
 * usage, success rate, remote sync, database reachable, archiver failures, WAL archive age,
 * verification, configuration backup age and success rate, DR drill age and RTO), write the
 * metrics, and send alerts for conditions that started or cleared (deduplicated; a resolve when a
 * condition clears).
 */
import { proxyActivities, setCurrentDetails } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { evaluateMonitor, seedMetrics, type SeedMetrics, type Thresholds } from '../lib/monitor/evaluate';
import type { Evaluation } from '../lib/notify/state';
import { raiseAlert } from './alerting';
import { LOCAL, QUICK } from './options';

// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface MonitorBackupsInput {}

export interface MonitorBackupsResult {
  metrics: SeedMetrics;
  metricsFile: string;
  firing: Evaluation[];
  sent: { condition: string; resolved: boolean; severity: string }[];
}

const planning = proxyActivities<Activities>(QUICK);

export async function monitorBackups(_input: MonitorBackupsInput = {}): Promise<MonitorBackupsResult> {
  const target = await planning.describeMonitoring();
  const host = proxyActivities<Activities>(LOCAL(target.backupHostTaskQueue));
  // 1. Facts from the backup host and from Temporal's visibility.
  setCurrentDetails(`**1 collect** facts on \`${target.backupHostTaskQueue}\` and from Temporal's visibility`);
  const facts = await host.collectMonitorFacts();
  // 2. The seed's metrics JSON and the evaluations, in pure code.
  const metrics = seedMetrics(facts);
  const evaluations = evaluateMonitor(facts, target.thresholds);
  const { file } = await host.writeMetrics({ metrics, facts });
  // 3. Alerts for what started or cleared since the last run.
  const firing = evaluations.filter((e) => e.firing);
  setCurrentDetails(`**2 alerts**: ${firing.length ? `firing: ${firing.map((e) => `${e.severity} ${e.condition}`).join(', ')}` : 'nothing firing'}`);
  const transitions = await host.evaluateAlerts({ evaluations });
  for (const alert of transitions) await raiseAlert(target.backupHostTaskQueue, alert);
  setCurrentDetails(`**done**: metrics in \`${file}\`; ${firing.length} condition(s) firing, ${transitions.length} alert(s) sent`);
  return {
    metrics,
    metricsFile: file,
    firing,
    sent: transitions.map((a) => ({ condition: a.condition, resolved: Boolean(a.resolved), severity: a.severity })),
  };
}

export type { Thresholds };
