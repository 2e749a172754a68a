/**
 * The endpoints an operator's script prints (command provider): one JSON object, checked field by
 * field. Only names, addresses and directories are accepted; any other field (a password, a key) is
 * refused by name, so nothing secret can slip into a workflow history through a provider.
 *
 *   {"postgres": {"host": "10.0.0.5", "port": 5432},
 *    "minio": {"endpoint": "http://10.0.0.6:9000"},
 *    "configDir": "/srv/dr/config", "name": "dr-inc-1234"}
 */
import { z } from 'zod';
import type { ProvisionedEnvironment } from './provider';

const port = z
  .union([z.number(), z.string().regex(/^\d+$/, 'must be a whole number').transform(Number)])
  .pipe(z.number().int('must be a whole number').min(1, 'must be between 1 and 65535').max(65535, 'must be between 1 and 65535'));

const host = z.string().min(1, 'must not be empty').regex(/^[A-Za-z0-9._:\-[\]%]+$/, 'must be a host name or IP address');

const endpoint = z.string().superRefine((value, ctx) => {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'is not a valid URL' });
    return;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') ctx.addIssue({ code: 'custom', message: `must use http or https, not ${url.protocol.replace(/:$/, '')}` });
  else if (url.username || url.password) ctx.addIssue({ code: 'custom', message: 'must not contain credentials (the worker uses the MINIO_SOURCE keys)' });
  else if (url.pathname !== '/' || url.search || url.hash) ctx.addIssue({ code: 'custom', message: 'must be scheme, host and port only' });
});

const absolutePath = z.string().regex(/^\//, 'must be an absolute path');

const schema = z
  .strictObject({
    name: z.string().optional(),
    postgres: z.strictObject({ host, port }).optional(),
    minio: z.strictObject({ endpoint }).optional(),
    configDir: absolutePath.optional(),
    dataDir: absolutePath.optional(),
    host: z.string().min(1, 'must not be empty').optional(),
  })
  .refine((value) => value.postgres !== undefined || value.minio !== undefined, { message: 'must name a postgres or a minio endpoint', path: ['postgres'] });

/** The first problem of `issues` as `field.path: message`, naming refused keys without their values. */
function firstProblem(issues: readonly z.core.$ZodIssue[]): string {
  const issue = issues[0]!;
  const at = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    const field = [at, issue.keys[0]].filter(Boolean).join('.');
    return `${field}: is not an endpoint field (only name, postgres.host, postgres.port, minio.endpoint, configDir, dataDir, host; secrets stay in the worker's environment)`;
  }
  const message = issue.code === 'invalid_type' ? `must be ${issue.expected}` : issue.message;
  return `${at || '(the output)'}: ${message}`;
}

/**
 * Parse what a script printed for environment `name`. Returns the environment, or the problem as
 * `field: message` (the JSON itself is never quoted back: it may hold what it should not).
 */
export function parseEndpoints(stdout: string, name: string): { environment?: ProvisionedEnvironment; problem?: string } {
  let json: unknown;
  try {
    json = JSON.parse(stdout);
  } catch (error) {
    return { problem: `(the output): is not JSON (${(error as Error).message.replace(/"[^"]*"/g, '...')})` };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return { problem: '(the output): must be one JSON object' };
  const parsed = schema.safeParse(json);
  if (!parsed.success) return { problem: firstProblem(parsed.error.issues) };
  const value = parsed.data;
  if (value.name !== undefined && value.name !== name) return { problem: `name: is "${value.name.slice(0, 100)}", but the environment asked for is "${name}"` };
  return {
    environment: {
      name,
      kind: 'command',
      ...(value.postgres ? { postgres: value.postgres } : {}),
      ...(value.minio ? { minio: { endpoint: new URL(value.minio.endpoint).origin } } : {}),
      ...(value.configDir ? { configDir: value.configDir } : {}),
      ...(value.dataDir ? { dataDir: value.dataDir } : {}),
      ...(value.host ? { host: value.host } : {}),
    },
  };
}
