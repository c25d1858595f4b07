/**
 * A loaded table made searchable: a Map from key text to row for exact lookups, and a CIDR trie
 * from address blocks to rows for longest-prefix lookups. Rows stay arrays in column order; the
 * generated record code (enrich-plan.ts) reads the columns it copies by index.
 *
 * Keys are compared as text: a record value that is a number (a port, say) matches the cell
 * "443". When two rows share a key or a CIDR block, the first row wins and the duplicate is
 * counted (two VPCs may legitimately reuse 10.0.0.0/16; a lookup by address cannot tell them
 * apart, so say which one you mean by ordering the table).
 */
import { SluiceError } from '../../core/errors.js';
import { CidrTrie, parseCidr } from './cidr-trie.js';
import type { EnrichTableConfig } from './config.js';
import type { LoadedTable } from './loaded-table.js';

export class LookupIndex {
  constructor(
    readonly columns: readonly string[],
    readonly rows: readonly unknown[][],
    readonly keys: Map<string, unknown[]> | null,
    readonly cidr: CidrTrie | null,
    /** Rows whose key or CIDR block was already taken by an earlier row. */
    readonly duplicates: number,
  ) {}

  /** The row whose key equals the value (compared as text), or undefined. */
  byKey(value: unknown): unknown[] | undefined {
    return this.keys!.get(typeof value === 'string' ? value : String(value));
  }

  /** The row of the longest CIDR block containing the address, or undefined (also when the value is not an address). */
  byAddress(value: unknown): unknown[] | undefined {
    if (typeof value !== 'string') return undefined;
    const index = this.cidr!.lookup(value);
    return index < 0 ? undefined : this.rows[index];
  }

  /** The row of the longest IPv4 block containing the address (an unsigned 32-bit integer), or undefined. */
  byIpv4(address: number): unknown[] | undefined {
    const index = this.cidr!.lookupIpv4(address);
    return index < 0 ? undefined : this.rows[index];
  }

  /** By address when the value is one inside a block, else by key. */
  byAddressOrKey(value: unknown): unknown[] | undefined {
    return this.byAddress(value) ?? this.keys!.get(typeof value === 'string' ? value : String(value));
  }
}

/** The CIDR columns of a table config, as a list. */
export function cidrColumnsOf(table: EnrichTableConfig): string[] {
  return table.cidr === undefined ? [] : typeof table.cidr === 'string' ? [table.cidr] : table.cidr;
}

/**
 * Builds the index of a loaded table, checking that the columns the config names exist and that
 * every CIDR cell is a CIDR block or an address.
 */
export function buildLookupIndex(name: string, table: EnrichTableConfig, loaded: LoadedTable): LookupIndex {
  const columnIndex = (column: string, role: string): number => {
    const index = loaded.columns.indexOf(column);
    if (index < 0) {
      throw new SluiceError(
        `enrich table "${name}": ${role} column "${column}" is not in the table (columns: ${loaded.columns.join(', ') || 'none'})`,
        { code: 'ENRICH_TABLE_COLUMN', stage: 'transform', hint: `fix \`${role}\` in the pipeline file, or the table's header` },
      );
    }
    return index;
  };
  if (table.fields !== undefined) {
    for (const column of Array.isArray(table.fields) ? table.fields : Object.keys(table.fields)) columnIndex(column, 'fields');
  }

  let duplicates = 0;
  let keys: Map<string, unknown[]> | null = null;
  if (table.key !== undefined) {
    const k = columnIndex(table.key, 'key');
    keys = new Map();
    for (const row of loaded.rows) {
      const value = row[k];
      if (value === null || value === undefined) continue;
      const text = typeof value === 'string' ? value : String(value);
      if (keys.has(text)) duplicates++;
      else keys.set(text, row);
    }
  }

  let cidr: CidrTrie | null = null;
  const cidrColumns = cidrColumnsOf(table);
  if (cidrColumns.length > 0) {
    cidr = new CidrTrie();
    const indexes = cidrColumns.map((column) => columnIndex(column, 'cidr'));
    loaded.rows.forEach((row, r) => {
      indexes.forEach((c, i) => {
        const cell = row[c];
        if (cell === null || cell === undefined) return;
        const text = typeof cell === 'string' ? cell.trim() : undefined;
        const parsed = text === undefined || text === '' ? undefined : parseCidr(text);
        if (!parsed) {
          throw new SluiceError(
            `enrich table "${name}": ${loaded.describeRow(r)}, column ${cidrColumns[i]}: ${JSON.stringify(cell)} is not a CIDR block or IP address`,
            {
              code: 'ENRICH_TABLE_BAD_CIDR',
              stage: 'transform',
              hint: 'write blocks as 10.0.0.0/16 or 2001:db8::/32 (or a single address); leave the cell empty for a row without one',
            },
          );
        }
        if (!cidr!.insertParsed(parsed, r)) duplicates++;
      });
    });
  }
  return new LookupIndex(loaded.columns, loaded.rows, keys, cidr, duplicates);
}
