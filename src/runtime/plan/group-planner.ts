/**
 * Small objects read together: with `source.group`, objects no larger than `maxObjectBytes` are
 * planned as one unit per folder and hour (or day, or folder) instead of one unit each. A day of
 * 100,000 tiny flow-log files then costs 24 units, each reading its objects with many GETs in
 * flight (ordered-reads.ts) and writing a few compacted parts, instead of 100,000 units each with
 * its own fsync'd part and ledger commit. Larger objects stay units of their own.
 *
 * Invariants, the same as the CloudTrail partitions' (partition-planner.ts):
 * - A group's identity is its key (folder + period) plus a version hashed from its sorted object
 *   keys and etags: a group that gains an object (a late delivery, an hour still being written)
 *   is a new unit and is redone whole, writing the same output names (the stem does not depend on
 *   the version), so the newer outputs replace the older ones.
 * - Objects are listed in key order (S3 does, the dir source sorts), so a folder's objects arrive
 *   together: its groups are complete when the listing moves to another folder. A folder seen
 *   again after that would make a second, colliding unit: planning fails loudly instead.
 * - An object whose bytes are broken becomes a file-level dead letter naming it; it does not fail
 *   its group (process-unit.ts treats groups as partitions).
 */
import { z } from 'zod';
import type { UnitPartition } from '../../core/component.js';
import { SluiceError } from '../../core/errors.js';
import type { ObjectRef } from '../../core/record.js';
import { dateFromKey } from '../../core/key-dates.js';
import type { UnitSpec, UnitPayload } from '../ledger/types.js';
import { objectSetVersion, outputStemFor, unitIdFor } from '../ledger/unit-id.js';
import type { GroupOptions } from '../../pipeline/run-config.js';

export type { GroupOptions } from '../../pipeline/run-config.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;


/** Tiny objects in a listing above which an ungrouped plan suggests `source.group`. */
export const TINY_OBJECT_BYTES = 64 * 1024;
export const TINY_OBJECTS_HINT = 1000;

export interface ObjectGrouper {
  /** Takes one listed object; returns the units completed by it (a folder's groups, once the listing left the folder). */
  add(ref: ObjectRef): UnitSpec[];
  /** The units still open at the end of the listing. */
  finish(): UnitSpec[];
}

/**
 * @example
 * const grouper = createObjectGrouper('flows', { by: 'hour', maxObjectBytes: 4 << 20 }, 1);
 * for (const ref of page) specs.push(...grouper.add(ref));
 * specs.push(...grouper.finish());
 */
export function createObjectGrouper(pipeline: string, options: GroupOptions, sinkCount: number): ObjectGrouper {
  const sinks = Array.from({ length: sinkCount }, (_, i) => i);
  let folder: string | undefined;
  let groups = new Map<string, ObjectRef[]>();
  const finishedFolders = new Set<string>();

  const flush = (): UnitSpec[] => {
    const specs: UnitSpec[] = [];
    for (const [period, objects] of groups) specs.push(groupSpec(pipeline, folder!, period, objects, sinks));
    if (folder !== undefined) finishedFolders.add(folder);
    groups = new Map();
    return specs;
  };

  return {
    add(ref) {
      if (ref.size === undefined || ref.size > options.maxObjectBytes) return [objectSpec(pipeline, ref)];
      const refFolder = folderOf(ref.key);
      let done: UnitSpec[] = [];
      if (refFolder !== folder) {
        done = flush();
        if (finishedFolders.has(refFolder)) {
          throw new SluiceError(`source listing returned folder ${refFolder} again after other folders; small objects cannot be grouped safely`, {
            code: 'LISTING_NOT_SORTED',
            stage: 'plan',
            retryable: false,
            hint: 'remove source.group for this source, or list it from a store that returns keys in order (S3, a folder)',
          });
        }
        folder = refFolder;
      }
      const period = periodOf(ref.key, options.by);
      let objects = groups.get(period);
      if (!objects) groups.set(period, (objects = []));
      objects.push(ref);
      return done;
    },
    finish: flush,
  };
}

/** The one-object unit, as planObjectUnits makes it. */
export function objectSpec(pipeline: string, ref: ObjectRef): UnitSpec {
  const id = unitIdFor(pipeline, 'object', ref.key, ref.versionId ?? ref.etag);
  // Outputs are named after the key alone, so a changed object (new etag, new unit) rewrites
  // the outputs of its previous version instead of adding a second copy beside them.
  const payload: UnitPayload = { objects: [ref], outputStem: outputStemFor(ref.key, unitIdFor(pipeline, 'object', ref.key)) };
  return { id, pipeline, kind: 'object', key: ref.key, payload, size: ref.size };
}

function groupSpec(pipeline: string, folder: string, period: string, objects: ObjectRef[], sinks: number[]): UnitSpec {
  objects.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  // `…/2024/03/26/*2024-03-26T13`: the folder and the period, as `status` shows it.
  const key = `${folder}*${period}`;
  const id = unitIdFor(pipeline, 'partition', key, objectSetVersion(objects));
  const aws = /(?:^|\/)AWSLogs\/(?:o-[a-z0-9]+\/)?(\d{12})\/([^/]+)\/([a-z]{2}(?:-[a-z]+)+-\d)\//.exec(folder);
  const partition: UnitPartition = { step: 'day', sinks, account: aws?.[1] ?? '', region: aws?.[3] ?? '', stream: aws?.[2] ?? 'objects', period };
  const payload: UnitPayload = { objects, outputStem: outputStemFor(key, unitIdFor(pipeline, 'partition', key)), partition };
  return { id, pipeline, kind: 'partition', key, payload, size: objects.reduce((n, o) => n + (o.size ?? 0), 0) };
}

function folderOf(key: string): string {
  return key.slice(0, key.lastIndexOf('/') + 1);
}

/** `2024-03-26T13`, `2024-03-26`, or `all` (by folder, or a key with no date). */
function periodOf(key: string, by: GroupOptions['by']): string {
  if (by === 'folder') return 'all';
  const range = dateFromKey(key);
  if (!range) return 'all';
  const iso = new Date(range.start).toISOString();
  if (by === 'hour' && range.end - range.start <= HOUR_MS) return iso.slice(0, 13);
  if (range.end - range.start <= DAY_MS) return iso.slice(0, 10);
  // A month folder (`yyyy/mm/`) with no day: the month.
  return iso.slice(0, 7);
}
