/**
 * Every failure Lifeboat knows by name. Each class says whether retrying can help (`permanent`):
 * activities turn permanent ones into non-retryable ApplicationFailures (activities/failure.ts)
 * typed by the class name, and each class carries the CLI's exit code for it (`exitCode`), from
 * which client/exit-codes.ts derives its mapping. Messages are lower-case, name the cause, and never
 * contain a secret. Pure TypeScript with no imports: workflows use the class names as failure types.
 */

/**
 * The CLI's exit codes. Scripts and cron wrappers can rely on these: 0 ok, 1 the job ran and
 * failed, 2 bad configuration or input (nothing was done), 3 a service was unreachable or refused
 * the credentials, 4 a prerequisite is missing, 5 refused by a safety check, 6 data integrity
 * problem (checksum, missing backup, key).
 */
export const EXIT = { ok: 0, failed: 1, invalid: 2, unavailable: 3, prerequisite: 4, refused: 5, integrity: 6 } as const;

export interface ConfigProblem {
  /** The environment variable (or file:line) at fault. */
  env: string;
  message: string;
  hint: string;
}

export abstract class LifeboatError extends Error {
  /** The CLI's exit status when this error ends a command (or a workflow it ran). */
  static readonly exitCode: number = EXIT.failed;
  /** True when retrying the same call cannot succeed (bad input, bad credentials, corrupt data). */
  abstract readonly permanent: boolean;
  /** A one-line suggestion for the operator. */
  readonly hint: string | undefined;

  constructor(message: string, hint?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.hint = hint;
  }
}

/** The configuration has one or more problems; all are listed, nothing has been done yet. */
export class ConfigInvalid extends LifeboatError {
  static override readonly exitCode = EXIT.invalid;
  readonly permanent = true;
  constructor(readonly problems: readonly ConfigProblem[]) {
    super(
      `invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  ${p.env}: ${p.message}\n    hint: ${p.hint}`).join('\n'),
    );
  }
}

/** A command-line argument or workflow input is malformed. */
export class InputInvalid extends LifeboatError {
  static override readonly exitCode = EXIT.invalid;
  readonly permanent = true;
  constructor(readonly field: string, message: string, hint?: string) {
    super(`${field}: ${message}`, hint);
  }
}

/** A prerequisite program is missing and cannot be installed here. */
export class PrerequisiteMissing extends LifeboatError {
  static override readonly exitCode = EXIT.prerequisite;
  readonly permanent = true;
}

/** A server (PostgreSQL, MinIO, Temporal) could not be reached; usually transient. */
export class ServiceUnavailable extends LifeboatError {
  static override readonly exitCode = EXIT.unavailable;
  readonly permanent = false;
}

/** A local file system is full (ENOSPC/EDQUOT); the message names the path and the free space. Retryable: space can be freed. */
export class DiskFull extends LifeboatError {
  static override readonly exitCode = EXIT.failed;
  readonly permanent = false;
}

/** A server refused our credentials; retrying with the same ones cannot help. */
export class AuthenticationFailed extends LifeboatError {
  static override readonly exitCode = EXIT.unavailable;
  readonly permanent = true;
}

/** A spawned tool (pg_dump, gpg, ...) exited non-zero. Permanence decided by the caller. */
export class ToolFailed extends LifeboatError {
  static override readonly exitCode = EXIT.failed;
  constructor(
    message: string,
    readonly permanent: boolean,
    hint?: string,
  ) {
    super(message, hint);
  }
}

/** A local stack process failed to start or become ready. */
export class StackFailed extends LifeboatError {
  static override readonly exitCode = EXIT.prerequisite;
  readonly permanent = true;
}

/** A stored artifact does not match its recorded checksum or size. */
export class ChecksumMismatch extends LifeboatError {
  static override readonly exitCode = EXIT.integrity;
  readonly permanent = true;
}

/**
 * A backup stage lost, added or failed to produce bytes: the counts of two stages disagree, the
 * producer wrote nothing where it always writes something, or the written artifact does not decode
 * to what the producer produced. Nothing was recorded; retrying runs the whole stage again.
 */
export class ArtifactIncomplete extends LifeboatError {
  static override readonly exitCode = EXIT.integrity;
  readonly permanent = false;
}

/** The named backup does not exist (or has no metadata, so it is not a backup). */
export class BackupNotFound extends LifeboatError {
  static override readonly exitCode = EXIT.integrity;
  readonly permanent = true;
}

/** The encryption key needed is missing or wrong. */
export class KeyUnavailable extends LifeboatError {
  static override readonly exitCode = EXIT.integrity;
  readonly permanent = true;
}

/** Something already exists where we must not overwrite it (e.g. a different WAL segment). */
export class ConflictingArtifact extends LifeboatError {
  static override readonly exitCode = EXIT.integrity;
  readonly permanent = true;
}

/** A safety check refused an operation (e.g. restore over production without confirmation). */
export class OperationRefused extends LifeboatError {
  static override readonly exitCode = EXIT.refused;
  readonly permanent = true;
}

/** Every concrete error class: the failure types workflows can end with, and their exit codes. */
export const ERROR_CLASSES = [
  ConfigInvalid, InputInvalid, PrerequisiteMissing, ServiceUnavailable, DiskFull, AuthenticationFailed, ToolFailed, StackFailed,
  ChecksumMismatch, ArtifactIncomplete, BackupNotFound, KeyUnavailable, ConflictingArtifact, OperationRefused,
] as const;

/** The exit code `error`'s class carries. */
export function exitCodeOf(error: LifeboatError): number {
  return (error.constructor as typeof LifeboatError).exitCode;
}

export function isLifeboatError(error: unknown): error is LifeboatError {
  return error instanceof LifeboatError;
}
