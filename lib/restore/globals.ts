/**
 * Restoring globals (`pg_dumpall --globals-only` output: roles, their settings and memberships,
 * tablespaces) into a target cluster, one object at a time, with a report instead of psql's
 * all-or-nothing:
 *
 *  parseGlobals   the script as roles (CREATE ROLE + its ALTER/COMMENT/SET lines), memberships
 *                 (GRANT role TO role) and tablespaces (CREATE TABLESPACE + its own lines). Pure.
 *  applyGlobals   per role: created, skipped (exists already, or it is the role running the
 *                 restore, which is never altered) or failed; per tablespace: created, skipped
 *                 (exists), missing-directory (the server has no such directory: reported, never
 *                 created) or failed; memberships granted or failed.
 *
 * Role statements hold password hashes: they are executed, never logged or returned; reports carry
 * names, states and the server's error message only.
 */
import { Client } from 'pg';
import type { Config } from '../config/load';
import { pgClientConfig } from '../postgres/connection';

export interface GlobalsScript {
  roles: { name: string; statements: string[] }[];
  tablespaces: { name: string; location: string; statements: string[] }[];
  memberships: { role: string; member: string; statement: string }[];
}

const IDENT = String.raw`("(?:[^"]|"")+"|[^\s";]+)`;
const unquote = (ident: string): string => (ident.startsWith('"') ? ident.slice(1, -1).replace(/""/g, '"') : ident);

/** Split pg_dumpall --globals-only output into objects. Statements are one line each there. Pure. */
export function parseGlobals(sql: string): GlobalsScript {
  const roles = new Map<string, string[]>();
  const tablespaces = new Map<string, { location: string; statements: string[] }>();
  const memberships: GlobalsScript['memberships'] = [];
  for (const raw of sql.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('--') || line.startsWith('\\') || line.startsWith('SET ')) continue;
    let m: RegExpExecArray | null;
    if ((m = new RegExp(`^CREATE ROLE ${IDENT};$`).exec(line))) {
      roles.set(unquote(m[1]!), [line]);
    } else if ((m = new RegExp(`^(?:ALTER ROLE|COMMENT ON ROLE) ${IDENT} `).exec(line))) {
      roles.get(unquote(m[1]!))?.push(line);
    } else if ((m = new RegExp(`^CREATE TABLESPACE ${IDENT} .*LOCATION '((?:[^']|'')*)';$`).exec(line))) {
      tablespaces.set(unquote(m[1]!), { location: m[2]!.replace(/''/g, "'"), statements: [line] });
    } else if ((m = new RegExp(`^(?:ALTER TABLESPACE|COMMENT ON TABLESPACE) ${IDENT} `).exec(line)) || (m = new RegExp(`^(?:GRANT|REVOKE) .* ON TABLESPACE ${IDENT} `).exec(line))) {
      tablespaces.get(unquote(m[1]!))?.statements.push(line);
    } else if ((m = new RegExp(`^GRANT ${IDENT} TO ${IDENT}`).exec(line))) {
      memberships.push({ role: unquote(m[1]!), member: unquote(m[2]!), statement: line });
    }
  }
  return {
    roles: [...roles].map(([name, statements]) => ({ name, statements })),
    tablespaces: [...tablespaces].map(([name, t]) => ({ name, ...t })),
    memberships,
  };
}

export type RoleOutcome = { name: string; state: 'created' } | { name: string; state: 'skipped'; reason: 'exists' | 'restoring-role' } | { name: string; state: 'failed'; error: string };
export type TablespaceOutcome =
  | { name: string; location: string; state: 'created' }
  | { name: string; location: string; state: 'skipped'; reason: 'exists' }
  | { name: string; location: string; state: 'missing-directory'; error: string }
  | { name: string; location: string; state: 'failed'; error: string };
export type MembershipOutcome = { role: string; member: string; state: 'granted' | 'skipped' } | { role: string; member: string; state: 'failed'; error: string };

export interface GlobalsReport {
  roles: RoleOutcome[];
  tablespaces: TablespaceOutcome[];
  memberships: MembershipOutcome[];
  /** The role the restore connected as (never altered). */
  restoringRole: string;
}

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error)).slice(0, 500);

/**
 * What earlier attempts of the same restore created (from the activity's heartbeat details), so a
 * retry reports those roles and tablespaces as created, not as "exists", and still grants the
 * memberships of those roles; `onCreated` hears every object as soon as its transaction committed.
 */
export interface GlobalsAttempt {
  created?: { roles?: readonly string[]; tablespaces?: readonly string[] };
  onCreated?: (created: { roles: string[]; tablespaces: string[] }) => void;
}

/** Apply the script to the cluster `db` points at (database `postgres`), object by object. */
export async function applyGlobals(db: Config['db'], script: GlobalsScript, onObject?: (what: string) => void, attempt: GlobalsAttempt = {}): Promise<GlobalsReport> {
  const earlierRoles = new Set(attempt.created?.roles ?? []);
  const earlierTablespaces = new Set(attempt.created?.tablespaces ?? []);
  const client = new Client(pgClientConfig(db, 'postgres'));
  client.on('error', () => undefined);
  await client.connect();
  try {
    const restoringRole = (await client.query<{ r: string }>('SELECT current_user AS r')).rows[0]!.r;
    const existingRoles = new Set((await client.query<{ n: string }>('SELECT rolname AS n FROM pg_roles')).rows.map((r) => r.n));
    const existingTablespaces = new Set((await client.query<{ n: string }>('SELECT spcname AS n FROM pg_tablespace')).rows.map((r) => r.n));
    const created = new Set<string>();
    const createdTablespaces = new Set<string>();
    const tell = (): void => attempt.onCreated?.({ roles: [...created], tablespaces: [...createdTablespaces] });
    const roles: RoleOutcome[] = [];
    for (const role of script.roles) {
      onObject?.(`role ${role.name}`);
      if (role.name === restoringRole) {
        roles.push({ name: role.name, state: 'skipped', reason: 'restoring-role' });
        continue;
      }
      if (existingRoles.has(role.name)) {
        if (earlierRoles.has(role.name)) {
          // Created by an earlier attempt of this restore (its transaction committed, then the worker died).
          created.add(role.name);
          roles.push({ name: role.name, state: 'created' });
        } else {
          roles.push({ name: role.name, state: 'skipped', reason: 'exists' });
        }
        continue;
      }
      try {
        await client.query('BEGIN');
        for (const statement of role.statements) await client.query(statement);
        await client.query('COMMIT');
        created.add(role.name);
        roles.push({ name: role.name, state: 'created' });
        tell();
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        roles.push({ name: role.name, state: 'failed', error: messageOf(error) });
      }
    }
    const tablespaces: TablespaceOutcome[] = [];
    for (const ts of script.tablespaces) {
      onObject?.(`tablespace ${ts.name}`);
      if (existingTablespaces.has(ts.name)) {
        if (earlierTablespaces.has(ts.name)) {
          // Created by an earlier attempt of this restore.
          createdTablespaces.add(ts.name);
          tablespaces.push({ name: ts.name, location: ts.location, state: 'created' });
        } else {
          tablespaces.push({ name: ts.name, location: ts.location, state: 'skipped', reason: 'exists' });
        }
        continue;
      }
      try {
        // CREATE TABLESPACE cannot run in a transaction; PostgreSQL never creates the directory itself.
        await client.query(ts.statements[0]!);
        createdTablespaces.add(ts.name);
        tell();
      } catch (error) {
        const code = (error as { code?: string }).code;
        tablespaces.push({ name: ts.name, location: ts.location, state: code === '58P01' ? 'missing-directory' : 'failed', error: messageOf(error) });
        continue;
      }
      const problems: string[] = [];
      for (const statement of ts.statements.slice(1)) await client.query(statement).catch((e: unknown) => problems.push(messageOf(e)));
      tablespaces.push(problems.length === 0 ? { name: ts.name, location: ts.location, state: 'created' } : { name: ts.name, location: ts.location, state: 'failed', error: `created, but: ${problems.join('; ')}` });
    }
    const memberships: MembershipOutcome[] = [];
    for (const grant of script.memberships) {
      // Only memberships of roles this run created: existing roles and the restoring role are not altered.
      if (!created.has(grant.member) && !created.has(grant.role)) {
        memberships.push({ role: grant.role, member: grant.member, state: 'skipped' });
        continue;
      }
      if (grant.member === restoringRole) {
        memberships.push({ role: grant.role, member: grant.member, state: 'skipped' });
        continue;
      }
      await client.query(grant.statement).then(
        () => memberships.push({ role: grant.role, member: grant.member, state: 'granted' }),
        (error: unknown) => memberships.push({ role: grant.role, member: grant.member, state: 'failed', error: messageOf(error) }),
      );
    }
    return { roles, tablespaces, memberships, restoringRole };
  } finally {
    await client.end().catch(() => undefined);
  }
}
