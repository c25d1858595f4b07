/**
 * The mapping engine's contract: a mapping turns one record into one OCSF event of a known
 * class, or says why it cannot. Mappings are typed functions (the built-ins, written for speed:
 * one object literal per event, no schema walking per record) or compiled declarative specs
 * (see declarative-mapping.ts); the transform (index.ts) only sees this interface.
 */
import type { SluiceRecord } from '../../core/record.js';

/** An OCSF event as a plain object. Attributes set to `undefined` count as absent. */
export type OcsfEvent = Record<string, unknown>;

/** Why a record cannot become an event; the transform turns it into a dead letter. */
export class MappingFailure {
  constructor(
    /** Stable code for counting and dead letters (`OCSF_BAD_VALUE`, ...). */
    readonly code: string,
    /** Human explanation without the line (the transform prefixes `line N: `). */
    readonly reason: string,
  ) {}
}

export const OCSF_REJECT_CODES = {
  /** A field has a value the target attribute cannot hold (a non-numeric port, ...). */
  badValue: 'OCSF_BAD_VALUE',
  /** The record lacks what the class requires (no time, no endpoint). */
  missingRequired: 'OCSF_MISSING_REQUIRED',
  /** The mapping threw: a bug or an input shape it does not expect. */
  mappingError: 'OCSF_MAPPING_ERROR',
} as const;

export interface OcsfMappingOptions {
  /** The OCSF version to emit (`metadata.version`). */
  version: string;
  /** Add `observables` (IPs and instance ids), as Security Lake does. */
  observables: boolean;
  /** Add the datetime profile's `*_dt` attributes (RFC 3339 strings, UTC). */
  datetime: boolean;
}

export interface OcsfMapping {
  /** As written in the config (`builtin:vpcflow`). */
  readonly name: string;
  /** Classes this mapping emits. */
  readonly classUids: readonly number[];
  /** OCSF versions this mapping can emit. */
  readonly versions: readonly string[];
  map(record: SluiceRecord): OcsfEvent | MappingFailure;
  /**
   * Required attributes this mapping knowingly leaves out of some events (documented per
   * mapping), for the validator's `allowMissing`. Undefined or empty for a complete event.
   */
  acceptedGaps?(event: OcsfEvent): readonly string[] | undefined;
}
