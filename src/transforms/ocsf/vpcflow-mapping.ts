/**
 * `builtin:vpcflow`: VPC (and Transit Gateway) flow log records -> OCSF 1.1.0 Network Activity
 * (class 4001), following what Amazon Security Lake emits for its VPC Flow source version 2 (the
 * AWS-contributed mapping and samples in ocsf/examples, `mappings/markdown/AWS/v1.1.0/VPC
 * Flowlogs`). Records are read by their vpcflow record keys (AWS names with `-` -> `_`).
 *
 * Field by field:
 * - action ACCEPT -> activity 6 Traffic, action_id 1 Allowed, disposition_id 1 Allowed;
 *   REJECT -> activity 5 Refuse, action_id 2 Denied, disposition_id 2 Blocked; `-` -> 0 Unknown
 *   (no disposition); any other value -> 99 Other carrying the value. type_uid = 4001 * 100 +
 *   activity_id. severity_id 1 Informational.
 * - start/end (seconds) -> time = start_time = start * 1000, end_time = end * 1000 (time falls
 *   back to end when start is absent; a record with neither is rejected: OCSF requires time).
 * - version -> metadata.product.version (string); product {name "Amazon VPC", vendor_name "AWS",
 *   feature.name "Flowlogs"}; metadata.version = the configured OCSF version; metadata.uid = the
 *   record id (deterministic, the dedupe key); metadata.profiles [cloud, security_control].
 * - account_id -> cloud.account.uid, region -> cloud.region, az_id -> cloud.zone, provider AWS.
 *   When a record has no account_id or region (the v2 default format has no region), they come
 *   from the object key when it follows AWS's layout (`AWSLogs/<account>/vpcflowlogs/<region>/`
 *   or `<account>_vpcflowlogs_<region>_...`), so the Security Lake layout can partition by them.
 * - srcaddr/dstaddr -> src/dst_endpoint.ip; when pkt_srcaddr/pkt_dstaddr differ (NAT, transit
 *   gateway, ...) the packet-level address is the endpoint's ip and the interface-level one goes
 *   to intermediate_ips. srcport/dstport -> port; pkt_src/dst_aws_service -> svc_name.
 * - interface_id, vpc_id, subnet_id, instance_id (the monitored interface) -> interface_uid,
 *   vpc_uid, subnet_uid, instance_uid of dst_endpoint for flow_direction ingress and of
 *   src_endpoint for egress (as Security Lake). Without a flow direction (v2-v4 formats,
 *   NODATA) the enrichment's address of the interface tells which end it is (direction_id is
 *   then set from it); failing that nobody knows, so they describe `device` (the observation
 *   point; type_id 6 Virtual when it has an instance, else 0 Unknown; the event then lists the
 *   host profile, which adds `device`) instead of guessing.
 *   Transit gateway fields tgw_src/dst_eni, _vpc_id, _subnet_id, _az_id describe the two ends.
 * - protocol -> connection_info.protocol_num, type -> protocol_ver, tcp_flags -> tcp_flags,
 *   flow_direction ingress/egress -> direction_id 1 Inbound / 2 Outbound (else 0 Unknown),
 *   traffic_path 1-8 -> boundary_id 4-11 with the schema's caption (Same VPC ... Internet Gateway).
 * - bytes/packets -> traffic.bytes/packets. log_status -> status_code; NODATA/SKIPDATA also set
 *   status_id 99 with status and status_detail, and carry no endpoints when the line has no
 *   addresses (the class requires both endpoints: that is this mapping's one documented gap,
 *   see `acceptedGaps`). Any other record without an identifiable endpoint is rejected.
 * - Enrichment fields (flat, written by the `enrich` transform), read when present; see
 *   VPCFLOW_ENRICHMENT_FIELDS. Every other non-null field goes to `unmapped` under its own key
 *   (sublocation_*, ecs_*, reject_reason, tgw_id, packets_lost_*, subnet_name, vpc_name, ...).
 *
 * Values that do not fit their attribute reject the record with the field, the target and the
 * value: a non-integer or out-of-range port/protocol/count, an address that is not one (or is
 * longer than OCSF's 40 characters), a start/end before 1973 (not epoch seconds). "-" is no value.
 *
 * Speed: one pass of typed field reads, then the event and each sub-object are built by one
 * constructor call of a class with every attribute present (undefined when absent;
 * JSON.stringify drops them), so every event shares a hidden class; classes rather than object
 * literals for the GC reason explained above NetworkEndpoint. metadata.product (one per flow
 * log version), metadata.profiles and feature are shared, frozen objects: a transform after this
 * one must copy them to change them. The list of `unmapped` keys is computed once per distinct
 * field set (one per header).
 */
import type { SluiceRecord } from '../../core/record.js';
import { isIpAddressAt } from '../../core/ip-address.js';
import { MappingFailure, OCSF_REJECT_CODES, type OcsfEvent, type OcsfMapping, type OcsfMappingOptions } from './mapping.js';

/**
 * Enrichment fields this mapping reads, flat on the record, as the `enrich` transform writes them
 * (src/transforms/enrich/index.ts; with the demo tables: demo-config.ts), and where they go.
 * Unprefixed names describe the monitored interface: they join interface_uid on its endpoint (or
 * `device`). `src_`/`dst_` names describe the address at each end; when the packet-level address
 * differs (and is the endpoint's ip), the `pkt_src_`/`pkt_dst_` ones are read instead. The
 * enrichment also fills instance_id, subnet_id, vpc_id, account_id and az_id when the log lacks
 * them; those are read as the log's own fields. Every other field (subnet_name, vpc_name,
 * description, instance_type, availability_zone, src_network_name, ...) has no attribute in
 * network_endpoint and goes to `unmapped`, like any other field.
 */
export const VPCFLOW_ENRICHMENT_FIELDS: Readonly<Record<string, string>> = {
  interface_name: '<interface endpoint or device>.interface_name, and .name when there is no instance_name',
  instance_name: '<interface endpoint or device>.name',
  private_ip: 'which end is the interface when the log has no flow-direction (srcaddr = it: egress; dstaddr: ingress); else device.ip',
  ipv6_address: 'as private_ip, for IPv6 flows',
  '{src,dst}_interface_id': '<end>_endpoint.interface_uid',
  '{src,dst}_name': '<end>_endpoint.interface_name (the name of the interface holding the address), and .name when there is no instance name',
  '{src,dst}_instance_id': '<end>_endpoint.instance_uid',
  '{src,dst}_instance_name': '<end>_endpoint.name',
  '{src,dst}_subnet_id': '<end>_endpoint.subnet_uid',
  '{src,dst}_vpc_id': '<end>_endpoint.vpc_uid',
  '{src,dst}_az_id': '<end>_endpoint.zone',
  '{src,dst}_hostname': '<end>_endpoint.hostname',
  '{pkt_src,pkt_dst}_*': 'as {src,dst}_*, when pkt_srcaddr/pkt_dstaddr differ from srcaddr/dstaddr',
};

/** The record keys VPCFLOW_ENRICHMENT_FIELDS stands for. */
const ENRICHMENT_KEYS: readonly string[] = [
  'interface_name', 'instance_name', 'private_ip', 'ipv6_address',
  ...['src', 'dst', 'pkt_src', 'pkt_dst'].flatMap((end) =>
    ['interface_id', 'name', 'instance_id', 'instance_name', 'subnet_id', 'vpc_id', 'az_id', 'hostname'].map((column) => `${end}_${column}`),
  ),
];

/** Record keys that have an OCSF home (never copied to `unmapped`). */
const MAPPED_FIELDS: ReadonlySet<string> = new Set([
  'version', 'account_id', 'interface_id', 'srcaddr', 'dstaddr', 'srcport', 'dstport', 'protocol', 'packets', 'bytes',
  'start', 'end', 'action', 'log_status', 'vpc_id', 'subnet_id', 'instance_id', 'tcp_flags', 'type', 'pkt_srcaddr',
  'pkt_dstaddr', 'region', 'az_id', 'pkt_src_aws_service', 'pkt_dst_aws_service', 'flow_direction', 'traffic_path',
  'tgw_src_eni', 'tgw_dst_eni', 'tgw_src_vpc_id', 'tgw_dst_vpc_id', 'tgw_src_subnet_id', 'tgw_dst_subnet_id',
  'tgw_src_az_id', 'tgw_dst_az_id',
  ...ENRICHMENT_KEYS,
]);

const CLASS_UID = 4001;
const SUPPORTED_VERSIONS = ['1.1.0'] as const;

interface Activity {
  readonly activityId: number;
  readonly activityName: string;
  readonly actionId: number;
  readonly action: string;
  readonly dispositionId: number | undefined;
  readonly disposition: string | undefined;
  readonly typeUid: number;
  readonly typeName: string;
}

const ACCEPTED: Activity = {
  activityId: 6, activityName: 'Traffic', actionId: 1, action: 'Allowed',
  dispositionId: 1, disposition: 'Allowed', typeUid: 400106, typeName: 'Network Activity: Traffic',
};
const REJECTED: Activity = {
  activityId: 5, activityName: 'Refuse', actionId: 2, action: 'Denied',
  dispositionId: 2, disposition: 'Blocked', typeUid: 400105, typeName: 'Network Activity: Refuse',
};
const NO_ACTION: Activity = {
  activityId: 0, activityName: 'Unknown', actionId: 0, action: 'Unknown',
  dispositionId: undefined, disposition: undefined, typeUid: 400100, typeName: 'Network Activity: Unknown',
};

/** traffic_path 1-8 -> boundary_id 4-11; captions from OCSF 1.1.0 network_connection_info. */
const BOUNDARY_CAPTIONS = [
  'Same VPC', 'Internet/VPC Gateway', 'Virtual Private Gateway', 'Intra-region VPC', 'Inter-region VPC',
  'Local Gateway', 'Gateway VPC', 'Internet Gateway',
];

/** AWS's explanations of the two non-OK log statuses (VPC user guide, "Available fields"). */
const NODATA_DETAIL = 'No network traffic to or from the network interface during the aggregation interval.';
const SKIPDATA_DETAIL = 'Some flow log records were skipped during the aggregation interval (internal capacity constraint or internal error).';

const FEATURE = Object.freeze({ name: 'Flowlogs' });
const MAX_EPOCH_SECONDS = Math.floor(Number.MAX_SAFE_INTEGER / 1000);
/** 10^8 s (1973-03-03): earlier "times" are not flow times (and would read as seconds in ms, see validate.ts). */
const MIN_EPOCH_SECONDS = 1e8;
const INT32_MAX = 2147483647;
const NODATA_GAPS: readonly string[] = Object.freeze(['src_endpoint', 'dst_endpoint']);
const NO_SRC_GAP: readonly string[] = Object.freeze(['src_endpoint']);
const NO_DST_GAP: readonly string[] = Object.freeze(['dst_endpoint']);

/** Remembers the last epoch-ms value formatted as RFC 3339 (UTC). */
class IsoTimeCache {
  private ms = NaN;
  private iso = '';

  format(ms: number): string {
    if (ms !== this.ms) {
      this.ms = ms;
      this.iso = new Date(ms).toISOString();
    }
    return this.iso;
  }
}

/**
 * Reads fields with the type their OCSF target needs, remembering the first field that does not
 * fit (the record is then rejected with that explanation). Values from other formats may be
 * loosely typed: a digits-only string is accepted as an integer, a number as a string, and the
 * flow log placeholder "-" (kept as text by JSON exports) as no value.
 */
class FieldReader {
  problem: string | undefined = undefined;

  text(value: unknown, key: string, target: string): string | undefined {
    if (typeof value === 'string') return value === '-' ? undefined : value;
    if (value === null || value === undefined) return undefined;
    if (typeof value === 'number' || typeof value === 'bigint') return String(value);
    this.fail(key, target, 'a string', value);
    return undefined;
  }

  /**
   * An address: the vpcflow format checked it already, other sources may not have (IPv4 costs
   * ~20 ns here). OCSF's ip_t also caps the text at 40 characters (IPv6 with needless zeros can
   * be longer).
   */
  ip(value: unknown, key: string, target: string): string | undefined {
    if (typeof value === 'string') {
      if (value === '-') return undefined;
      if (value.length <= 40 && isIpAddressAt(value, 0, value.length)) return value;
    } else if (value === null || value === undefined) {
      return undefined;
    }
    this.fail(key, target, 'an IPv4 or IPv6 address of at most 40 characters', value);
    return undefined;
  }

  integer(value: unknown, key: string, target: string, min: number, max: number, expected: string): number | undefined {
    if (typeof value === 'number') {
      if (Number.isInteger(value) && value >= min && value <= max) return value;
    } else if (value === null || value === undefined || value === '-') {
      return undefined;
    } else if (typeof value === 'string' && /^\d{1,16}$/.test(value)) {
      const n = Number(value);
      if (n >= min && n <= max) return n;
    }
    this.fail(key, target, expected, value);
    return undefined;
  }

  private fail(key: string, target: string, expected: string, value: unknown): void {
    this.problem ??= `field "${key}" must be ${expected} for OCSF ${target}, found ${describeValue(value)}`;
  }
}

function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}...` : value);
  if (typeof value === 'object' && value !== null) return Array.isArray(value) ? 'an array' : 'an object';
  return String(value);
}

/** Account and region from an AWS flow log object key, when the record lacks them. */
function locationFromObjectKey(uri: string): { account: string | undefined; region: string | undefined } {
  const m =
    /AWSLogs\/(?:o-[a-z0-9]+\/)?(\d{12})\/vpcflowlogs\/([a-z]{2}(?:-[a-z]+)+-\d)\//.exec(uri) ??
    /(?:^|\/)(\d{12})_vpcflowlogs_([a-z]{2}(?:-[a-z]+)+-\d)_/.exec(uri);
  return m ? { account: m[1], region: m[2] } : { account: undefined, region: undefined };
}

/*
 * The event and its parts are class instances, not object literals. V8 "pretenures" an object
 * literal's allocation site (allocates its objects straight in old space) once most of them
 * survive a young-generation GC, which happens here because a batch of events lives until the
 * sinks have written it; every store of a young string into such an old object then takes the
 * write barrier's slow path, and the mapping ran ~10x slower (measured, at random depending on GC
 * timing). Class instances get no allocation-site pretenuring (V8 in Node 20). Every instance of a class has one
 * shape; attributes without a value are undefined, which JSON.stringify drops.
 */

class NetworkEndpoint {
  constructor(
    readonly ip: string | undefined,
    readonly port: number | undefined,
    readonly intermediate_ips: string[] | undefined,
    readonly svc_name: string | undefined,
    readonly hostname: string | undefined,
    readonly name: string | undefined,
    readonly interface_uid: string | undefined,
    readonly interface_name: string | undefined,
    readonly instance_uid: string | undefined,
    readonly subnet_uid: string | undefined,
    readonly vpc_uid: string | undefined,
    readonly zone: string | undefined,
  ) {}
}

class Device {
  constructor(
    readonly type_id: number,
    readonly type: string,
    readonly name: string | undefined,
    readonly ip: string | undefined,
    readonly interface_uid: string | undefined,
    readonly interface_name: string | undefined,
    readonly instance_uid: string | undefined,
    readonly subnet_uid: string | undefined,
    readonly vpc_uid: string | undefined,
  ) {}
}

class ConnectionInfo {
  constructor(
    readonly protocol_num: number | undefined,
    readonly protocol_ver: string | undefined,
    readonly tcp_flags: number | undefined,
    readonly direction_id: number,
    readonly direction: string,
    readonly boundary_id: number | undefined,
    readonly boundary: string | undefined,
  ) {}
}

class Account {
  constructor(readonly uid: string) {}
}

class Cloud {
  constructor(
    readonly provider: string,
    readonly account: Account | undefined,
    readonly region: string | undefined,
    readonly zone: string | undefined,
  ) {}
}

class Metadata {
  constructor(
    readonly uid: string,
    readonly version: string,
    readonly profiles: readonly string[],
    readonly product: Readonly<Record<string, unknown>>,
  ) {}
}

class Traffic {
  constructor(
    readonly bytes: number | undefined,
    readonly packets: number | undefined,
  ) {}
}

class Observable {
  constructor(
    readonly name: string,
    readonly type: string,
    readonly type_id: number,
    readonly value: string,
  ) {}
}

/** Fields are declared in output order (classification first), then set by the constructor. */
class NetworkActivityEvent {
  readonly class_uid = CLASS_UID;
  readonly class_name = 'Network Activity';
  readonly category_uid = 4;
  readonly category_name = 'Network Activity';
  readonly activity_id: number;
  readonly activity_name: string;
  readonly type_uid: number;
  readonly type_name: string;
  readonly severity_id = 1;
  readonly severity = 'Informational';
  readonly action_id: number;
  readonly action: string;
  readonly disposition_id: number | undefined;
  readonly disposition: string | undefined;
  readonly time: number;
  readonly start_time: number | undefined;
  readonly end_time: number | undefined;
  readonly time_dt: string | undefined;
  readonly start_time_dt: string | undefined;
  readonly end_time_dt: string | undefined;
  readonly status_code: string | undefined;
  readonly status_id: number | undefined;
  readonly status: string | undefined;
  readonly status_detail: string | undefined;
  readonly metadata: Metadata;
  readonly cloud: Cloud;
  readonly src_endpoint: NetworkEndpoint | undefined;
  readonly dst_endpoint: NetworkEndpoint | undefined;
  readonly device: Device | undefined;
  readonly connection_info: ConnectionInfo;
  readonly traffic: Traffic | undefined;
  readonly observables: Observable[] | undefined;
  readonly unmapped: Record<string, unknown> | undefined;

  constructor(
    activity: Activity,
    time: number,
    startTime: number | undefined,
    endTime: number | undefined,
    timeDt: string | undefined,
    startTimeDt: string | undefined,
    endTimeDt: string | undefined,
    statusCode: string | undefined,
    statusId: number | undefined,
    status: string | undefined,
    statusDetail: string | undefined,
    metadata: Metadata,
    cloud: Cloud,
    srcEndpoint: NetworkEndpoint | undefined,
    dstEndpoint: NetworkEndpoint | undefined,
    device: Device | undefined,
    connectionInfo: ConnectionInfo,
    traffic: Traffic | undefined,
    observables: Observable[] | undefined,
    unmapped: Record<string, unknown> | undefined,
  ) {
    this.activity_id = activity.activityId;
    this.activity_name = activity.activityName;
    this.type_uid = activity.typeUid;
    this.type_name = activity.typeName;
    this.action_id = activity.actionId;
    this.action = activity.action;
    this.disposition_id = activity.dispositionId;
    this.disposition = activity.disposition;
    this.time = time;
    this.start_time = startTime;
    this.end_time = endTime;
    this.time_dt = timeDt;
    this.start_time_dt = startTimeDt;
    this.end_time_dt = endTimeDt;
    this.status_code = statusCode;
    this.status_id = statusId;
    this.status = status;
    this.status_detail = statusDetail;
    this.metadata = metadata;
    this.cloud = cloud;
    this.src_endpoint = srcEndpoint;
    this.dst_endpoint = dstEndpoint;
    this.device = device;
    this.connection_info = connectionInfo;
    this.traffic = traffic;
    this.observables = observables;
    this.unmapped = unmapped;
  }
}

const ipObservable = (name: string, value: string): Observable => new Observable(name, 'IP Address', 2, value);
const resourceObservable = (name: string, value: string): Observable => new Observable(name, 'Resource UID', 10, value);

/**
 * The observables Security Lake lists for a flow (destination first): the endpoint IPs and
 * instance ids. The common shapes are built as array literals (no push-grown arrays).
 */
function observablesOf(
  dstIp: string | undefined,
  dstInstance: string | undefined,
  srcIp: string | undefined,
  srcInstance: string | undefined,
  deviceInstance: string | undefined,
): Observable[] | undefined {
  if (dstInstance === undefined && srcInstance === undefined && deviceInstance === undefined) {
    if (dstIp !== undefined && srcIp !== undefined) return [ipObservable('dst_endpoint.ip', dstIp), ipObservable('src_endpoint.ip', srcIp)];
    if (dstIp === undefined && srcIp === undefined) return undefined;
  }
  const list: Observable[] = [];
  if (dstIp !== undefined) list.push(ipObservable('dst_endpoint.ip', dstIp));
  if (dstInstance !== undefined) list.push(resourceObservable('dst_endpoint.instance_uid', dstInstance));
  if (srcIp !== undefined) list.push(ipObservable('src_endpoint.ip', srcIp));
  if (srcInstance !== undefined) list.push(resourceObservable('src_endpoint.instance_uid', srcInstance));
  if (deviceInstance !== undefined) list.push(resourceObservable('device.instance_uid', deviceInstance));
  return list.length === 0 ? undefined : list;
}

/**
 * Creates the `builtin:vpcflow` mapping.
 *
 * @example
 * const mapping = createVpcflowMapping({ version: '1.1.0', observables: true, datetime: false });
 * const event = mapping.map(record); // an OcsfEvent, or a MappingFailure to dead-letter
 */
export function createVpcflowMapping(options: OcsfMappingOptions): OcsfMapping {
  const ocsfVersion = options.version;
  const withObservables = options.observables;
  const withDatetime = options.datetime;
  const profiles = Object.freeze(withDatetime ? ['cloud', 'security_control', 'datetime'] : ['cloud', 'security_control']);
  // `device` is an attribute of the host profile.
  const profilesWithHost = Object.freeze([...profiles, 'host']);
  const reader = new FieldReader();
  // RFC 3339 strings for the datetime profile, memoized per field: consecutive records of a flow
  // log share their start and end seconds, and toISOString costs ~0.4 µs.
  const startIso = new IsoTimeCache();
  const endIso = new IsoTimeCache();

  // metadata.product per flow log version (a handful of values per run).
  const products = new Map<string | undefined, Readonly<Record<string, unknown>>>();
  const productFor = (version: string | undefined) => {
    let product = products.get(version);
    if (product === undefined) {
      product = Object.freeze({ name: 'Amazon VPC', vendor_name: 'AWS', version, feature: FEATURE });
      products.set(version, product);
    }
    return product;
  };

  // The unmapped keys of the last field set seen (one per header in practice).
  let lastKeys: string[] = [];
  let lastExtraKeys: string[] = [];
  const extraKeysOf = (fields: Record<string, unknown>): string[] => {
    // for-in walks V8's enum cache without allocating; Object.keys would copy it per record.
    let i = 0;
    let same = true;
    for (const key in fields) {
      if (key !== lastKeys[i++]) {
        same = false;
        break;
      }
    }
    if (same && i === lastKeys.length) return lastExtraKeys;
    lastKeys = Object.keys(fields);
    lastExtraKeys = lastKeys.filter((k) => !MAPPED_FIELDS.has(k));
    return lastExtraKeys;
  };

  // Location from the object key, for the object being mapped.
  let lastObject = '';
  let lastLocation: { account: string | undefined; region: string | undefined } = { account: undefined, region: undefined };
  const locationOf = (object: string) => {
    if (object !== lastObject) {
      lastObject = object;
      lastLocation = locationFromObjectKey(object);
    }
    return lastLocation;
  };

  return {
    name: 'builtin:vpcflow',
    classUids: [CLASS_UID],
    versions: SUPPORTED_VERSIONS,

    acceptedGaps(event: OcsfEvent): readonly string[] | undefined {
      const status = event.status_code;
      if (status !== 'NODATA' && status !== 'SKIPDATA') return undefined;
      const noSrc = event.src_endpoint === undefined;
      const noDst = event.dst_endpoint === undefined;
      return noSrc && noDst ? NODATA_GAPS : noSrc ? NO_SRC_GAP : noDst ? NO_DST_GAP : undefined;
    },

    map(record: SluiceRecord): OcsfEvent | MappingFailure {
      const f = record.fields;
      const r = reader;
      r.problem = undefined;

      const start = r.integer(f.start, 'start', 'start_time', MIN_EPOCH_SECONDS, MAX_EPOCH_SECONDS, 'epoch seconds (after 1973-03-03)');
      const end = r.integer(f.end, 'end', 'end_time', MIN_EPOCH_SECONDS, MAX_EPOCH_SECONDS, 'epoch seconds (after 1973-03-03)');
      const srcPort = r.integer(f.srcport, 'srcport', 'src_endpoint.port', 0, 65535, 'an integer port 0-65535');
      const dstPort = r.integer(f.dstport, 'dstport', 'dst_endpoint.port', 0, 65535, 'an integer port 0-65535');
      const protocol = r.integer(f.protocol, 'protocol', 'connection_info.protocol_num', 0, 255, 'an IANA protocol number 0-255');
      const packets = r.integer(f.packets, 'packets', 'traffic.packets', 0, Number.MAX_SAFE_INTEGER, 'a non-negative integer');
      const bytes = r.integer(f.bytes, 'bytes', 'traffic.bytes', 0, Number.MAX_SAFE_INTEGER, 'a non-negative integer');
      const tcpFlags = r.integer(f.tcp_flags, 'tcp_flags', 'connection_info.tcp_flags', 0, INT32_MAX, 'a non-negative integer');
      const trafficPath = r.integer(f.traffic_path, 'traffic_path', 'connection_info.boundary_id', 0, INT32_MAX, 'a non-negative integer');
      const srcaddr = r.ip(f.srcaddr, 'srcaddr', 'src_endpoint.ip');
      const dstaddr = r.ip(f.dstaddr, 'dstaddr', 'dst_endpoint.ip');
      const pktSrcaddr = r.ip(f.pkt_srcaddr, 'pkt_srcaddr', 'src_endpoint.ip');
      const pktDstaddr = r.ip(f.pkt_dstaddr, 'pkt_dstaddr', 'dst_endpoint.ip');
      const flowVersion = r.text(f.version, 'version', 'metadata.product.version');
      const accountId = r.text(f.account_id, 'account_id', 'cloud.account.uid');
      const region = r.text(f.region, 'region', 'cloud.region');
      const azId = r.text(f.az_id, 'az_id', 'cloud.zone');
      const action = r.text(f.action, 'action', 'activity_id');
      const logStatus = r.text(f.log_status, 'log_status', 'status_code');
      const flowDirection = r.text(f.flow_direction, 'flow_direction', 'connection_info.direction_id');
      const ipVersion = r.text(f.type, 'type', 'connection_info.protocol_ver');
      const srcService = r.text(f.pkt_src_aws_service, 'pkt_src_aws_service', 'src_endpoint.svc_name');
      const dstService = r.text(f.pkt_dst_aws_service, 'pkt_dst_aws_service', 'dst_endpoint.svc_name');
      // The monitored interface (enrichment fills instance/subnet/vpc ids when the log lacks them).
      const interfaceId = r.text(f.interface_id, 'interface_id', 'interface_uid');
      const vpcId = r.text(f.vpc_id, 'vpc_id', 'vpc_uid');
      const subnetId = r.text(f.subnet_id, 'subnet_id', 'subnet_uid');
      const instanceId = r.text(f.instance_id, 'instance_id', 'instance_uid');
      const interfaceName = r.text(f.interface_name, 'interface_name', 'interface_name');
      const instanceName = r.text(f.instance_name, 'instance_name', 'name');
      const interfaceIpv4 = r.ip(f.private_ip, 'private_ip', 'device.ip');
      const interfaceIpv6 = r.ip(f.ipv6_address, 'ipv6_address', 'device.ip');
      if (r.problem !== undefined) return new MappingFailure(OCSF_REJECT_CODES.badValue, r.problem);

      const seconds = start ?? end;
      if (seconds === undefined) {
        return new MappingFailure(
          OCSF_REJECT_CODES.missingRequired,
          'no "start" or "end" field: OCSF requires the event time; add start and end to the flow log format',
        );
      }
      const time = seconds * 1000;
      const startTime = start === undefined ? undefined : start * 1000;
      const endTime = end === undefined ? undefined : end * 1000;

      // Packet-level addresses win when they differ; the interface-level ones are intermediate hops.
      let srcIp = srcaddr;
      let srcHops: string[] | undefined;
      if (pktSrcaddr !== undefined && pktSrcaddr !== srcaddr) {
        srcIp = pktSrcaddr;
        if (srcaddr !== undefined) srcHops = [srcaddr];
      }
      let dstIp = dstaddr;
      let dstHops: string[] | undefined;
      if (pktDstaddr !== undefined && pktDstaddr !== dstaddr) {
        dstIp = pktDstaddr;
        if (dstaddr !== undefined) dstHops = [dstaddr];
      }

      // Which end is the monitored interface: the flow direction says so; without one (v2-v4
      // formats), the enrichment's address of the interface can (srcaddr/dstaddr are the
      // interface's own address for outgoing/incoming traffic); else nobody knows: `device`.
      let ingress = flowDirection === 'ingress';
      let egress = flowDirection === 'egress';
      if (flowDirection === undefined && (interfaceIpv4 !== undefined || interfaceIpv6 !== undefined)) {
        const fromInterface = srcaddr !== undefined && (srcaddr === interfaceIpv4 || srcaddr === interfaceIpv6);
        const toInterface = dstaddr !== undefined && (dstaddr === interfaceIpv4 || dstaddr === interfaceIpv6);
        if (fromInterface !== toInterface) {
          egress = fromInterface;
          ingress = toInterface;
        }
      }
      const onSrc = egress;
      const onDst = ingress;

      // Each end: transit gateway fields, then the enrichment of its address (pkt_src_* / pkt_dst_*
      // when the packet-level address is the endpoint's).
      const sp = srcHops !== undefined;
      const dp = dstHops !== undefined;
      const srcInterfaceUid = r.text(f.tgw_src_eni, 'tgw_src_eni', 'src_endpoint.interface_uid') ?? (sp ? r.text(f.pkt_src_interface_id, 'pkt_src_interface_id', 'src_endpoint.interface_uid') : r.text(f.src_interface_id, 'src_interface_id', 'src_endpoint.interface_uid'));
      const dstInterfaceUid = r.text(f.tgw_dst_eni, 'tgw_dst_eni', 'dst_endpoint.interface_uid') ?? (dp ? r.text(f.pkt_dst_interface_id, 'pkt_dst_interface_id', 'dst_endpoint.interface_uid') : r.text(f.dst_interface_id, 'dst_interface_id', 'dst_endpoint.interface_uid'));
      const srcVpcUid = r.text(f.tgw_src_vpc_id, 'tgw_src_vpc_id', 'src_endpoint.vpc_uid') ?? (sp ? r.text(f.pkt_src_vpc_id, 'pkt_src_vpc_id', 'src_endpoint.vpc_uid') : r.text(f.src_vpc_id, 'src_vpc_id', 'src_endpoint.vpc_uid'));
      const dstVpcUid = r.text(f.tgw_dst_vpc_id, 'tgw_dst_vpc_id', 'dst_endpoint.vpc_uid') ?? (dp ? r.text(f.pkt_dst_vpc_id, 'pkt_dst_vpc_id', 'dst_endpoint.vpc_uid') : r.text(f.dst_vpc_id, 'dst_vpc_id', 'dst_endpoint.vpc_uid'));
      const srcSubnetUid = r.text(f.tgw_src_subnet_id, 'tgw_src_subnet_id', 'src_endpoint.subnet_uid') ?? (sp ? r.text(f.pkt_src_subnet_id, 'pkt_src_subnet_id', 'src_endpoint.subnet_uid') : r.text(f.src_subnet_id, 'src_subnet_id', 'src_endpoint.subnet_uid'));
      const dstSubnetUid = r.text(f.tgw_dst_subnet_id, 'tgw_dst_subnet_id', 'dst_endpoint.subnet_uid') ?? (dp ? r.text(f.pkt_dst_subnet_id, 'pkt_dst_subnet_id', 'dst_endpoint.subnet_uid') : r.text(f.dst_subnet_id, 'dst_subnet_id', 'dst_endpoint.subnet_uid'));
      const srcZone = r.text(f.tgw_src_az_id, 'tgw_src_az_id', 'src_endpoint.zone') ?? (sp ? r.text(f.pkt_src_az_id, 'pkt_src_az_id', 'src_endpoint.zone') : r.text(f.src_az_id, 'src_az_id', 'src_endpoint.zone'));
      const dstZone = r.text(f.tgw_dst_az_id, 'tgw_dst_az_id', 'dst_endpoint.zone') ?? (dp ? r.text(f.pkt_dst_az_id, 'pkt_dst_az_id', 'dst_endpoint.zone') : r.text(f.dst_az_id, 'dst_az_id', 'dst_endpoint.zone'));
      const srcInstanceUid = sp ? r.text(f.pkt_src_instance_id, 'pkt_src_instance_id', 'src_endpoint.instance_uid') : r.text(f.src_instance_id, 'src_instance_id', 'src_endpoint.instance_uid');
      const dstInstanceUid = dp ? r.text(f.pkt_dst_instance_id, 'pkt_dst_instance_id', 'dst_endpoint.instance_uid') : r.text(f.dst_instance_id, 'dst_instance_id', 'dst_endpoint.instance_uid');
      // E_name is the name of the interface holding the address; E_instance_name its instance's.
      const srcInterfaceName = sp ? r.text(f.pkt_src_name, 'pkt_src_name', 'src_endpoint.interface_name') : r.text(f.src_name, 'src_name', 'src_endpoint.interface_name');
      const dstInterfaceName = dp ? r.text(f.pkt_dst_name, 'pkt_dst_name', 'dst_endpoint.interface_name') : r.text(f.dst_name, 'dst_name', 'dst_endpoint.interface_name');
      const srcInstanceName = sp ? r.text(f.pkt_src_instance_name, 'pkt_src_instance_name', 'src_endpoint.name') : r.text(f.src_instance_name, 'src_instance_name', 'src_endpoint.name');
      const dstInstanceName = dp ? r.text(f.pkt_dst_instance_name, 'pkt_dst_instance_name', 'dst_endpoint.name') : r.text(f.dst_instance_name, 'dst_instance_name', 'dst_endpoint.name');
      const srcHostname = r.text(f.src_hostname, 'src_hostname', 'src_endpoint.hostname');
      const dstHostname = r.text(f.dst_hostname, 'dst_hostname', 'dst_endpoint.hostname');
      if (r.problem !== undefined) return new MappingFailure(OCSF_REJECT_CODES.badValue, r.problem);

      const srcIface = onSrc ? interfaceId ?? srcInterfaceUid : srcInterfaceUid;
      const srcInstance = onSrc ? instanceId ?? srcInstanceUid : srcInstanceUid;
      const srcIfaceName = onSrc ? interfaceName ?? srcInterfaceName : srcInterfaceName;
      const srcShortName = onSrc ? instanceName ?? interfaceName ?? srcInstanceName ?? srcInterfaceName : srcInstanceName ?? srcInterfaceName;
      const dstIface = onDst ? interfaceId ?? dstInterfaceUid : dstInterfaceUid;
      const dstInstance = onDst ? instanceId ?? dstInstanceUid : dstInstanceUid;
      const dstIfaceName = onDst ? interfaceName ?? dstInterfaceName : dstInterfaceName;
      const dstShortName = onDst ? instanceName ?? interfaceName ?? dstInstanceName ?? dstInterfaceName : dstInstanceName ?? dstInterfaceName;

      // network_endpoint needs one of these to exist (OCSF at_least_one constraint).
      const srcEndpoint =
        srcIp === undefined && srcIface === undefined && srcInstance === undefined && srcIfaceName === undefined &&
        srcShortName === undefined && srcService === undefined && srcHostname === undefined
          ? undefined
          : new NetworkEndpoint(
              srcIp, srcPort, srcHops, srcService, srcHostname, srcShortName, srcIface, srcIfaceName, srcInstance,
              onSrc ? subnetId ?? srcSubnetUid : srcSubnetUid, onSrc ? vpcId ?? srcVpcUid : srcVpcUid, srcZone,
            );
      const dstEndpoint =
        dstIp === undefined && dstIface === undefined && dstInstance === undefined && dstIfaceName === undefined &&
        dstShortName === undefined && dstService === undefined && dstHostname === undefined
          ? undefined
          : new NetworkEndpoint(
              dstIp, dstPort, dstHops, dstService, dstHostname, dstShortName, dstIface, dstIfaceName, dstInstance,
              onDst ? subnetId ?? dstSubnetUid : dstSubnetUid, onDst ? vpcId ?? dstVpcUid : dstVpcUid, dstZone,
            );

      const noData = logStatus === 'NODATA' || logStatus === 'SKIPDATA';
      if (!noData && (srcEndpoint === undefined || dstEndpoint === undefined)) {
        const side = srcEndpoint === undefined ? 'source' : 'destination';
        const fields = srcEndpoint === undefined ? 'srcaddr, pkt_srcaddr' : 'dstaddr, pkt_dstaddr';
        return new MappingFailure(
          OCSF_REJECT_CODES.missingRequired,
          `no ${side} endpoint (${fields} and the interface fields are absent): OCSF Network Activity requires both endpoints; keep the addresses in the flow log format`,
        );
      }

      const atDevice = !onSrc && !onDst;
      const device =
        atDevice && (interfaceId !== undefined || instanceId !== undefined || interfaceName !== undefined || instanceName !== undefined)
          ? new Device(
              instanceId === undefined ? 0 : 6, instanceId === undefined ? 'Unknown' : 'Virtual', instanceName ?? interfaceName,
              interfaceIpv4 ?? interfaceIpv6, interfaceId, interfaceName, instanceId, subnetId, vpcId,
            )
          : undefined;

      let activity: Activity;
      if (action === 'ACCEPT') activity = ACCEPTED;
      else if (action === 'REJECT') activity = REJECTED;
      else if (action === undefined) activity = NO_ACTION;
      else {
        activity = {
          activityId: 99, activityName: action, actionId: 99, action,
          dispositionId: undefined, disposition: undefined, typeUid: 400199, typeName: 'Network Activity: Other',
        };
      }

      const directionId = ingress ? 1 : egress ? 2 : flowDirection === undefined ? 0 : 99;
      const direction = ingress ? 'Inbound' : egress ? 'Outbound' : flowDirection ?? 'Unknown';
      let boundaryId: number | undefined;
      let boundary: string | undefined;
      if (trafficPath !== undefined) {
        const caption = BOUNDARY_CAPTIONS[trafficPath - 1];
        boundaryId = caption === undefined ? 99 : trafficPath + 3;
        boundary = caption ?? String(trafficPath);
      }

      let cloudAccount = accountId;
      let cloudRegion = region;
      if (cloudAccount === undefined || cloudRegion === undefined) {
        const location = locationOf(record.origin.object);
        cloudAccount ??= location.account;
        cloudRegion ??= location.region;
      }

      let unmapped: Record<string, unknown> | undefined;
      const extraKeys = extraKeysOf(f);
      for (let i = 0; i < extraKeys.length; i++) {
        const key = extraKeys[i]!;
        const value = f[key];
        if (value !== null && value !== undefined) (unmapped ??= {})[key] = value;
      }
      if (atDevice && device === undefined && (vpcId !== undefined || subnetId !== undefined)) {
        // No interface to hang them on: keep them rather than drop them.
        unmapped ??= {};
        if (vpcId !== undefined) unmapped.vpc_id = vpcId;
        if (subnetId !== undefined) unmapped.subnet_id = subnetId;
      }

      const observables = withObservables ? observablesOf(dstIp, dstInstance, srcIp, srcInstance, device?.instance_uid) : undefined;

      return new NetworkActivityEvent(
        activity,
        time,
        startTime,
        endTime,
        withDatetime ? (time === startTime ? startIso.format(time) : endIso.format(time)) : undefined,
        withDatetime && startTime !== undefined ? startIso.format(startTime) : undefined,
        withDatetime && endTime !== undefined ? endIso.format(endTime) : undefined,
        logStatus,
        noData ? 99 : undefined,
        noData ? logStatus : undefined,
        logStatus === 'NODATA' ? NODATA_DETAIL : logStatus === 'SKIPDATA' ? SKIPDATA_DETAIL : undefined,
        new Metadata(record.id, ocsfVersion, device === undefined ? profiles : profilesWithHost, productFor(flowVersion)),
        new Cloud('AWS', cloudAccount === undefined ? undefined : new Account(cloudAccount), cloudRegion, azId),
        srcEndpoint,
        dstEndpoint,
        device,
        new ConnectionInfo(protocol, ipVersion, tcpFlags, directionId, direction, boundaryId, boundary),
        bytes === undefined && packets === undefined ? undefined : new Traffic(bytes, packets),
        observables,
        unmapped,
      ) as unknown as OcsfEvent;
    },
  };
}
