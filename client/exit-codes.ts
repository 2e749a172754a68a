/**
 * Exit codes, mapped in one place. Scripts and cron wrappers can rely on these:
 * 0 ok, 1 the job ran and failed, 2 bad configuration or input (nothing was done),
 * 3 a service was unreachable, 4 a prerequisite is missing, 5 refused by a safety check,
 * 6 data integrity problem (checksum, missing backup, key).
 */
import { WorkflowFailedError } from '@temporalio/client';
import {
  ArtifactIncomplete, AuthenticationFailed, BackupNotFound, ChecksumMismatch, ConfigInvalid, ConflictingArtifact, InputInvalid, KeyUnavailable,
  OperationRefused, PrerequisiteMissing, ServiceUnavailable, StackFailed, isLifeboatError,
} from '../lib/errors';

export const EXIT = { ok: 0, failed: 1, invalid: 2, unavailable: 3, prerequisite: 4, refused: 5, integrity: 6 } as const;

/** Exit codes for failures that come back from a workflow, by ApplicationFailure type. */
const FAILURE_TYPES: Record<string, number> = {
  ConfigInvalid: 2, InputInvalid: 2, ServiceUnavailable: 3, AuthenticationFailed: 3, PrerequisiteMissing: 4, OperationRefused: 5,
  ChecksumMismatch: 6, ArtifactIncomplete: 6, BackupNotFound: 6, KeyUnavailable: 6, ConflictingArtifact: 6,
};

function failureType(error: unknown): string | undefined {
  let cause: unknown = error;
  while (cause && typeof cause === 'object') {
    const type = (cause as { type?: unknown }).type;
    if (typeof type === 'string' && type in FAILURE_TYPES) return type;
    cause = (cause as { cause?: unknown }).cause;
  }
  return undefined;
}

export function exitCodeFor(error: unknown): number {
  if (error instanceof ConfigInvalid || error instanceof InputInvalid) return EXIT.invalid;
  if (error instanceof ServiceUnavailable || error instanceof AuthenticationFailed) return EXIT.unavailable;
  if (error instanceof PrerequisiteMissing || error instanceof StackFailed) return EXIT.prerequisite;
  if (error instanceof OperationRefused) return EXIT.refused;
  if (error instanceof ChecksumMismatch || error instanceof ArtifactIncomplete || error instanceof BackupNotFound || error instanceof KeyUnavailable || error instanceof ConflictingArtifact) return EXIT.integrity;
  if (error instanceof WorkflowFailedError) return FAILURE_TYPES[failureType(error) ?? ''] ?? EXIT.failed;
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
