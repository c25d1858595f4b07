/**
 * Lookup tables from a SQL query against SQLite (better-sqlite3), PostgreSQL (pg) or MySQL /
 * MariaDB (mysql2). One connection per load: connect, run the query, read every row, close. The
 * drivers are imported when first needed, so a pipeline without SQL tables never loads them.
 *
 * Secrets: the url may be a reference (env:NAME, file:PATH, aws-secretsmanager:ID, aws-ssm:NAME;
 * see runtime/secrets.ts). No message ever carries the password: urls are shown with it
 * replaced by ***, and the password is also scrubbed from the driver's own error text. A
 * connection that cannot be made within CONNECT_TIMEOUT_MS fails.
 */
import { SluiceError, toSluiceError } from '../../core/errors.js';
import { isSecretRef, redactSecrets, resolveSecretRefAsync } from '../../core/secrets.js';
import { hasScheme } from './config.js';
import type { LoadedTable } from './loaded-table.js';

const CONNECT_TIMEOUT_MS = 10_000;

export interface SqlTableRequest {
  /** Table name, for messages. */
  table: string;
  sql: string;
  /** Literal url or secret reference, as written in the pipeline file. */
  url: string;
}

type Dialect = 'sqlite' | 'postgres' | 'mysql';

/**
 * Runs the query and returns its result as a table.
 *
 * @example
 * await loadSqlTable({ table: 'vpcs', sql: 'select vpc_id, vpc_name from vpcs', url: 'env:INVENTORY_DB' });
 */
export async function loadSqlTable(request: SqlTableRequest): Promise<LoadedTable> {
  const isReference = isSecretRef(request.url);
  const url = (await resolveSecretRefAsync(request.url)).trim();
  const dialect = dialectOf(url);
  if (!dialect) {
    throw new SluiceError(
      `enrich table "${request.table}": cannot tell which database ${isReference ? `${request.url} points to` : `"${maskUrl(url)}" is`}`,
      {
        code: 'ENRICH_SQL_URL',
        stage: 'config',
        hint: 'use postgres://user:password@host:5432/db, mysql://user:password@host:3306/db, sqlite:PATH or a SQLite file path',
      },
    );
  }
  const where = `${maskUrl(url)}${isReference ? ` (from ${request.url})` : ''}`;
  const secrets = passwordsOf(url);
  const scrub = (text: string) => redactSecrets(text, secrets);
  let phase: 'connect' | 'query' = 'connect';
  try {
    const result =
      dialect === 'sqlite'
        ? await querySqlite(sqlitePath(url), request.sql, () => (phase = 'query'))
        : dialect === 'postgres'
          ? await queryPostgres(url, request.sql, () => (phase = 'query'))
          : await queryMysql(url, request.sql, () => (phase = 'query'));
    return { ...result, describeRow: (index) => `${where} query row ${index + 1}` };
  } catch (err) {
    if (err instanceof SluiceError) throw err;
    const cause = toSluiceError(err, 'transform');
    const message = scrub(cause.message || String((err as { code?: string }).code ?? err));
    throw new SluiceError(
      phase === 'connect'
        ? `enrich table "${request.table}": cannot connect to ${where}: ${message}`
        : `enrich table "${request.table}": query failed on ${where}: ${message}`,
      {
        code: phase === 'connect' ? 'ENRICH_SQL_CONNECT' : 'ENRICH_SQL_QUERY',
        stage: 'transform',
        retryable: phase === 'connect' && cause.retryable,
        hint:
          phase === 'connect'
            ? 'check that the database is up and reachable from here, and the user, password and database name in the url'
            : `check the query: ${truncate(request.sql, 200)}`,
      },
    );
  }
}

function dialectOf(url: string): Dialect | undefined {
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) return 'postgres';
  if (url.startsWith('mysql://') || url.startsWith('mariadb://')) return 'mysql';
  if (url.startsWith('sqlite:') || !hasScheme(url)) return 'sqlite';
  return undefined;
}

function sqlitePath(url: string): string {
  if (!url.startsWith('sqlite:')) return url;
  const rest = url.slice('sqlite:'.length);
  return rest.startsWith('//') ? rest.slice(2) : rest;
}

/** The url with its password replaced by ***, for messages. */
export function maskUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):[^@/]*@/i, '$1:***@');
}

/** The password of a url as written (percent-encoded) and decoded: a driver may echo either. */
function passwordsOf(url: string): string[] {
  const match = /^[a-z][a-z0-9+.-]*:\/\/[^:/@]*:([^@/]*)@/i.exec(url);
  if (!match || match[1] === '') return [];
  const raw = match[1]!;
  try {
    const decoded = decodeURIComponent(raw);
    return decoded === raw ? [raw] : [decoded, raw];
  } catch {
    return [raw];
  }
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

/** Turns driver values into what records can carry through JSON: bigint and Date become strings. */
function normalizeValue(value: unknown): unknown {
  if (value === undefined || value === '') return null;
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  return value;
}

function normalizeRows(rows: unknown[][]): unknown[][] {
  for (const row of rows) for (let i = 0; i < row.length; i++) row[i] = normalizeValue(row[i]);
  return rows;
}

type QueryResult = Pick<LoadedTable, 'columns' | 'rows'>;

async function querySqlite(file: string, sql: string, connected: () => void): Promise<QueryResult> {
  const Database = (await import('better-sqlite3')).default;
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    connected();
    const statement = db.prepare(sql);
    if (!statement.reader) throw new Error('the statement returns no rows (is it a SELECT?)');
    const columns = statement.columns().map((c) => c.name);
    // Integers come as bigint so that ids beyond 2^53 stay exact (normalizeValue turns them into text).
    return { columns, rows: normalizeRows(statement.raw(true).safeIntegers(true).all() as unknown[][]) };
  } finally {
    db.close();
  }
}

async function queryPostgres(url: string, sql: string, connected: () => void): Promise<QueryResult> {
  const pg = (await import('pg')).default;
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  // An idle client can emit 'error' (server restart); without a listener that would crash the process.
  client.on('error', () => {});
  try {
    await client.connect();
    connected();
    const result = await client.query({ text: sql, rowMode: 'array' });
    if (!result.fields || result.fields.length === 0) throw new Error('the statement returns no rows (is it a SELECT?)');
    return { columns: result.fields.map((f) => f.name), rows: normalizeRows(result.rows as unknown[][]) };
  } finally {
    await client.end().catch(() => {});
  }
}

async function queryMysql(url: string, sql: string, connected: () => void): Promise<QueryResult> {
  const mysql = await import('mysql2/promise');
  const connection = await mysql.createConnection({ uri: url.startsWith('mariadb://') ? `mysql://${url.slice('mariadb://'.length)}` : url, connectTimeout: CONNECT_TIMEOUT_MS });
  try {
    connected();
    const [rows, fields] = await connection.query({ sql, rowsAsArray: true });
    if (!Array.isArray(fields) || fields.length === 0) throw new Error('the statement returns no rows (is it a SELECT?)');
    return { columns: fields.map((f) => f.name), rows: normalizeRows(rows as unknown as unknown[][]) };
  } finally {
    await connection.end().catch(() => {});
  }
}
