/**
 * "What did this host talk to?" over the lake's `network_activity` view (OCSF 4001): every peer of
 * an IP, ENI or instance id in a time window, with friendly names from the enrichment, service
 * ports, bytes and accepted/rejected counts; distinct peers per 10-minute bucket (fan-out); and the
 * same for a peer (second hop), which is how lateral movement shows.
 *
 * The host and the window reach DuckDB only as bound parameters ($host, $from, $to): nothing a
 * user types is pasted into SQL. The only SQL that varies is chosen from the view's own columns
 * (optional enrichment fields, Security Lake partition columns), never from input.
 *
 * A flow between two monitored interfaces is logged at both ends (AWS writes one record per
 * interface), so counts are flow records as the lake holds them, as an analyst querying the lake
 * by hand would see them.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { SluiceError } from '../core/errors.js';
import type { Lake } from './catalog.js';

/** IPv4, IPv6, an ENI (`eni-…`) or an instance id (`i-…`). */
const HOST_PATTERN = /^(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9a-fA-F:]*:[0-9a-fA-F:.]+|eni-[0-9a-f]{8,17}|i-[0-9a-f]{8,17})$/;

export interface InvestigationQuery {
  host: string;
  from: Date;
  to: Date;
}

export interface Peer {
  ip: string;
  /** Friendly name: the interface/instance name, else the named network the address is in. */
  name: string | null;
  instanceId: string | null;
  interfaceId: string | null;
  network: string | null;
  /** Service ports (the lower port of each flow, so replies count under the port they answer). */
  ports: number[];
  /** 'out' when the host opened flows to the peer, 'in' when the peer did, 'both'. */
  direction: 'out' | 'in' | 'both';
  flows: number;
  bytes: number;
  accepted: number;
  rejected: number;
  firstSeen: string;
  lastSeen: string;
}

export interface FanoutBucket {
  /** Bucket start, ISO 8601 UTC. */
  start: string;
  peers: number;
  flows: number;
}

export interface HostIdentity {
  ips: string[];
  name: string | null;
  instanceId: string | null;
  interfaceIds: string[];
}

export interface Investigation {
  query: { host: string; from: string; to: string };
  host: HostIdentity;
  peers: Peer[];
  fanout: FanoutBucket[];
  flows: number;
  bytes: number;
}

/** Checks a host typed into a form or a URL; the message says what is accepted. */
export function parseHost(value: string | null | undefined): string {
  const host = (value ?? '').trim();
  if (!HOST_PATTERN.test(host)) {
    throw new SluiceError(`"${host.slice(0, 80)}" is not an IP address, an ENI id (eni-…) or an instance id (i-…)`, {
      code: 'BAD_HOST',
      stage: 'config',
      hint: 'type an address such as 10.0.1.12, an interface id such as eni-0a1b2c3d4e5f60718 or an instance id such as i-0123456789abcdef0',
    });
  }
  return host;
}

/** Parses a window bound: ISO 8601 (a bare date or `YYYY-MM-DDTHH:MM` is UTC). */
export function parseWindowBound(value: string, name: string): Date {
  const text = value.trim();
  const iso = /^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00Z` : /T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(text) ? `${text}Z` : text;
  const date = new Date(iso);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(date.getTime())) {
    throw new SluiceError(`${name}: "${text.slice(0, 40)}" is not a date or time`, {
      code: 'BAD_WINDOW',
      stage: 'config',
      hint: 'use YYYY-MM-DD or YYYY-MM-DDTHH:MM (UTC)',
    });
  }
  return date;
}

interface ViewShape {
  /** Fields of the src_endpoint/dst_endpoint structs. */
  endpoint: Set<string>;
  /** The `unmapped` struct's text (enrichment network names live there). */
  unmapped: string;
}

/** The endpoint struct's fields and the unmapped struct, so optional enrichment fields are only used when present. */
async function shapeOf(connection: DuckDBConnection, view: string): Promise<ViewShape> {
  const rows = (await connection.runAndReadAll(`DESCRIBE "${view}"`)).getRowObjectsJson();
  const type = (name: string) => String(rows.find((r) => r.column_name === name)?.column_type ?? '');
  const endpoint = new Set([...type('src_endpoint').matchAll(/(?:^STRUCT\(|, )"?([a-z_]+)"? /g)].map((m) => m[1]!));
  return { endpoint, unmapped: type('unmapped') };
}

function requireNetworkActivity(lake: Lake): void {
  if (!lake.table('network_activity')) {
    throw new SluiceError(`no OCSF Network Activity (class 4001) Parquet files under ${lake.root}`, {
      code: 'LAKE_EMPTY',
      stage: 'read',
      hint: 'run a pipeline with the ocsf transform and a files sink with format: parquet, layout: security-lake into this folder (sluice demo does)',
    });
  }
}

/** The matched flows seen from the host's side, as a CTE body; parameters $host, $from, $to. */
async function sidedFlowsSql(lake: Lake, connection: DuckDBConnection): Promise<string> {
  const shape = await shapeOf(connection, 'network_activity');
  const net = (side: 'src' | 'dst') => (shape.unmapped.includes(`${side}_network_name`) ? `unmapped.${side}_network_name` : 'NULL::VARCHAR');
  // Lakes written without enrichment lack the name fields: those read as NULL.
  const field = (side: string, name: string) => (shape.endpoint.has(name) ? `${side}.${name}` : 'NULL::VARCHAR');
  const endpoint = (side: string) =>
    `{'ip': ${side}.ip, 'port': ${field(side, 'port')}, 'name': ${field(side, 'name')}, 'interface_name': ${field(side, 'interface_name')}, 'interface_uid': ${field(side, 'interface_uid')}, 'instance_uid': ${field(side, 'instance_uid')}}`;
  const ids = (side: string) => [`${side}.ip`, field(side, 'interface_uid'), field(side, 'instance_uid')].join(', ');
  const table = lake.table('network_activity')!;
  // Security Lake folders carry eventDay: filtering on it skips whole files outside the window.
  const dayPrune = table.hive
    ? `AND eventDay BETWEEN strftime($from::TIMESTAMPTZ AT TIME ZONE 'UTC', '%Y%m%d') AND strftime($to::TIMESTAMPTZ AT TIME ZONE 'UTC', '%Y%m%d')`
    : '';
  return `
    matched AS (
      SELECT time, ${endpoint('src_endpoint')} AS s, ${endpoint('dst_endpoint')} AS d, traffic.bytes AS bytes, action,
             ${net('src')} AS s_net, ${net('dst')} AS d_net,
             coalesce($host::VARCHAR IN (${ids('src_endpoint')}), false) AS host_is_src
      FROM network_activity
      WHERE time >= $from::TIMESTAMPTZ AND time < $to::TIMESTAMPTZ ${dayPrune}
        AND ($host::VARCHAR IN (${ids('src_endpoint')}) OR $host::VARCHAR IN (${ids('dst_endpoint')}))
    ),
    sided AS (
      SELECT time, bytes, action, host_is_src,
             CASE WHEN host_is_src THEN d ELSE s END AS peer,
             CASE WHEN host_is_src THEN d_net ELSE s_net END AS peer_net,
             CASE WHEN host_is_src THEN s ELSE d END AS me,
             CASE WHEN least(s.port, d.port) > 0 THEN least(s.port, d.port) END AS service_port
      FROM matched
      WHERE (CASE WHEN host_is_src THEN d.ip ELSE s.ip END) IS NOT NULL
    )`;
}

/** The SQL of the peer table, exported so tests and docs show exactly what the page runs. */
export async function peerTableSql(lake: Lake, connection: DuckDBConnection = lake.connection): Promise<string> {
  return `WITH ${await sidedFlowsSql(lake, connection)}
    SELECT peer.ip AS ip,
           any_value(coalesce(peer.name, peer.interface_name, peer_net)) AS name,
           any_value(peer.instance_uid) AS instance_id,
           any_value(peer.interface_uid) AS interface_id,
           any_value(peer_net) AS network,
           list_sort(list(DISTINCT service_port) FILTER (WHERE service_port IS NOT NULL)) AS ports,
           bool_or(host_is_src) AS outbound,
           bool_or(NOT host_is_src) AS inbound,
           count(*) AS flows,
           coalesce(sum(bytes), 0) AS bytes,
           count(*) FILTER (WHERE action = 'Allowed') AS accepted,
           count(*) FILTER (WHERE action = 'Denied') AS rejected,
           strftime(min(time) AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ') AS first_seen,
           strftime(max(time) AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ') AS last_seen
    FROM sided
    GROUP BY peer.ip
    ORDER BY bytes DESC, ip`;
}

type Row = Record<string, unknown>;
const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));
const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

function toPeer(row: Row): Peer {
  const out = row.outbound === true;
  const inbound = row.inbound === true;
  return {
    ip: String(row.ip),
    name: str(row.name),
    instanceId: str(row.instance_id),
    interfaceId: str(row.interface_id),
    network: str(row.network),
    ports: Array.isArray(row.ports) ? row.ports.map(num) : [],
    direction: out && inbound ? 'both' : out ? 'out' : 'in',
    flows: num(row.flows),
    bytes: num(row.bytes),
    accepted: num(row.accepted),
    rejected: num(row.rejected),
    firstSeen: String(row.first_seen),
    lastSeen: String(row.last_seen),
  };
}

/**
 * Runs the investigation: peers, fan-out per 10 minutes, and who the host is.
 *
 * @example
 * const result = await investigate(lake, { host: '10.0.1.12', from: new Date('2024-03-26'), to: new Date('2024-03-27') });
 * result.peers[0] // { ip: '10.0.2.40', name: 'orders-db-1', ports: [5432], flows: 12, … }
 */
export async function investigate(lake: Lake, query: InvestigationQuery): Promise<Investigation> {
  const host = parseHost(query.host);
  if (!(query.from < query.to)) {
    throw new SluiceError(`the window is empty: from ${query.from.toISOString()} is not before to ${query.to.toISOString()}`, {
      code: 'BAD_WINDOW',
      stage: 'config',
      hint: 'pick a "from" earlier than "to"',
    });
  }
  // An S3 lake downloads the window's days (only those) into its mirror first.
  await lake.cover({ from: query.from, to: query.to });
  requireNetworkActivity(lake);
  const params = { host, from: query.from.toISOString(), to: query.to.toISOString() };
  if (!lake.hasView('network_activity')) {
    // The lake has network activity, none of it in this window's partitions.
    return { query: { host, from: params.from, to: params.to }, host: { ips: [], name: null, instanceId: null, interfaceIds: [] }, peers: [], fanout: [], flows: 0, bytes: 0 };
  }
  // Its own connection: the dashboard runs investigations concurrently (page, second hops, CSV).
  const connection = await lake.connect();
  try {
    return await runInvestigation(lake, connection, host, params);
  } finally {
    connection.closeSync();
  }
}

async function runInvestigation(lake: Lake, connection: DuckDBConnection, host: string, params: { host: string; from: string; to: string }): Promise<Investigation> {
  const sided = await sidedFlowsSql(lake, connection);
  const peers = (await connection.runAndReadAll(await peerTableSql(lake, connection), params)).getRowObjectsJson().map(toPeer);
  const fanout = (
    await connection.runAndReadAll(
      `WITH ${sided}
       SELECT strftime(time_bucket(INTERVAL 10 MINUTES, time) AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ') AS start,
              count(DISTINCT peer.ip) AS peers, count(*) AS flows
       FROM sided GROUP BY 1 ORDER BY 1`,
      params,
    )
  )
    .getRowObjectsJson()
    .map((r) => ({ start: String(r.start), peers: num(r.peers), flows: num(r.flows) }));
  const [me] = (
    await connection.runAndReadAll(
      `WITH ${sided}
       SELECT list_sort(list(DISTINCT me.ip)) AS ips, any_value(coalesce(me.name, me.interface_name)) AS name,
              any_value(me.instance_uid) AS instance_id, list_sort(list(DISTINCT me.interface_uid) FILTER (WHERE me.interface_uid IS NOT NULL)) AS interfaces
       FROM sided`,
      params,
    )
  ).getRowObjectsJson();
  return {
    query: { host, from: params.from, to: params.to },
    host: {
      ips: Array.isArray(me?.ips) ? me.ips.map(String) : [],
      name: str(me?.name),
      instanceId: str(me?.instance_id),
      interfaceIds: Array.isArray(me?.interfaces) ? me.interfaces.map(String) : [],
    },
    peers,
    fanout,
    flows: peers.reduce((n, p) => n + p.flows, 0),
    bytes: peers.reduce((n, p) => n + p.bytes, 0),
  };
}

/**
 * The time span of the network activity in the lake (the investigation form's default window).
 * An S3 lake answers from its listing (whole eventDays), without downloading anything.
 */
export async function networkActivitySpan(lake: Lake): Promise<{ from: Date; to: Date } | null> {
  if (!lake.table('network_activity')) return null;
  if (lake.remote || !lake.hasView('network_activity')) {
    const days = lake.days();
    if (days.length === 0) return null;
    const dayStart = (day: string) => new Date(`${day.slice(0, 4)}-${day.slice(4, 6)}-${day.slice(6, 8)}T00:00:00Z`);
    return { from: dayStart(days[0]!), to: new Date(dayStart(days[days.length - 1]!).getTime() + 86_400_000) };
  }
  const [row] = (
    await lake.connection.runAndReadAll(
      `SELECT strftime(min(time) AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ') AS lo, strftime(max(time) AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ') AS hi FROM network_activity`,
    )
  ).getRowObjectsJson();
  if (!row?.lo || !row.hi) return null;
  const from = new Date(String(row.lo));
  const to = new Date(String(row.hi));
  // Whole minutes around the data, so the last flow (time < to) is inside.
  from.setUTCSeconds(0, 0);
  to.setUTCSeconds(0, 0);
  to.setUTCMinutes(to.getUTCMinutes() + 1);
  return { from, to };
}

const CSV_COLUMNS = ['peer_ip', 'name', 'instance_id', 'interface_id', 'network', 'ports', 'direction', 'flows', 'bytes', 'accepted', 'rejected', 'first_seen', 'last_seen'];

/**
 * The peer table as CSV (RFC 4180). Text cells that a spreadsheet would run as a formula
 * (`=`, `+`, `-`, `@` first) are prefixed with a quote: names come from enrichment tables that
 * someone else may edit.
 */
export function peersToCsv(peers: Peer[]): string {
  const cell = (value: string | number | null): string => {
    if (value === null) return '';
    if (typeof value === 'number') return String(value);
    const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
    return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
  };
  const lines = [CSV_COLUMNS.join(',')];
  for (const p of peers) {
    lines.push(
      [p.ip, p.name, p.instanceId, p.interfaceId, p.network, p.ports.join(' '), p.direction, p.flows, p.bytes, p.accepted, p.rejected, p.firstSeen, p.lastSeen]
        .map(cell)
        .join(','),
    );
  }
  return `${lines.join('\r\n')}\r\n`;
}
