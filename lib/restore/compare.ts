/**
 * Does a restored database hold what the backup's metadata says? Every table present, row counts
 * equal, and the fingerprint of the first rows of every table (same settings as at backup time)
 * equal. Returns the problems found, in words an operator can act on.
 */
import type { TableFacts } from '../catalog/metadata';
import type { Config } from '../config/load';
import { withPg } from '../postgres/connection';
import { tableFacts } from '../postgres/dump';

export interface ComparisonResult {
  ok: boolean;
  problems: string[];
  tables: number;
  rows: number;
}

export function compareTables(expected: readonly TableFacts[], actual: readonly TableFacts[]): ComparisonResult {
  const problems: string[] = [];
  const byName = new Map(actual.map((t) => [`${t.schema}.${t.name}`, t]));
  for (const want of expected) {
    const name = `${want.schema}.${want.name}`;
    const got = byName.get(name);
    if (!got) {
      problems.push(`table ${name} is missing`);
      continue;
    }
    if (got.rows !== want.rows) problems.push(`table ${name} has ${got.rows} rows, the backup recorded ${want.rows}`);
    else if (want.sampleMd5 && got.sampleMd5 !== want.sampleMd5) problems.push(`table ${name}: the first ${want.sampleRows ?? 0} rows differ from the backup's fingerprint`);
    byName.delete(name);
  }
  for (const extra of byName.keys()) problems.push(`table ${extra} is not in the backup's metadata`);
  return { ok: problems.length === 0, problems, tables: actual.length, rows: actual.reduce((n, t) => n + Math.max(0, t.rows), 0) };
}

export async function compareDatabase(db: Config['db'], database: string, expected: readonly TableFacts[]): Promise<ComparisonResult> {
  const actual = await withPg({ ...db, name: database }, (client) => tableFacts(client), database);
  return compareTables(expected, actual);
}
