/**
 * Every failure Lifeboat knows by name. Each class says whether retrying can help (`permanent`):
 * activities turn permanent ones into non-retryable ApplicationFailures (activities/failure.ts),
 * and the CLI maps each to an exit code in one place (client/exit-codes.ts).
 * Messages are lower-case, name the cause, and never contain a secret.
 */

export interface ConfigProblem {
  /** The environment variable (or file:line) at fault. */
  env: string;
  message: string;
  hint: string;
}

export abstract class LifeboatError extends Error {
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
  readonly permanent = true;
  constructor(readonly field: string, message: string, hint?: string) {
    super(`${field}: ${message}`, hint);
  }
}

/** A prerequisite program is missing and cannot be installed here. */
export class PrerequisiteMissing extends LifeboatError {
  readonly permanent = true;
}

/** A server (PostgreSQL, MinIO, Temporal) could not be reached; usually transient. */
export class ServiceUnavailable extends LifeboatError {
  readonly permanent = false;
}

/** A local file system is full (ENOSPC/EDQUOT); the message names the path and the free space. Retryable: space can be freed. */
export class DiskFull extends LifeboatError {
  readonly permanent = false;
}

/** A server refused our credentials; retrying with the same ones cannot help. */
export class AuthenticationFailed extends LifeboatError {
  readonly permanent = true;
}

/** A spawned tool (pg_dump, gpg, ...) exited non-zero. Permanence decided by the caller. */
export class ToolFailed extends LifeboatError {
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
  readonly permanent = true;
}

/** A stored artifact does not match its recorded checksum or size. */
export class ChecksumMismatch extends LifeboatError {
  readonly permanent = true;
}

/**
 * A backup stage lost, added or failed to produce bytes: the counts of two stages disagree, the
 * producer wrote nothing where it always writes something, or the written artifact does not decode
 * to what the producer produced. Nothing was recorded; retrying runs the whole stage again.
 */
export class ArtifactIncomplete extends LifeboatError {
  readonly permanent = false;
}

/** The named backup does not exist (or has no metadata, so it is not a backup). */
export class BackupNotFound extends LifeboatError {
  readonly permanent = true;
}

/** The encryption key needed is missing or wrong. */
export class KeyUnavailable extends LifeboatError {
  readonly permanent = true;
}

/** Something already exists where we must not overwrite it (e.g. a different WAL segment). */
export class ConflictingArtifact extends LifeboatError {
  readonly permanent = true;
}

/** A safety check refused an operation (e.g. restore over production without confirmation). */
export class OperationRefused extends LifeboatError {
  readonly permanent = true;
}

export function isLifeboatError(error: unknown): error is LifeboatError {
  return error instanceof LifeboatError;
}
