/**
 * Exit codes, mapped in one place: each error class in lib/errors.ts carries its code (`exitCode`),
 * for errors thrown here and for workflow failures typed by a class name alike. Scripts and cron
 * wrappers can rely on them: 0 ok, 1 the job ran and failed, 2 bad configuration or input (nothing
 * was done), 3 a service was unreachable, 4 a prerequisite is missing, 5 refused by a safety check,
 * 6 data integrity problem (checksum, missing backup, key), 7 `lifeboat status` found the deployment
 * degraded (a warning or critical problem; not an error: the report says what).
 */
import { WorkflowFailedError } from '@temporalio/client';
import { ERROR_CLASSES, EXIT as ERROR_EXIT, exitCodeOf, isLifeboatError } from '../lib/errors';

/** The errors' codes, plus 7: `lifeboat status` found something to act on (its report says what). */
export const EXIT = { ...ERROR_EXIT, degraded: 7 } as const;

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

/** gRPC status UNAVAILABLE: the server (or a proxy in front of it) cannot be reached. */
const GRPC_UNAVAILABLE = 14;

/**
 * True when `error` says the Temporal server could not be reached: the connection's own "failed to
 * connect before the deadline", or a call that ended with gRPC UNAVAILABLE (also as a cause).
 */
export function isTemporalUnreachable(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (isLifeboatError(e) || e instanceof WorkflowFailedError) return false;
    const { message, code, name } = e as { message?: unknown; code?: unknown; name?: unknown };
    if (typeof message === 'string' && /failed to connect before the deadline/i.test(message)) return true;
    if (code === GRPC_UNAVAILABLE || name === 'TransportError') return true;
  }
  return false;
}

export function exitCodeFor(error: unknown): number {
  if (isLifeboatError(error)) return exitCodeOf(error);
  if (isTemporalUnreachable(error)) return EXIT.unavailable;
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
  if (isTemporalUnreachable(error)) {
    const reason = error instanceof Error ? error.message.replace(/^\w/, (c) => c.toLowerCase()) : String(error);
    return `cannot reach the temporal server (TEMPORAL_ADDRESS): ${reason}\nhint: start it (\`npx lifeboat stack up\` for the local stack) or fix TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE (\`npx lifeboat config check\` shows them)`;
  }
  return error instanceof Error ? error.message : String(error);
}
