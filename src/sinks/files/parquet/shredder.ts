/**
 * Shreds records into Parquet leaf columns (values plus definition/repetition levels), one row
 * group at a time. This is the per-record hot path of the Parquet sink.
 *
 * Invariants:
 * - One pass per record over the compiled schema (Dremel's algorithm specialised to what the
 *   schema allows: structs at any depth, lists that do not nest lists, so repetition levels are
 *   0 or 1). Every leaf gets exactly one level entry per record, or per list element (at least
 *   one per record) under a list.
 * - Values are kept compactly, nulls only as levels: numbers in a Float64Array (int64 values
 *   are exact integers below 2^63 in magnitude, which a double holds exactly when it is one),
 *   booleans in a Uint8Array, strings and JSON texts interned in a per-row-group dictionary
 *   (Map) with one Int32 index per value, unless the column is mostly distinct (see
 *   `LeafColumn.interning`). Interning is what makes dictionary encoding free at flush time and
 *   keeps one copy of each repeated string in memory.
 * - Nothing is lost: a value that does not fit its column (another kind, a key the schema does
 *   not have, a list with a misfit element) is written as null in its column(s) and recorded
 *   under its dotted path in the record's `_overflow` JSON object. A list fits or not as a
 *   whole: a misfit element sends the whole list to `_overflow`.
 * - A record either lands in every leaf or in none: when a JSON text cannot be made (a circular
 *   structure), the walk finishes with nulls, then every leaf is truncated back to where it was
 *   before the record and the record is reported as unserializable.
 * - Memory is bounded by the caller flushing the row group: `estimatedBytes` grows with rows
 *   (fixed bytes per leaf value) and with the distinct strings interned.
 */
import type { SchemaElement } from 'hyparquet';
import { SluiceError } from '../../../core/errors.js';
import type { SluiceRecord } from '../../../core/record.js';
import { isStructLike, OVERFLOW_COLUMN, toSchemaElements, type ParquetField, type ParquetLeafType } from './schema.js';

const INITIAL_CAPACITY = 1024;
/** Per-value memory of a leaf (level byte, value slot), used for the row-group byte bound. */
const BYTES_PER_LEAF_VALUE = 13;
const INT64_LIMIT = 2 ** 63;
/** Values after which a string column that is mostly distinct so far stops interning (see stopInterning). */
const INTERNING_CHECK = 4096;

const EMPTY_BYTES = new Uint8Array(0);
const EMPTY_INT32S = new Int32Array(0);
const EMPTY_FLOAT64S = new Float64Array(0);
/** Bytes of column buffers kept for reuse per thread: about two parts' worth of OCSF columns at 65,536 rows. */
const MAX_POOLED_BYTES = 96 * 1024 * 1024;

/**
 * Column buffers of finished parts, reused by the parts opened after them on the same thread.
 * A part's columns grow from 1,024 values to a row group's size by doubling, and a new part used
 * to start over: for an OCSF schema (~95 leaves) that is ~40 MB of typed arrays allocated,
 * copied and dropped per part, which measured as half the shredding time of a 40,000-record part
 * (the external memory also triggers full garbage collections). Buffers hold no state between
 * uses: levels and values are always written before they are read. They come back in any size:
 * whoever takes two that must hold the same entries (a list leaf's levels) sizes them itself.
 */
class ColumnBufferPool {
  private readonly byteArrays: Uint8Array[] = [];
  private readonly int32Arrays: Int32Array[] = [];
  private readonly float64Arrays: Float64Array[] = [];
  private pooledBytes = 0;

  bytes(): Uint8Array {
    return this.take(this.byteArrays) ?? new Uint8Array(INITIAL_CAPACITY);
  }

  int32s(): Int32Array {
    return this.take(this.int32Arrays) ?? new Int32Array(INITIAL_CAPACITY);
  }

  float64s(): Float64Array {
    return this.take(this.float64Arrays) ?? new Float64Array(INITIAL_CAPACITY);
  }

  give(buffer: Uint8Array | Int32Array | Float64Array): void {
    if (buffer.length === 0 || this.pooledBytes + buffer.byteLength > MAX_POOLED_BYTES) return;
    this.pooledBytes += buffer.byteLength;
    if (buffer instanceof Uint8Array) this.byteArrays.push(buffer);
    else if (buffer instanceof Int32Array) this.int32Arrays.push(buffer);
    else this.float64Arrays.push(buffer);
  }

  private take<T extends Uint8Array | Int32Array | Float64Array>(list: T[]): T | undefined {
    const buffer = list.pop();
    if (buffer !== undefined) this.pooledBytes -= buffer.byteLength;
    return buffer;
  }
}

const columnBuffers = new ColumnBufferPool();

/** The buffered values of one leaf column for the current row group. */
export class LeafColumn {
  /** Level entries (values and nulls). */
  levelCount = 0;
  defLevels: Uint8Array;
  /** Only for leaves under a list (maxRep 1). */
  repLevels: Uint8Array | undefined;
  /** Non-null values. */
  valueCount = 0;
  /** int64, timestamp (epoch ms), double. */
  numbers: Float64Array | undefined;
  /** boolean, 0 or 1. */
  flags: Uint8Array | undefined;
  /**
   * string, json: whether values are interned (dictionary + indexes) or kept as they come. A
   * column starts interning (the id column does not: ids are unique); one whose row group
   * turned out mostly distinct stops for the rest of the part, since interning costs a hash
   * lookup per value and dictionary encoding would not be chosen anyway.
   */
  interning: boolean;
  /** Interning: index into `dictionary` per value. */
  indexes: Int32Array | undefined;
  /** Interning: distinct values of this row group, in order of first appearance. */
  dictionary: string[] = [];
  private readonly dictionaryIndex = new Map<string, number>();
  /** Interning: the previous value and its index (neighbouring records often repeat a value). */
  private lastString: string | undefined;
  private lastIndex = 0;
  /** Not interning: the values. */
  strings: string[] = [];
  /** UTF-16 length of the strings held (distinct ones when interning), for the memory bound. */
  stringChars = 0;

  constructor(
    /** Path from the root (names of groups and the leaf), as Parquet's path_in_schema. */
    readonly path: readonly string[],
    readonly element: SchemaElement,
    readonly type: ParquetLeafType,
    readonly maxDef: number,
    readonly maxRep: number,
    interning = true,
  ) {
    this.interning = interning;
    const levels = columnBuffers.bytes();
    if (maxRep > 0) {
      // Pooled buffers come in every size, and a level is written after checking the definition
      // levels' length only: the repetition levels take the longer buffer, or the levels past the
      // shorter one's end would be dropped (typed arrays ignore writes out of bounds), making the
      // file depend on what the thread wrote before, and its lists unreadable.
      const other = columnBuffers.bytes();
      this.defLevels = levels.length <= other.length ? levels : other;
      this.repLevels = levels.length <= other.length ? other : levels;
    } else {
      this.defLevels = levels;
    }
    if (type === 'string' || type === 'json') this.indexes = columnBuffers.int32s();
    else if (type === 'boolean') this.flags = columnBuffers.bytes();
    else this.numbers = columnBuffers.float64s();
  }

  /**
   * Hands the buffers to the next part on this thread (see ColumnBufferPool). The column must
   * not be used afterwards; if it were, it would start over with fresh buffers.
   */
  release(): void {
    columnBuffers.give(this.defLevels);
    if (this.repLevels !== undefined) columnBuffers.give(this.repLevels);
    if (this.indexes !== undefined) columnBuffers.give(this.indexes);
    if (this.flags !== undefined) columnBuffers.give(this.flags);
    if (this.numbers !== undefined) columnBuffers.give(this.numbers);
    this.defLevels = EMPTY_BYTES;
    this.repLevels = this.repLevels === undefined ? undefined : EMPTY_BYTES;
    this.indexes = this.indexes === undefined ? undefined : EMPTY_INT32S;
    this.flags = this.flags === undefined ? undefined : EMPTY_BYTES;
    this.numbers = this.numbers === undefined ? undefined : EMPTY_FLOAT64S;
    this.levelCount = 0;
    this.valueCount = 0;
    this.dictionary = [];
    this.dictionaryIndex.clear();
    this.lastString = undefined;
    this.strings = [];
  }

  pushNull(rep: number, def: number): void {
    const at = this.levelCount;
    if (at === this.defLevels.length) this.growLevels();
    this.defLevels[at] = def;
    if (this.repLevels !== undefined) this.repLevels[at] = rep;
    this.levelCount = at + 1;
  }

  pushNumber(rep: number, value: number): void {
    this.pushNull(rep, this.maxDef);
    const at = this.valueCount;
    if (at === this.numbers!.length) this.numbers = grow(this.numbers!);
    this.numbers![at] = value;
    this.valueCount = at + 1;
  }

  pushFlag(rep: number, value: boolean): void {
    this.pushNull(rep, this.maxDef);
    const at = this.valueCount;
    if (at === this.flags!.length) this.flags = grow(this.flags!);
    this.flags![at] = value ? 1 : 0;
    this.valueCount = at + 1;
  }

  pushString(rep: number, value: string): void {
    this.pushNull(rep, this.maxDef);
    const at = this.valueCount;
    if (at === INTERNING_CHECK && this.interning && this.dictionary.length * 2 > at) this.stopInterning();
    this.valueCount = at + 1;
    if (!this.interning) {
      this.strings[at] = value;
      this.stringChars += value.length;
      return;
    }
    let index: number;
    if (value === this.lastString) {
      index = this.lastIndex;
    } else {
      const known = this.dictionaryIndex.get(value);
      if (known === undefined) {
        index = this.dictionary.length;
        this.dictionary.push(value);
        this.dictionaryIndex.set(value, index);
        this.stringChars += value.length;
      } else {
        index = known;
      }
      this.lastString = value;
      this.lastIndex = index;
    }
    if (at === this.indexes!.length) this.indexes = grow(this.indexes!);
    this.indexes![at] = index;
  }

  /**
   * Switches a column that turned out mostly distinct (record ids, timestamps as text) to plain
   * values before its row group is full: a Map of tens of thousands of unique strings costs more
   * than all the rest of the column, and the encoder would not choose the dictionary anyway
   * (encodeInternedStrings makes the same decision, with the same threshold, at flush).
   */
  private stopInterning(): void {
    const dictionary = this.dictionary;
    const indexes = this.indexes!;
    let chars = 0;
    for (let i = 0; i < this.valueCount; i++) {
      const text = dictionary[indexes[i]!]!;
      this.strings[i] = text;
      chars += text.length;
    }
    this.stringChars = chars;
    this.interning = false;
    this.dictionary = [];
    this.dictionaryIndex.clear();
    this.lastString = undefined;
  }

  /** Drops the level entries (and their values) from `levelCount` on. */
  truncate(levelCount: number): void {
    let values = 0;
    for (let i = levelCount; i < this.levelCount; i++) if (this.defLevels[i] === this.maxDef) values++;
    this.levelCount = levelCount;
    this.valueCount -= values;
  }

  /** Empties the column for the next row group (buffers are kept and reused). */
  reset(): void {
    this.levelCount = 0;
    this.valueCount = 0;
    this.dictionary = [];
    this.dictionaryIndex.clear();
    this.lastString = undefined;
    this.strings.length = 0;
    this.stringChars = 0;
  }

  /** Keeps the repetition levels at least as long as the definition levels (see the constructor). */
  private growLevels(): void {
    this.defLevels = grow(this.defLevels);
    if (this.repLevels !== undefined && this.repLevels.length < this.defLevels.length) this.repLevels = grow(this.repLevels);
  }
}

function grow<T extends Float64Array | Uint8Array | Int32Array>(array: T): T {
  const bigger = new (array.constructor as new (length: number) => T)(Math.max(INITIAL_CAPACITY, array.length * 2));
  bigger.set(array);
  return bigger;
}

// Compiled schema nodes. `nullDef` is the definition level written when this node is null
// while its parent is present; present leaves write `nullDef + 1` (their maxDef).
const LEAF = 0;
const STRUCT = 1;
const LIST = 2;

interface LeafNode {
  kind: typeof LEAF;
  name: string;
  path: string;
  nullDef: number;
  leaf: LeafColumn;
  type: ParquetLeafType;
  leaves: LeafColumn[];
}

interface StructNode {
  kind: typeof STRUCT;
  name: string;
  path: string;
  nullDef: number;
  names: string[];
  children: SchemaNode[];
  known: Set<string>;
  leaves: LeafColumn[];
}

interface ListNode {
  kind: typeof LIST;
  name: string;
  path: string;
  nullDef: number;
  element: LeafNode | StructNode;
  leaves: LeafColumn[];
}

type SchemaNode = LeafNode | StructNode | ListNode;

/**
 * Turns records into leaf columns following one schema.
 *
 * @example
 * const shredder = new RecordShredder(fields, '_id');
 * shredder.add(record);            // throws SINK_RECORD_UNSERIALIZABLE, changing nothing, for a circular value
 * for (const leaf of shredder.leaves) encode(leaf);
 * shredder.reset();
 */
export class RecordShredder {
  /** Leaf columns in schema order (the order of column chunks in a row group). */
  readonly leaves: LeafColumn[] = [];
  /** The file's schema elements. */
  readonly schema: SchemaElement[];
  /** Records in the current row group. */
  rows = 0;
  private readonly root: StructNode;
  private readonly idLeaf: LeafColumn | undefined;
  private readonly overflowLeaf: LeafColumn;
  /** Leaves under a list: their level counts are saved before each record, for rollback. */
  private readonly repeatedLeaves: LeafColumn[];
  private readonly repeatedStart: Int32Array;
  /** The current record's misfits, by dotted path. */
  private overflow: Record<string, unknown> | undefined;
  /** The first error making the current record unserializable. */
  private failure: Error | undefined;
  /** Writes a record's fields into the leaves (generated for the schema, see compileRecordWriter). */
  private readonly writeFields: (fields: Record<string, unknown>) => void;

  /** `compile: false` keeps the generic walk for every record (the tests compare both). */
  constructor(fields: readonly ParquetField[], idColumn: string | undefined, options: { compile?: boolean } = {}) {
    const elements = toSchemaElements(fields, idColumn);
    this.schema = elements;
    // Leaves are created in schema order, walking `elements` alongside (depth-first, root first).
    let next = 1;
    if (idColumn !== undefined) this.idLeaf = this.addLeaf([idColumn], 'string', 1, 0, elements[next++]!, false);
    const compile = (field: ParquetField, parentPath: string[], nullDef: number, rep: number): SchemaNode => {
      const path = [...parentPath, field.name];
      const dotted = path.join('.');
      if (field.kind === 'leaf') {
        const leaf = this.addLeaf(path, field.type, nullDef + 1, rep, elements[next++]!);
        return { kind: LEAF, name: field.name, path: dotted, nullDef, leaf, type: field.type, leaves: [leaf] };
      }
      if (field.kind === 'struct') {
        next += 1;
        const children = field.fields.map((child) => compile(child, path, nullDef + 1, rep));
        return {
          kind: STRUCT,
          name: field.name,
          path: dotted,
          nullDef,
          names: field.fields.map((child) => child.name),
          children,
          known: new Set(field.fields.map((child) => child.name)),
          leaves: children.flatMap((child) => child.leaves),
        };
      }
      next += 2; // the LIST group and its repeated `list` group
      const element = compile({ ...field.element, name: 'element' }, [...path, 'list'], nullDef + 2, 1) as LeafNode | StructNode;
      return { kind: LIST, name: field.name, path: dotted, nullDef, element, leaves: element.leaves };
    };
    const children = fields.map((field) => compile(field, [], 0, 0));
    this.root = {
      kind: STRUCT,
      name: '',
      path: '',
      nullDef: 0,
      names: fields.map((field) => field.name),
      children,
      known: new Set(fields.map((field) => field.name)),
      leaves: children.flatMap((child) => child.leaves),
    };
    this.overflowLeaf = this.addLeaf([OVERFLOW_COLUMN], 'json', 1, 0, elements[next++]!);
    if (next !== elements.length) throw new Error(`parquet schema walk out of step: ${next} of ${elements.length} elements`);
    this.repeatedLeaves = this.leaves.filter((leaf) => leaf.maxRep > 0);
    this.repeatedStart = new Int32Array(this.repeatedLeaves.length);
    this.writeFields =
      (options.compile ?? true) && this.leaves.length <= MAX_COMPILED_LEAVES
        ? compileRecordWriter(this.root, this.leaves, this)
        : (fields) => this.writeStruct(this.root, fields, 0);
  }

  /** Memory held by the buffered row group, roughly, in bytes. */
  get estimatedBytes(): number {
    let chars = 0;
    for (const leaf of this.leaves) chars += leaf.stringChars;
    return this.rows * this.leaves.length * BYTES_PER_LEAF_VALUE + chars * 2;
  }

  /**
   * Adds one record as one row. Throws a SluiceError `SINK_RECORD_UNSERIALIZABLE` (leaving the
   * columns as they were) when a value meant for a JSON column cannot be written as JSON.
   */
  add(record: SluiceRecord): void {
    const repeated = this.repeatedLeaves;
    for (let i = 0; i < repeated.length; i++) this.repeatedStart[i] = repeated[i]!.levelCount;
    this.overflow = undefined;
    this.failure = undefined;
    this.idLeaf?.pushString(0, record.id);
    this.writeFields(record.fields);
    // (Casts: TypeScript keeps the narrowing from the resets above across the calls that set them.)
    const overflow = this.overflow as Record<string, unknown> | undefined;
    if (overflow === undefined) this.overflowLeaf.pushNull(0, 0);
    else this.pushJson(this.overflowLeaf, overflow, 0);
    const failure = this.failure as Error | undefined;
    if (failure !== undefined) {
      this.rollback();
      throw new SluiceError(
        `record ${record.id} (${record.origin.object} line ${record.origin.line}) cannot be written to Parquet: ${failure.message}`,
        {
          code: 'SINK_RECORD_UNSERIALIZABLE',
          stage: 'sink',
          hint: 'a transform produced a value JSON cannot hold (e.g. a circular object); fix the transform',
          cause: failure,
        },
      );
    }
    this.rows += 1;
  }

  /** Empties every column for the next row group. */
  reset(): void {
    for (const leaf of this.leaves) leaf.reset();
    this.rows = 0;
  }

  /** Gives the column buffers to the next shredder on this thread; this one must not be used again. */
  release(): void {
    for (const leaf of this.leaves) leaf.release();
    this.rows = 0;
  }

  private addLeaf(path: string[], type: ParquetLeafType, maxDef: number, maxRep: number, element: SchemaElement, interning = true): LeafColumn {
    const leaf = new LeafColumn(path, element, type, maxDef, maxRep, interning);
    this.leaves.push(leaf);
    return leaf;
  }

  /** The generic walk (lists, and whole schemas too large to compile). */
  writeField(node: SchemaNode, value: unknown, rep: number): void {
    if (value === null || value === undefined) {
      writeNulls(node.leaves, rep, node.nullDef);
    } else if (node.kind === LEAF) {
      this.writeLeaf(node, value, rep);
    } else if (node.kind === STRUCT) {
      if (typeof value === 'object' && isStructLike(value)) {
        this.writeStruct(node, value as Record<string, unknown>, rep);
      } else {
        this.misfit(node.path, value);
        writeNulls(node.leaves, rep, node.nullDef);
      }
    } else if (Array.isArray(value) && listFits(node, value)) {
      this.writeList(node, value, rep);
    } else {
      this.misfit(node.path, value);
      writeNulls(node.leaves, rep, node.nullDef);
    }
  }

  private writeStruct(node: StructNode, object: Record<string, unknown>, rep: number): void {
    const names = node.names;
    const children = node.children;
    let present = 0;
    for (let i = 0; i < names.length; i++) {
      const value = object[names[i]!];
      if (value !== undefined) present++;
      this.writeField(children[i]!, value, rep);
    }
    // A key the schema does not know shows up as more defined keys than known ones found.
    let defined = 0;
    for (const key in object) if (object[key] !== undefined) defined++;
    if (defined !== present) this.unknownKeys(node, object);
  }

  /** Sends the defined keys of `object` that `node` does not know to `_overflow`. */
  unknownKeys(node: StructNode, object: Record<string, unknown>): void {
    for (const key in object) {
      const value = object[key];
      if (value !== undefined && !node.known.has(key)) this.misfit(node.path === '' ? key : `${node.path}.${key}`, value);
    }
  }

  private writeList(node: ListNode, list: readonly unknown[], rep: number): void {
    const element = node.element;
    if (list.length === 0) {
      writeNulls(node.leaves, rep, node.nullDef + 1);
      return;
    }
    for (let i = 0; i < list.length; i++) {
      const itemRep = i === 0 ? rep : 1;
      const item = list[i];
      if (item === null || item === undefined) writeNulls(node.leaves, itemRep, node.nullDef + 2);
      else if (element.kind === LEAF) this.writeLeaf(element, item, itemRep);
      else this.writeStruct(element, item as Record<string, unknown>, itemRep);
    }
  }

  writeLeaf(node: LeafNode, value: unknown, rep: number): void {
    const leaf = node.leaf;
    switch (node.type) {
      case 'string':
        if (typeof value === 'string') return leaf.pushString(rep, value);
        break;
      case 'int64': {
        const n = asInt64(value);
        if (n !== undefined) return leaf.pushNumber(rep, n);
        break;
      }
      case 'double':
        if (typeof value === 'number') return leaf.pushNumber(rep, value);
        break;
      case 'boolean':
        if (typeof value === 'boolean') return leaf.pushFlag(rep, value);
        break;
      case 'timestamp': {
        const ms = asTimestamp(value);
        if (ms !== undefined) return leaf.pushNumber(rep, ms);
        break;
      }
      case 'json':
        return this.pushJson(leaf, value, rep);
    }
    this.misfit(node.path, value);
    leaf.pushNull(rep, node.nullDef);
  }

  private pushJson(leaf: LeafColumn, value: unknown, rep: number): void {
    let text: string | undefined;
    try {
      text = toJsonText(value);
    } catch (err) {
      this.failure ??= err as Error;
    }
    if (text === undefined) leaf.pushNull(rep, leaf.maxDef - 1);
    else leaf.pushString(rep, text);
  }

  /** fits() for one value of one leaf node (for the generated writer's uncommon cases). */
  fitsValue(node: LeafNode, value: unknown): boolean {
    return fits(node, value);
  }

  misfit(path: string, value: unknown): void {
    (this.overflow ??= {})[path] = value;
  }

  /** Takes the current record out of every leaf (each got at least one entry for it). */
  private rollback(): void {
    const repeated = this.repeatedLeaves;
    for (let i = 0; i < repeated.length; i++) repeated[i]!.truncate(this.repeatedStart[i]!);
    for (const leaf of this.leaves) if (leaf.maxRep === 0) leaf.truncate(leaf.levelCount - 1);
  }
}

/** Schemas with more leaves than this use the generic walk (a generated function that big would not be optimised). */
const MAX_COMPILED_LEAVES = 1000;

/**
 * Generates the record walk for one schema as straight-line code: a property load with a
 * constant name per field (so V8 caches each on the records' hidden class), the common
 * kind checked inline, and the leaf's push called directly. Measured on nested OCSF-like events,
 * the generic recursive walk spent about half the shredding time dispatching on node kinds and
 * in megamorphic keyed loads. Uncommon cases (a misfit, bigints, ISO times, JSON, lists) call
 * back into the shredder's generic methods, so both paths write identical levels. Field names
 * and paths enter the code only as JSON string literals.
 */
function compileRecordWriter(root: StructNode, leaves: readonly LeafColumn[], shredder: RecordShredder): (fields: Record<string, unknown>) => void {
  const leafIndex = new Map(leaves.map((leaf, i) => [leaf, i]));
  const nodes: SchemaNode[] = [];
  let counter = 0;
  const ref = (node: SchemaNode) => `N[${nodes.push(node) - 1}]`;
  const leaf = (column: LeafColumn) => `L[${leafIndex.get(column)!}]`;
  const nulls = (node: SchemaNode) => node.leaves.map((column) => `${leaf(column)}.pushNull(0, ${node.nullDef});`).join(' ');

  const helpers: string[] = [];
  const value = (node: SchemaNode, v: string): string => {
    if (node.kind === LIST) return compiledList(node, v) ?? `S.writeField(${ref(node)}, ${v}, 0);`;
    if (node.kind === STRUCT) {
      const present = `p${++counter}`;
      const children = node.children.map((child) => field(child, v, present)).join('\n');
      return `if (typeof ${v} === 'object' && isStructLike(${v})) {
        let ${present} = 0;
        ${children}
        let d = 0;
        for (const k in ${v}) if (${v}[k] !== undefined) d++;
        if (d !== ${present}) S.unknownKeys(${ref(node)}, ${v});
      } else { S.misfit(${JSON.stringify(node.path)}, ${v}); ${nulls(node)} }`;
    }
    const column = leaf(node.leaf);
    const generic = `S.writeLeaf(${ref(node)}, ${v}, 0);`;
    switch (node.type) {
      case 'string':
        return `if (typeof ${v} === 'string') ${column}.pushString(0, ${v}); else ${generic}`;
      case 'int64':
        return `if (typeof ${v} === 'number' && Number.isInteger(${v}) && ${v} < ${INT64_LIMIT} && ${v} >= -${INT64_LIMIT}) ${column}.pushNumber(0, ${v}); else ${generic}`;
      case 'double':
        return `if (typeof ${v} === 'number') ${column}.pushNumber(0, ${v}); else ${generic}`;
      case 'boolean':
        return `if (typeof ${v} === 'boolean') ${column}.pushFlag(0, ${v}); else ${generic}`;
      case 'timestamp':
        return `if (typeof ${v} === 'number' && Number.isSafeInteger(${v})) ${column}.pushNumber(0, ${v}); else ${generic}`;
      case 'json':
        return generic;
    }
  };
  /** An expression: true when `x` (neither null nor undefined) fits leaf `node`, as fits() decides. */
  const leafFits = (node: LeafNode, x: string): string => {
    switch (node.type) {
      case 'string':
        return `typeof ${x} === 'string'`;
      case 'double':
        return `typeof ${x} === 'number'`;
      case 'boolean':
        return `typeof ${x} === 'boolean'`;
      case 'json':
        return 'true';
      case 'int64':
        return `((typeof ${x} === 'number' && Number.isInteger(${x}) && ${x} < ${INT64_LIMIT} && ${x} >= -${INT64_LIMIT}) || S.fitsValue(${ref(node)}, ${x}))`;
      case 'timestamp':
        return `S.fitsValue(${ref(node)}, ${x})`;
    }
  };
  /** Statements writing `x` (known to fit, not null) to leaf `node` at repetition `rep`. */
  const leafWrite = (node: LeafNode, x: string, rep: string): string => {
    const column = leaf(node.leaf);
    switch (node.type) {
      case 'string':
        return `${column}.pushString(${rep}, ${x});`;
      case 'double':
        return `${column}.pushNumber(${rep}, ${x});`;
      case 'boolean':
        return `${column}.pushFlag(${rep}, ${x});`;
      default:
        return `S.writeLeaf(${ref(node)}, ${x}, ${rep});`;
    }
  };
  /**
   * A list of leaves or of flat structs (OCSF observables, metadata.profiles) written inline: the
   * whole-list fit check of listFits, then the writes of writeList, with constant property names
   * instead of the generic walk's per-element dispatch, for-in over `known` and recursion.
   * Deeper element structs keep the generic path. A frozen list of primitives that fitted is
   * remembered: the shared `profiles` array of every OCSF event is then checked once.
   */
  const compiledList = (node: ListNode, v: string): string | undefined => {
    const element = node.element;
    if (element.kind === STRUCT && !element.children.every((child) => child.kind === LEAF)) return undefined;
    const n = ++counter;
    const fit = `fit${n}`;
    const x = `x${n}`;
    const r = `r${n}`;
    let check: string;
    let write: string;
    if (element.kind === LEAF) {
      check = `if (${x} !== null && ${x} !== undefined && !(${leafFits(element, x)})) return false;`;
      write = leafWrite(element, x, r);
    } else {
      const children = element.children as LeafNode[];
      check = `if (${x} === null || ${x} === undefined) continue;
        if (typeof ${x} !== 'object' || !isStructLike(${x})) return false;
        let p = 0;
        ${children.map((child, i) => `const c${i} = ${x}[${JSON.stringify(child.name)}]; if (c${i} !== undefined) { p++; if (c${i} !== null && !(${leafFits(child, `c${i}`)})) return false; }`).join('\n')}
        let d = 0;
        for (const k in ${x}) if (${x}[k] !== undefined) d++;
        if (d !== p) return false;`;
      write = children
        .map((child) => `{ const c = ${x}[${JSON.stringify(child.name)}]; if (c === undefined || c === null) ${leaf(child.leaf)}.pushNull(${r}, ${child.nullDef}); else { ${leafWrite(child, 'c', r)} } }`)
        .join('\n');
    }
    const cacheable = element.kind === LEAF && (element.type === 'string' || element.type === 'double' || element.type === 'boolean');
    helpers.push(`let fitted${n};
      function ${fit}(list) {
        ${cacheable ? `if (list === fitted${n}) return true;` : ''}
        for (let i = 0; i < list.length; i++) { const ${x} = list[i]; ${check} }
        ${cacheable ? `if (Object.isFrozen(list)) fitted${n} = list;` : ''}
        return true;
      }`);
    const columns = node.leaves.map(leaf);
    return `if (Array.isArray(${v}) && ${fit}(${v})) {
        if (${v}.length === 0) { ${columns.map((c) => `${c}.pushNull(0, ${node.nullDef + 1});`).join(' ')} }
        else for (let i = 0; i < ${v}.length; i++) {
          const ${r} = i === 0 ? 0 : 1;
          const ${x} = ${v}[i];
          if (${x} === null || ${x} === undefined) { ${columns.map((c) => `${c}.pushNull(${r}, ${node.nullDef + 2});`).join(' ')} }
          else { ${write} }
        }
      } else { S.misfit(${JSON.stringify(node.path)}, ${v}); ${nulls(node)} }`;
  };
  const field = (node: SchemaNode, object: string, present: string): string => {
    const v = `v${++counter}`;
    // As in writeStruct: a key counts as present unless undefined (null is a present key).
    return `{ const ${v} = ${object}[${JSON.stringify(node.name)}];
      if (${v} === undefined) { ${nulls(node)} }
      else { ${present}++; if (${v} === null) { ${nulls(node)} } else { ${value(node, v)} } } }`;
  };

  const walk = root.children.map((child) => field(child, 'f', 'p0')).join('\n');
  const body = `${helpers.join('\n')}
  return function writeFields(f) {
    let p0 = 0;
    ${walk}
    let d = 0;
    for (const k in f) if (f[k] !== undefined) d++;
    if (d !== p0) S.unknownKeys(R, f);
  };`;
  const make = new Function('S', 'L', 'N', 'R', 'isStructLike', body) as (
    s: RecordShredder,
    l: readonly LeafColumn[],
    n: SchemaNode[],
    r: StructNode,
    isPlain: (value: object) => boolean,
  ) => (fields: Record<string, unknown>) => void;
  return make(shredder, leaves, nodes, root, isStructLike);
}

function writeNulls(leaves: readonly LeafColumn[], rep: number, def: number): void {
  for (let i = 0; i < leaves.length; i++) leaves[i]!.pushNull(rep, def);
}

/** Whether every element of a list fits the list's element type (a list is written whole or not at all). */
function listFits(node: ListNode, list: readonly unknown[]): boolean {
  for (const item of list) if (item !== null && item !== undefined && !fits(node.element, item)) return false;
  return true;
}

function fits(node: SchemaNode, value: unknown): boolean {
  if (value === null || value === undefined) return true;
  if (node.kind === LEAF) {
    switch (node.type) {
      case 'string':
        return typeof value === 'string';
      case 'int64':
        return asInt64(value) !== undefined;
      case 'double':
        return typeof value === 'number';
      case 'boolean':
        return typeof value === 'boolean';
      case 'timestamp':
        return asTimestamp(value) !== undefined;
      case 'json':
        return true;
    }
  }
  if (node.kind === LIST) return false; // lists never sit inside lists
  if (typeof value !== 'object' || !isStructLike(value)) return false;
  const object = value as Record<string, unknown>;
  for (const key in object) if (object[key] !== undefined && !node.known.has(key)) return false;
  for (let i = 0; i < node.names.length; i++) if (!fits(node.children[i]!, object[node.names[i]!])) return false;
  return true;
}

function asInt64(value: unknown): number | undefined {
  if (typeof value === 'number') {
    return Number.isInteger(value) && value < INT64_LIMIT && value >= -INT64_LIMIT ? value : undefined;
  }
  // A bigint is kept only when a double holds it exactly; others go to _overflow as JSON numbers.
  if (typeof value === 'bigint' && value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER)) return Number(value);
  return undefined;
}

/** Epoch ms from an integer (ms), a Date, or an ISO 8601 string (as CloudTrail's eventTime). */
function asTimestamp(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : undefined;
  if (value instanceof Date) {
    const ms = value.getTime();
    return Number.isNaN(ms) ? undefined : ms;
  }
  if (typeof value === 'string') {
    const ms = Date.parse(value);
    return Number.isNaN(ms) ? undefined : ms;
  }
  return undefined;
}

/**
 * JSON text of a value; bigints are written as JSON numbers. Undefined for values JSON has no
 * text for (a function). Throws for a circular structure.
 */
export function toJsonText(value: unknown): string | undefined {
  try {
    return JSON.stringify(value);
  } catch (err) {
    if (!(err instanceof TypeError) || !/BigInt/i.test(err.message)) throw err;
    return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? BIGINT_MARK + v.toString() : v))?.replace(BIGINT_MARKED, '$1');
  }
}

const BIGINT_MARK = '\u0000sluice-bigint:';
const BIGINT_MARKED = /"\\u0000sluice-bigint:(-?\d+)"/g;
