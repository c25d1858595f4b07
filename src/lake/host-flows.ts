/**
 * "All flows of one IP" over a lake view, asked so that DuckDB can skip row groups.
 *
 * `WHERE src_endpoint.ip = $ip OR dst_endpoint.ip = $ip` is the natural question, but DuckDB
 * pushes into the Parquet scan only filters on one column: an OR over two columns is evaluated
 * after reading every row. The same rows come from two single-column branches, the second
 * excluding the first's rows (`IS DISTINCT FROM`, so a NULL source address still counts once):
 * each branch is a filtered scan that skips row groups by min/max and dictionary, which on a
 * compacted lake (rows sorted by endpoint pair, see compact.ts) leaves a few row groups to read.
 * Each branch lists only the columns asked for: a `SELECT *` under a UNION would make DuckDB read
 * whole structs (every endpoint field) instead of the one field wanted.
 *
 * The address is a bound parameter (`$ip` by default); the SQL pieces passed in are the caller's
 * own constants (column expressions, a partition filter), never user input.
 */

export interface HostFlowsQuery {
  /** The view (e.g. `network_activity`). */
  view: string;
  /** Column expressions to return, as in a SELECT list. */
  columns: readonly string[];
  /** More conditions ANDed into both branches (a partition or time filter), or none. */
  where?: string;
  /** The parameter holding the address (default `$ip`). */
  parameter?: string;
}

/**
 * @example
 * hostFlowsSql({ view: 'network_activity', columns: ['time', 'dst_endpoint.ip'], where: "eventDay = '20240501'" })
 * // SELECT time, dst_endpoint.ip FROM "network_activity" WHERE src_endpoint.ip = $ip AND (eventDay = '20240501')
 * // UNION ALL SELECT … WHERE dst_endpoint.ip = $ip AND src_endpoint.ip IS DISTINCT FROM $ip AND (…)
 */
export function hostFlowsSql(query: HostFlowsQuery): string {
  const ip = query.parameter ?? '$ip';
  const list = query.columns.join(', ');
  const extra = query.where ? ` AND (${query.where})` : '';
  const from = `"${query.view.replaceAll('"', '""')}"`;
  return `SELECT ${list} FROM ${from} WHERE src_endpoint.ip = ${ip}${extra}
    UNION ALL
    SELECT ${list} FROM ${from} WHERE dst_endpoint.ip = ${ip} AND src_endpoint.ip IS DISTINCT FROM ${ip}${extra}`;
}
