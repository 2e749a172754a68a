/**
 * Heartbeats for long activities: a timer sends the latest progress every few seconds, so the
 * heartbeat timeout only ever fires for a dead worker, never for a slow step (a dump waiting on a
 * lock, an upload sleeping under its rate limit). Progress callbacks just update the details.
 *
 * The details also carry the processes the attempt started (PID, start time, boot id): tools die
 * with the worker (setpriv --pdeathsig), and where that is not available a retry on the same
 * machine stops what the earlier attempt left (stopEarlierAttemptTools) before it starts its own.
 */
import { Context } from '@temporalio/activity';
import { bootId, stopLeftovers, type ToolPid } from '../lib/pipeline/child';

export interface ToolDetails {
  tools?: ToolPid[];
  bootId?: string;
}

export interface Heartbeats<T> {
  update(details: T): void;
  /** Record a process this attempt started (pass as `onSpawn`). */
  track(pid: ToolPid): void;
  stop(): void;
}

export function startHeartbeats<T>(initial: T, intervalMs = 5000): Heartbeats<T> {
  const ctx = Context.current();
  let latest = initial;
  const tools: ToolPid[] = [];
  const boot = bootId();
  const details = (): T & ToolDetails => ({ ...latest, ...(tools.length ? { tools, bootId: boot } : {}) });
  // The SDK sends an activity's first heartbeat at once and throttles the rest (up to 80 % of the
  // heartbeat timeout). So the first one waits until the tools are spawned (a pipeline spawns all of
  // its processes in one tick) or the first interval, whichever comes first: the PIDs a retry needs
  // reach the server at once.
  let pending: NodeJS.Immediate | undefined;
  const send = (): void => ctx.heartbeat(details());
  const timer = setInterval(send, intervalMs);
  return {
    update(next) {
      latest = next;
    },
    track(pid) {
      tools.push(pid);
      pending ??= setImmediate(() => {
        pending = undefined;
        send();
      });
    },
    stop() {
      clearInterval(timer);
      if (pending) clearImmediate(pending);
    },
  };
}

/** Run `fn` with heartbeats; always stops the timer. */
export async function withHeartbeats<T, R>(initial: T, fn: (beats: Heartbeats<T>) => Promise<R>): Promise<R> {
  stopEarlierAttemptTools();
  const beats = startHeartbeats(initial);
  try {
    return await fn(beats);
  } finally {
    beats.stop();
  }
}

/** Kill processes an earlier attempt of this activity recorded and left running on this machine. */
export function stopEarlierAttemptTools(): ToolPid[] {
  const ctx = Context.current();
  const details = ctx.info.heartbeatDetails as ToolDetails | undefined;
  const killed = stopLeftovers(details?.tools, details?.bootId);
  if (killed.length) ctx.log.warn('stopped processes an earlier attempt left running', { tools: killed.map((t) => `${t.name}[${t.pid}]`).join(', ') });
  return killed;
}
