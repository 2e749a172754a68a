/**
 * Table facts: every table's exact row count and an md5 of its first SAMPLE_ROWS rows in primary-key
 * order, under fixed session settings. Recorded at backup time (on the dump's snapshot) and computed
 * again after a restore to compare. The SQL text is built in one place, so both sides run the very
 * same statements: through a pg client (`tableFacts`), or appended to psql's restore session
 * (`factsPsqlScript`), where they run inside the restore's own transaction.
 */
import type { Client } from 'pg';
import type { TableFacts } from '../catalog/metadata';

/** Session settings under which row fingerprints are computed, at backup and at verification. */
export const FINGERPRINT_SETTINGS = [
  "SET TimeZone = 'UTC'",
  "SET DateStyle = 'ISO, YMD'",
  "SET IntervalStyle = 'postgres'",
  'SET extra_float_digits = 1',
  "SET bytea_output = 'hex'",
];

export const SAMPLE_ROWS = 1000;

const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;
const quoteLiteral = (text: string): string => `'${text.replace(/'/g, "''")}'`;
const relation = (schema: string, name: string): string => `${quoteIdent(schema)}.${quoteIdent(name)}`;

/** Every ordinary table with its primary-key columns (null when it has none). */
export const LIST_TABLES_SQL = `
    SELECT n.nspname AS schema, c.relname AS name,
           (SELECT array_agg(a.attname::text ORDER BY k.ord)
              FROM pg_index i
              CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
              JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
             WHERE i.indrelid = c.oid AND i.indisprimary) AS pk
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
     ORDER BY 1, 2`;

export function countSql(schema: string, name: string): string {
  return `SELECT count(*) AS n FROM ${relation(schema, name)}`;
}

export function sampleSql(schema: string, name: string, pk: readonly string[]): string {
  return `SELECT md5(coalesce(string_agg(t::text, E'\\n'), '')) AS md5, count(*) AS n FROM (SELECT * FROM ${relation(schema, name)} ORDER BY ${pk.map(quoteIdent).join(', ')} LIMIT ${SAMPLE_ROWS}) t`;
}

export async function listTables(client: Client): Promise<{ schema: string; name: string; pk: string[] }[]> {
  const { rows } = await client.query<{ schema: string; name: string; pk: string[] | null }>(LIST_TABLES_SQL);
  return rows.map((r) => ({ schema: r.schema, name: r.name, pk: r.pk ?? [] }));
}

/** The facts of every table, on the caller's client (inside the snapshot transaction during a backup). */
export async function tableFacts(client: Client): Promise<TableFacts[]> {
  for (const statement of FINGERPRINT_SETTINGS) await client.query(statement);
  const facts: TableFacts[] = [];
  for (const table of await listTables(client)) {
    const count = await client.query<{ n: string }>(countSql(table.schema, table.name));
    const fact: TableFacts = { schema: table.schema, name: table.name, rows: Number(count.rows[0]!.n), primaryKey: table.pk };
    if (table.pk.length > 0) {
      const sample = await client.query<{ md5: string | null; n: string }>(sampleSql(table.schema, table.name, table.pk));
      fact.sampleMd5 = sample.rows[0]!.md5 ?? undefined;
      fact.sampleRows = Number(sample.rows[0]!.n);
    }
    facts.push(fact);
  }
  return facts;
}

/**
 * A psql script that writes, as JSON lines to `outFile`, the list of tables and the facts of each
 * expected table that exists, using the primary keys recorded at backup time. Run it as a second
 * `-f` of the restoring `psql --single-transaction`: it reads the rows inside the loading
 * transaction, before commit, so it does not have to set hint bits on every page afterwards.
 * Undefined when the metadata predates recorded primary keys (the caller compares afterwards).
 */
export function factsPsqlScript(expected: readonly TableFacts[], outFile: string): string | undefined {
  if (expected.some((t) => t.primaryKey === undefined)) return undefined;
  const lines = ['\\pset format unaligned', '\\pset tuples_only on', ...FINGERPRINT_SETTINGS.map((s) => `${s};`), `\\o ${quoteLiteral(outFile)}`];
  lines.push(`SELECT json_build_object('tables', coalesce(json_agg(json_build_object('schema', schema, 'name', name)), '[]'))::text FROM (${LIST_TABLES_SQL}) x;`);
  for (const t of expected) {
    const rel = relation(t.schema, t.name);
    const sample = t.primaryKey!.length > 0 ? `(SELECT json_build_object('md5', s.md5, 'n', s.n) FROM (${sampleSql(t.schema, t.name, t.primaryKey!)}) s)` : 'NULL';
    const statement = `SELECT json_build_object('schema', ${quoteLiteral(t.schema)}, 'name', ${quoteLiteral(t.name)}, 'rows', (${countSql(t.schema, t.name)}), 'sample', ${sample})::text`;
    // \gexec runs the statement only when the table exists: a missing one is reported, not an error.
    lines.push(`SELECT ${quoteLiteral(statement)} WHERE to_regclass(${quoteLiteral(rel)}) IS NOT NULL \\gexec`);
  }
  lines.push('\\o', '');
  return lines.join('\n');
}

/** Parse `factsPsqlScript`'s output into the facts of the restored tables. */
export function parseFactsOutput(text: string): TableFacts[] {
  const facts = new Map<string, TableFacts>();
  for (const line of text.split('\n').filter((l) => l.trim().startsWith('{'))) {
    const record = JSON.parse(line) as { tables?: { schema: string; name: string }[]; schema?: string; name?: string; rows?: number; sample?: { md5: string | null; n: number } | null };
    if (record.tables) {
      for (const t of record.tables) if (!facts.has(`${t.schema}.${t.name}`)) facts.set(`${t.schema}.${t.name}`, { schema: t.schema, name: t.name, rows: -1 });
    } else if (record.schema !== undefined && record.name !== undefined) {
      const fact: TableFacts = { schema: record.schema, name: record.name, rows: Number(record.rows) };
      if (record.sample) {
        fact.sampleMd5 = record.sample.md5 ?? undefined;
        fact.sampleRows = Number(record.sample.n);
      }
      facts.set(`${record.schema}.${record.name}`, fact);
    }
  }
  return [...facts.values()];
}
