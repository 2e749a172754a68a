/**
 * Names of the databases a production-replace restore creates: the staged copy it restores into
 * (`<production>_restore_<suffix>`) and the old production it keeps after the swap
 * (`<production>_pre_restore_<suffix>`). Pure (the workflow generates the names with it); the
 * cleanup activity uses `stagedDatabaseProblem` so it can only ever drop a staged copy, never
 * production or a kept copy.
 */

/** `<YYYYMMDD>_<HHMMSS>_<6 hex of the run id>`: unique per run. */
const SUFFIX = /^\d{8}_\d{6}_[0-9a-f]{6}$/;

/** The database a replace restore loads into and checks before the swap. */
export function stagedDatabaseName(production: string, suffix: string): string {
  return `${production.slice(0, 32)}_restore_${suffix}`;
}

/** The name production is kept under after the swap (never dropped by Lifeboat). */
export function keptDatabaseName(production: string, suffix: string): string {
  return `${production.slice(0, 28)}_pre_restore_${suffix}`;
}

/**
 * Why `name` is not a staged copy of `production` that may be dropped, or undefined when it is.
 * Refuses production itself, any kept copy, and every name not of the staged form.
 */
export function stagedDatabaseProblem(name: string, production: string): string | undefined {
  if (name === production) return `"${name}" is the production database`;
  const staged = `${production.slice(0, 32)}_restore_`;
  const kept = `${production.slice(0, 28)}_pre_restore_`;
  if (name.startsWith(kept) && SUFFIX.test(name.slice(kept.length))) return `"${name}" is a kept copy of production`;
  if (!name.startsWith(staged) || !SUFFIX.test(name.slice(staged.length))) return `"${name}" is not a staged restore of ${production} (${staged}<stamp>_<run>)`;
  return undefined;
}
