/**
 * Exit codes, mapped in one place: each error class in lib/errors.ts carries its code (`exitCode`),
 * for errors thrown here and for workflow failures typed by a class name alike. Scripts and cron
 * wrappers can rely on them: 0 ok, 1 the job ran and failed, 2 bad configuration or input (nothing
 * was done), 3 a service was unreachable, 4 a prerequisite is missing, 5 refused by a safety check,
 * 6 data integrity problem (checksum, missing backup, key).
 */
import { WorkflowFailedError } from '@temporalio/client';
import { ERROR_CLASSES, EXIT, exitCodeOf, isLifeboatError } from '../lib/errors';

export { EXIT };

/** Exit codes for failures that come back from a workflow, by ApplicationFailure type (a class name). */
const FAILURE_TYPES: ReadonlyMap<string, number> = new Map(
  ERROR_CLASSES.filter((c) => c.exitCode !== EXIT.failed).map((c) => [c.name, c.exitCode]),
);

function failureType(error: unknown): string | undefined {
  let cause: unknown = error;
  while (cause && typeof cause === 'object') {
    const type = (cause as { type?: unknown }).type;
    if (typeof type === 'string' && FAILURE_TYPES.has(type)) return type;
    cause = (cause as { cause?: unknown }).cause;
  }
  return undefined;
}

export function exitCodeFor(error: unknown): number {
  if (isLifeboatError(error)) return exitCodeOf(error);
  if (error instanceof WorkflowFailedError) return FAILURE_TYPES.get(failureType(error) ?? '') ?? EXIT.failed;
  if ((error as { code?: string }).code === 'commander.invalidArgument' || (error as { code?: string }).code === 'commander.unknownOption') return EXIT.invalid;
  return EXIT.failed;
}

/** Lower-case message plus a `hint:` line, for stderr. */
export function describeError(error: unknown): string {
  if (error instanceof WorkflowFailedError) {
    let cause: unknown = error.cause;
    const parts = [error.message];
    while (cause instanceof Error) {
      parts.push(cause.message);
      cause = (cause as { cause?: unknown }).cause;
    }
    return parts.join(': ');
  }
  if (isLifeboatError(error)) return error.hint ? `${error.message}\nhint: ${error.hint}` : error.message;
  return error instanceof Error ? error.message : String(error);
}
