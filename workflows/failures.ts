/**
 * Failures a workflow raises itself, typed by the error classes of lib/errors.ts (the class name is
 * the ApplicationFailure type), so the client maps them to the same exit codes as the errors the
 * activities raise (client/exit-codes.ts). No string failure types in workflow code.
 */
import { ActivityFailure, ApplicationFailure, sleep } from '@temporalio/workflow';
import { formatStamp } from '../lib/catalog/names';
import { ConflictingArtifact, InputInvalid } from '../lib/errors';
import type { CopySource } from '../lib/restore/fetch';

/** One of lib/errors.ts's classes, e.g. `ChecksumMismatch`. */
export interface ErrorClass {
  readonly name: string;
  readonly exitCode: number;
}

/** A non-retryable failure of type `errorClass`: retrying the workflow's step cannot help. */
export function permanentFailure(errorClass: ErrorClass, message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, errorClass.name);
}

/** The workflow's input (or the configuration it needs) is malformed: non-retryable, CLI exit 2. */
export function invalidInput(message: string): ApplicationFailure {
  return permanentFailure(InputInvalid, message);
}

const SOURCES: readonly CopySource[] = ['local', 'remote', 'auto'];

/** A restore's `source`, checked: undefined when not given (today's behaviour, `auto`). */
export function checkSource(source: unknown): CopySource | undefined {
  if (source === undefined) return undefined;
  if (typeof source !== 'string' || !SOURCES.includes(source as CopySource)) throw invalidInput(`source: ${JSON.stringify(source)} is not one of local, remote, auto`);
  return source as CopySource;
}

/** How many seconds a new backup tries before it gives up on a name other runs hold. */
const FRESH_STAMP_ATTEMPTS = 5;

/**
 * Run `step` with a stamp (YYYYMMDD-HHMMSS, the backup's name) of the workflow's clock. Names are
 * unique per second: when another run already owns this second's name (a manual backup right after
 * a scheduled one, or an "unchanged" config run that took 50 ms), the step refuses before any side
 * effect with ConflictingArtifact; then wait a second and take the next one, instead of failing
 * a good backup. Deterministic: the retry is a workflow timer.
 */
export async function withFreshStamp<T>(step: (stamp: string) => Promise<T>): Promise<{ stamp: string; result: T }> {
  for (let attempt = 1; ; attempt++) {
    const stamp = formatStamp(new Date());
    try {
      return { stamp, result: await step(stamp) };
    } catch (err) {
      const cause = err instanceof ActivityFailure ? err.cause : undefined;
      const conflict = cause instanceof ApplicationFailure && cause.type === ConflictingArtifact.name;
      if (!conflict || attempt >= FRESH_STAMP_ATTEMPTS) throw err;
      await sleep('1s');
    }
  }
}
