/** The notification hook as an activity: workflows raise alerts; delivery never fails the caller. */
import type { Config } from '../lib/config/load';
import type { Logger } from '../lib/logger';
import { deliverAlert, type Alert, type DeliveryResult } from '../lib/notify/alert';

export function createNotifyActivities(deps: { config: Config; logger: Logger }) {
  return {
    async notify(alert: Alert): Promise<DeliveryResult> {
      return deliverAlert(alert, deps);
    },
  };
}
