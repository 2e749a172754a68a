/**
 * Alert activities. `notify` records the alert and sends it to every channel its severity routes to;
 * channels already delivered are kept in the heartbeat details, so a retry (after a channel was
 * unreachable) never sends twice. `recordUndeliveredAlert` is what the workflow calls when retries
 * are exhausted: the alert is kept in the local alert log, and the calling runbook carries on.
 * `evaluateAlerts` turns monitoring evaluations into triggers and resolves (deduplicated).
 */
import { Context } from '@temporalio/activity';
import type { Deps } from '../lib/deps';
import { isLifeboatError } from '../lib/errors';
import { recordAlert, type Alert, type DeliveryResult } from '../lib/notify/alert';
import { alertStatePath, updateAlertState, type Evaluation } from '../lib/notify/state';

export function createNotifyActivities(deps: Pick<Deps, 'config' | 'logger' | 'notifier'>) {
  const { config, notifier } = deps;
  return {
    async notify(alert: Alert): Promise<DeliveryResult> {
      const ctx = Context.current();
      const previous = (ctx.info.heartbeatDetails as { done?: DeliveryResult['channels'] } | undefined)?.done ?? [];
      if (ctx.info.attempt === 1) await recordAlert(alert, deps);
      const done = [...previous];
      let retryable: Error | undefined;
      for (const channel of notifier.channelsFor(alert)) {
        if (done.some((d) => d.channel === channel)) continue;
        try {
          await notifier.send(channel, alert);
          done.push({ channel, ok: true });
        } catch (error) {
          if (isLifeboatError(error) && error.permanent) done.push({ channel, ok: false, detail: error.message });
          else retryable ??= error as Error;
        }
        ctx.heartbeat({ done });
      }
      if (retryable) throw retryable;
      for (const failed of done.filter((d) => !d.ok)) await recordAlert({ ...alert, undelivered: `${failed.channel}: ${failed.detail}` }, deps);
      return { channels: [{ channel: 'log', ok: true }, ...done] };
    },

    async recordUndeliveredAlert(input: { alert: Alert; reason: string }): Promise<void> {
      await recordAlert({ ...input.alert, undelivered: input.reason }, deps);
    },

    async evaluateAlerts(input: { evaluations: Evaluation[] }): Promise<Alert[]> {
      return updateAlertState(alertStatePath(config.backupRoot), input.evaluations);
    },
  };
}
