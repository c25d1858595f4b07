/**
 * What every table source (CSV, JSON, SQL) hands to the index builder: column names and rows of
 * values in column order. Empty cells are null. `describeRow` names a row for error messages
 * ("tables/subnets.csv line 7 (row 6)", "query row 12").
 */
export interface LoadedTable {
  columns: string[];
  rows: unknown[][];
  describeRow(index: number): string;
}
