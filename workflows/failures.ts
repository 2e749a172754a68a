/**
 * Failures a workflow raises itself, typed by the error classes of lib/errors.ts (the class name is
 * the ApplicationFailure type), so the client maps them to the same exit codes as the errors the
 * activities raise (client/exit-codes.ts). No string failure types in workflow code.
 */
import { ApplicationFailure } from '@temporalio/workflow';
import { InputInvalid } from '../lib/errors';
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
