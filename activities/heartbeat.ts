/**
 * Heartbeats for long activities: a timer sends the latest progress every few seconds, so the
 * heartbeat timeout only ever fires for a dead worker, never for a slow step (a dump waiting on a
 * lock, an upload sleeping under its rate limit). Progress callbacks just update the details.
 */
import { Context } from '@temporalio/activity';

export interface Heartbeats<T> {
  update(details: T): void;
  stop(): void;
}

export function startHeartbeats<T>(initial: T, intervalMs = 5000): Heartbeats<T> {
  const ctx = Context.current();
  let latest = initial;
  ctx.heartbeat(latest);
  const timer = setInterval(() => ctx.heartbeat(latest), intervalMs);
  return {
    update(details) {
      latest = details;
    },
    stop() {
      clearInterval(timer);
    },
  };
}

/** Run `fn` with heartbeats; always stops the timer. */
export async function withHeartbeats<T, R>(initial: T, fn: (beats: Heartbeats<T>) => Promise<R>): Promise<R> {
  const beats = startHeartbeats(initial);
  try {
    return await fn(beats);
  } finally {
    beats.stop();
  }
}
