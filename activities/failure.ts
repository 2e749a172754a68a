/**
 * The one place where domain errors become Temporal failures. Permanent LifeboatErrors become
 * non-retryable ApplicationFailures typed by their class name; everything else stays retryable.
 * A full disk (ENOSPC) becomes DiskFull naming the path and its free space (lib/disk-full.ts).
 * Every message is scrubbed of configured secrets before it can enter workflow history.
 */
import { ApplicationFailure } from '@temporalio/common';
import { scrubSecrets } from '../lib/secrets';
import { diskFullError } from '../lib/disk-full';
import { isLifeboatError } from '../lib/errors';

/** `dataDir`: where files are written when an ENOSPC does not name one (BACKUP_ROOT). */
export function toFailure(caught: unknown, secrets: readonly string[], dataDir?: string): Error {
  if (caught instanceof ApplicationFailure) return caught;
  // A permanent domain error keeps its class; anything else caused by a full disk says where and how full.
  const error = (isLifeboatError(caught) && caught.permanent ? undefined : diskFullError(caught, undefined, dataDir)) ?? caught;
  const message = scrubSecrets(error instanceof Error ? error.message : String(error), secrets);
  if (isLifeboatError(error)) {
    const details = error.hint ? [{ hint: scrubSecrets(error.hint, secrets) }] : [];
    return ApplicationFailure.create({ message, type: error.name, nonRetryable: error.permanent, details });
  }
  return ApplicationFailure.create({ message, type: error instanceof Error ? error.name : 'Error', nonRetryable: false });
}

/** Wrap every function of an activity table so that its errors pass through toFailure. */
export function withFailureMapping<T extends Record<string, (...args: never[]) => Promise<unknown>>>(activities: T, secrets: readonly string[], dataDir?: string): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(activities)) {
    const f = fn as (...args: unknown[]) => Promise<unknown>;
    // Named function so stack traces and Temporal's activity type keep the name.
    wrapped[name] = {
      async [name](...args: unknown[]): Promise<unknown> {
        try {
          return await f(...args);
        } catch (error) {
          throw toFailure(error, secrets, dataDir);
        }
      },
    }[name];
  }
  return wrapped as T;
}
