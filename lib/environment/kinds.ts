/**
 * The environment providers by name, and the rules for an environment's name. Pure, with no node
 * imports, so workflows can check a DR input's `environment` field before any side effect and the
 * configuration schema can list the kinds (DR_ENVIRONMENT).
 */
import { InputInvalid } from '../errors';

/**
 * `local`: a new PostgreSQL 15 cluster and a new MinIO on this machine (tests and drills);
 * `command`: operator scripts print the endpoints (a Terraform wrapper, ...);
 * `existing`: endpoints given in the configuration (DR_TARGET_*).
 */
export const ENVIRONMENT_KINDS = ['local', 'command', 'existing'] as const;

export type EnvironmentKind = (typeof ENVIRONMENT_KINDS)[number];

export function isEnvironmentKind(value: unknown): value is EnvironmentKind {
  return typeof value === 'string' && (ENVIRONMENT_KINDS as readonly string[]).includes(value);
}

/** What is wrong with `value` as a provider kind, or undefined when it is one. */
export function environmentKindProblem(value: unknown): string | undefined {
  if (isEnvironmentKind(value)) return undefined;
  const got = typeof value === 'string' ? `"${value}"` : typeof value;
  return `must be one of ${ENVIRONMENT_KINDS.join(', ')} (got ${got})`;
}

/** `value` as a kind; InputInvalid naming `field` otherwise. */
export function parseEnvironmentKind(value: unknown, field = 'environment'): EnvironmentKind {
  const problem = environmentKindProblem(value);
  if (problem) throw new InputInvalid(field, problem, `choose ${ENVIRONMENT_KINDS.join(', ')}, or leave it out for DR_ENVIRONMENT`);
  return value as EnvironmentKind;
}

/**
 * An environment's name becomes a directory name (local) and a script argument (command): letters,
 * digits, `.`, `_`, `-`, starting with a letter or digit, at most 100 characters.
 */
export const ENVIRONMENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** What is wrong with `value` as an environment name, or undefined when it is one. */
export function environmentNameProblem(value: unknown): string | undefined {
  if (typeof value !== 'string') return `must be a string (got ${typeof value})`;
  if (!ENVIRONMENT_NAME.test(value)) return `must be 1-100 letters, digits, ".", "_" or "-", starting with a letter or digit (got "${value.slice(0, 120)}")`;
  return undefined;
}

/** `value` as an environment name; InputInvalid naming `field` otherwise. */
export function checkEnvironmentName(value: unknown, field = 'name'): string {
  const problem = environmentNameProblem(value);
  if (problem) throw new InputInvalid(field, problem, 'name environments like dr-INC-1234 or drill-20251017');
  return value as string;
}
