/**
 * What `lifeboat schedules apply` must do, decided purely: create what is declared and missing,
 * update what drifted (by fingerprint), leave the rest, and delete schedules Lifeboat owns (by id
 * prefix) that are no longer declared. Pauses are not part of the plan: apply keeps them.
 */
import { scheduleHash, type DeclaredSchedule } from './declared';

export interface ExistingSchedule {
  id: string;
  /** Fingerprint recorded at the last apply (undefined when created by hand). */
  hash?: string;
}

export interface SchedulePlan {
  create: DeclaredSchedule[];
  update: DeclaredSchedule[];
  unchanged: DeclaredSchedule[];
  delete: string[];
}

export function planScheduleChanges(declared: readonly DeclaredSchedule[], existing: readonly ExistingSchedule[], prefix: string): SchedulePlan {
  const byId = new Map(existing.map((e) => [e.id, e]));
  const plan: SchedulePlan = { create: [], update: [], unchanged: [], delete: [] };
  for (const d of declared) {
    const e = byId.get(d.id);
    if (!e) plan.create.push(d);
    else if (e.hash !== scheduleHash(d)) plan.update.push(d);
    else plan.unchanged.push(d);
  }
  const declaredIds = new Set(declared.map((d) => d.id));
  for (const e of existing) if (e.id.startsWith(prefix) && !declaredIds.has(e.id)) plan.delete.push(e.id);
  return plan;
}
