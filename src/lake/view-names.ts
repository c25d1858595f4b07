/**
 * The lake's view names, apart from the catalog so that `sluice query --help` can list them
 * without loading DuckDB.
 */

/** View names of the OCSF classes Sluice writes (others become `class_<uid>`). */
export const CLASS_VIEWS: Readonly<Record<string, string>> = {
  '3001': 'account_change',
  '3002': 'authentication',
  '4001': 'network_activity',
  '4002': 'http_activity',
  '4003': 'dns_activity',
  '6003': 'api_activity',
  unknown: 'unclassified',
};

/** What `sluice query --help` says about the views a lake can have (and only those). */
export function describeViewNaming(): string {
  const classes = Object.entries(CLASS_VIEWS)
    .filter(([uid]) => uid !== 'unknown')
    .map(([uid, name]) => `  ${name} (OCSF class ${uid}),`);
  return [
    'Views: one per OCSF class found in the lake, named',
    ...classes,
    '  class_<uid> for other classes, unclassified for class-less OCSF files;',
    '  and for flat (non-OCSF) Parquet files one per folder under the lake, named after it',
    '  (flows for files at the top of the lake or in its date folders).',
    'A view exists only when the lake holds its files: run `sluice query` without SQL to list',
    "this lake's views with their row counts and columns.",
  ].join('\n');
}
