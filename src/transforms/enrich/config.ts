/**
 * The `enrich` transform's configuration. How tables are applied to records is described in
 * index.ts; this file holds the schema (which also drives `sluice validate` and the editor JSON
 * Schema) and the resolution of table paths against the pipeline file's folder.
 */
import path from 'node:path';
import { z } from 'zod';

const columnName = z.string().min(1);
const fieldName = z.string().min(1);

const tableSchema = z
  .strictObject({
    file: z
      .string()
      .min(1)
      .optional()
      .describe('CSV or JSON file holding the table (relative paths are relative to the pipeline file). Give either `file` or `sql`.'),
    format: z
      .enum(['csv', 'json', 'ndjson'])
      .optional()
      .describe('How `file` is written; default from its extension (.csv/.tsv, .json = an array or one object per line, .ndjson/.jsonl).'),
    delimiter: z.string().length(1).optional().describe('Field delimiter of a CSV file (default "," or a tab for .tsv).'),
    sql: z.string().min(1).optional().describe('SQL query whose result is the table, run once when the transform opens (and on refresh).'),
    url: z
      .string()
      .min(1)
      .optional()
      .describe(
        'Database for `sql`: postgres://…, mysql://… (MySQL/MariaDB), sqlite:PATH or a SQLite file path; or a secret reference (env:NAME, file:PATH, aws-secretsmanager:ID, aws-ssm:NAME) holding one of those.',
      ),
    key: columnName.optional().describe('Column matched exactly against a record field (ids: interface_id, subnet_id, vpc_id, instance_id…).'),
    cidr: z
      .union([columnName, z.array(columnName).min(1)])
      .optional()
      .describe('Column(s) holding CIDR blocks or single addresses (IPv4 or IPv6), matched by longest prefix against address fields. Empty cells are skipped.'),
    on: z
      .union([fieldName, z.array(fieldName).min(1)])
      .optional()
      .describe('Record field(s) looked up exactly against `key`; outputs take `prefix` alone. Replaces the default lookups.'),
    match: z
      .record(fieldName, z.string())
      .optional()
      .describe(
        'Record field -> output prefix, e.g. { srcaddr: src, dstaddr: dst }: each field is looked up (by CIDR when the table has `cidr`, then by `key`) and the outputs are named <prefix>_<column>. Replaces the default lookups.',
      ),
    prefix: z.string().optional().describe('Prefix for every output field of this table (joined with "_"), after the src_/dst_ side prefix.'),
    fields: z
      .union([z.array(columnName).min(1), z.record(columnName, fieldName)])
      .optional()
      .describe('Columns to copy into records: a list, or { column: output_name }. Default: every column except the `cidr` columns (and the `key` column for lookups by key).'),
    refreshSeconds: z
      .number()
      .positive()
      .optional()
      .describe('Reload the table this often while the transform is open (long-running modes); a failed reload keeps the previous table.'),
  })
  .superRefine((table, ctx) => {
    const problem = (message: string) => ctx.addIssue({ code: 'custom', message });
    if ((table.file === undefined) === (table.sql === undefined)) problem('a table needs either `file` or `sql` (with `url`), not both');
    if (table.sql !== undefined && table.url === undefined) problem('`sql` needs `url`, the database to run it against');
    if (table.file !== undefined && table.url !== undefined) problem('`url` goes with `sql`; a `file` table needs no url');
    if (table.sql !== undefined && (table.format !== undefined || table.delimiter !== undefined)) problem('`format` and `delimiter` describe a `file`, not a query');
    if (table.key === undefined && table.cidr === undefined) problem('a table needs `key` (exact lookups), `cidr` (longest-prefix lookups) or both');
    if (table.on !== undefined && table.key === undefined) problem('`on` looks fields up against `key`; add `key`');
  })
  .describe('One lookup table: where its rows come from, how records find a row, and which columns are copied.');

export const enrichTransformSchema = z
  .strictObject({
    type: z.literal('enrich'),
    tables: z
      .record(z.string().min(1), tableSchema)
      .refine((tables) => Object.keys(tables).length > 0, 'name at least one table')
      .describe('Lookup tables by name, applied in the order written: a table can look up a field an earlier one added.'),
    refreshSeconds: z.number().positive().optional().describe('Default `refreshSeconds` for tables that do not set their own.'),
  })
  .describe('Adds friendly names (and any other columns) from lookup tables to records: exact keys and longest-prefix CIDR matches.');

export type EnrichTransformConfig = z.output<typeof enrichTransformSchema>;
export type EnrichTableConfig = z.output<typeof tableSchema>;

/**
 * Makes the table paths of an enrich transform absolute, given how the pipeline resolves a
 * relative path (against the pipeline file's folder). `url`s are resolved only when given
 * literally as `sqlite:PATH` or a bare file path: a secret reference is resolved when the
 * transform opens, and a relative path read from one is relative to the working directory.
 */
export function resolveEnrichPaths(config: EnrichTransformConfig, resolveLocal: (p: string) => string): EnrichTransformConfig {
  const tables: Record<string, EnrichTableConfig> = {};
  for (const [name, table] of Object.entries(config.tables)) {
    tables[name] = {
      ...table,
      ...(table.file !== undefined ? { file: resolveLocal(table.file) } : {}),
      ...(table.url !== undefined ? { url: resolveSqliteUrl(table.url, resolveLocal) } : {}),
    };
  }
  return { ...config, tables };
}

/** True if `url` has a scheme (`postgres:`, `env:`, `sqlite:`…); a Windows drive letter is not one. */
export function hasScheme(url: string): boolean {
  const colon = url.indexOf(':');
  return colon > 1 && /^[A-Za-z][A-Za-z0-9+.-]*$/.test(url.slice(0, colon));
}

function resolveSqliteUrl(url: string, resolveLocal: (p: string) => string): string {
  if (url.startsWith('sqlite:')) {
    const file = url.slice('sqlite:'.length);
    return file === ':memory:' || path.isAbsolute(file) ? url : `sqlite:${resolveLocal(file)}`;
  }
  return hasScheme(url) ? url : resolveLocal(url);
}
