/**
 * Who talks to whom in the demo estate, and what each conversation looks like in flow logs.
 *
 * A conversation (one TCP connection, one DNS exchange, one ping…) is seen by every network
 * interface it crosses, in each direction, so it becomes several flow-log lines: app → db is
 * logged on the app's ENI (egress, then the reply as ingress) and on the database's ENI
 * (ingress, then egress). Traffic through a NAT gateway becomes six lines, with the original
 * addresses in pkt-srcaddr/pkt-dstaddr on the NAT's ENI, exactly as in the AWS documentation's
 * NAT gateway example. A connection refused by a security group is logged REJECT on the target
 * only, without a reply. This is what makes the generated logs useful for enrichment and for the
 * "everything this ENI talked to" investigation view: both ends of a flow can be found.
 *
 * Templates are built once per inventory and are independent of which VPC or ENI a generator is
 * scoped to, so every scope agrees on the same traffic.
 */
import type { DemoInterface, DemoInventory, DemoPeer, InterfaceRole } from './inventory.js';
import { Prng } from './prng.js';

/** Which of a conversation's ports a line's srcport/dstport shows (indexes into a small array). */
export const PortSlot = { Client: 0, Server: 1, Nat: 2, Zero: 3 } as const;
export type PortSlot = (typeof PortSlot)[keyof typeof PortSlot];

export type TcpFlagStyle = 'short' | 'long' | 'none' | 'syn';

/** Packet and byte ranges for the two directions of a conversation. */
export interface SizeProfile {
  /** Request direction: up to this many packets (skewed towards few). */
  maxPackets: number;
  minPacketBytes: number;
  maxPacketBytes: number;
  /** Reply packets ≈ request packets × this ratio. */
  replyRatio: number;
  minReplyPacketBytes: number;
  maxReplyPacketBytes: number;
}

/** One flow-log line of a conversation, as seen by one ENI. */
export interface LineSpec {
  observer: DemoInterface;
  srcaddr: string;
  dstaddr: string;
  pktSrcaddr: string;
  pktDstaddr: string;
  srcPort: PortSlot;
  dstPort: PortSlot;
  /** Carries the reply's packets/bytes/flags rather than the request's. */
  reply: boolean;
  action: 'ACCEPT' | 'REJECT';
  srcService: string;
  dstService: string;
  direction: 'ingress' | 'egress';
  /** traffic-path for egress lines ('1'…'8'), '-' for ingress. */
  trafficPath: string;
}

export interface Conversation {
  kind: ConversationKind;
  weight: number;
  protocol: 1 | 6 | 17;
  serverPort: number;
  /** Ephemeral port range of the client side. */
  clientPorts: [number, number];
  sizes: SizeProfile;
  flags: TcpFlagStyle;
  lines: LineSpec[];
}

export type ConversationKind =
  | 'inbound-web'
  | 'lb-to-web'
  | 'web-to-app'
  | 'app-to-db'
  | 'app-to-cache'
  | 'app-to-broker'
  | 'worker'
  | 'aws-gateway-endpoint'
  | 'vpc-endpoint'
  | 'outbound-via-nat'
  | 'dns'
  | 'monitoring'
  | 'icmp'
  | 'log-shipping'
  | 'vault'
  | 'ci'
  | 'remote-access'
  | 'scan'
  | 'incident';

/** Share of conversations per kind (normalised later; only relative sizes matter). */
const KIND_WEIGHTS: Record<ConversationKind, number> = {
  'inbound-web': 30,
  'lb-to-web': 12,
  'web-to-app': 12,
  'app-to-db': 10,
  'app-to-cache': 6,
  'app-to-broker': 5,
  worker: 3,
  'aws-gateway-endpoint': 5,
  'vpc-endpoint': 4,
  'outbound-via-nat': 4,
  dns: 9,
  monitoring: 4,
  icmp: 2,
  'log-shipping': 4,
  vault: 1.5,
  ci: 2,
  'remote-access': 1.5,
  scan: 8,
  incident: 0.4,
};

/** Share of NODATA / SKIPDATA lines among all lines. */
export const NODATA_SHARE = 0.006;
export const SKIPDATA_SHARE = 0.0006;

const S = (
  maxPackets: number,
  minPacketBytes: number,
  maxPacketBytes: number,
  replyRatio: number,
  minReplyPacketBytes: number,
  maxReplyPacketBytes: number,
): SizeProfile => ({ maxPackets, minPacketBytes, maxPacketBytes, replyRatio, minReplyPacketBytes, maxReplyPacketBytes });

const SIZES = {
  https: S(40, 60, 600, 1.3, 200, 1400),
  http: S(30, 80, 900, 1.0, 300, 1400),
  redirect: S(4, 60, 400, 1.0, 60, 500),
  rpc: S(60, 80, 1000, 1.0, 100, 1400),
  sql: S(200, 60, 400, 1.0, 100, 1400),
  cache: S(400, 50, 150, 1.0, 50, 300),
  broker: S(300, 200, 1400, 0.6, 60, 200),
  upload: S(120, 200, 1400, 0.4, 52, 200),
  api: S(20, 100, 600, 1.0, 100, 900),
  dns: S(2, 60, 90, 1.0, 80, 300),
  scrape: S(6, 60, 200, 3.0, 500, 1400),
  ping: S(5, 84, 84, 1.0, 84, 84),
  logs: S(250, 500, 1400, 0.3, 52, 60),
  ssh: S(60, 60, 300, 1.2, 60, 600),
  download: S(40, 60, 200, 12, 1200, 1400),
  probe: S(2, 40, 60, 0, 0, 0),
  beacon: S(8, 80, 300, 1.0, 80, 400),
} satisfies Record<string, SizeProfile>;

const LINUX_EPHEMERAL: [number, number] = [32768, 60999];
const WIDE_EPHEMERAL: [number, number] = [1024, 65535];
const WINDOWS_EPHEMERAL: [number, number] = [49152, 65535];

interface Endpoint {
  ip: string;
  eni?: DemoInterface;
  /** AWS service name when the address is in a published service range. */
  service?: string;
}

/** Builds every conversation template of the estate, with deterministic weights. */
export function buildConversations(inv: DemoInventory): Conversation[] {
  const rng = new Prng(inv.seed * 7919 + 17);
  const out: Conversation[] = [];
  const vpcName = new Map(inv.vpcs.map((v) => [v.id, v.name]));
  const subnetPublic = new Map(inv.subnets.map((s) => [s.id, s.public]));
  const roles = (role: InterfaceRole, vpc?: string) =>
    inv.interfaces.filter((e) => e.role === role && (vpc === undefined || vpcName.get(e.vpcId) === vpc));
  const natOf = (eni: DemoInterface) => inv.interfaces.find((e) => e.role === 'nat-gateway' && e.vpcId === eni.vpcId);
  const at = (eni: DemoInterface): Endpoint => ({ ip: eni.privateIp, eni });
  const peers = (kind: DemoPeer['kind']) => inv.externalPeers.filter((p) => p.kind === kind);
  const ext = (p: DemoPeer): Endpoint => ({ ip: p.ip });
  const serviceAddresses = (service: string) =>
    inv.awsServices.filter((r) => r.service === service).flatMap((r) => r.addresses.map((ip) => ({ ip, service })));
  const hosts = inv.interfaces.filter((e) => e.instanceId !== undefined);

  const egressPath = (from: DemoInterface, to: Endpoint): string => {
    if (to.eni) return to.eni.vpcId === from.vpcId ? '1' : '4';
    if (from.role === 'nat-gateway') return '2';
    if (to.service === 'S3' || to.service === 'DYNAMODB') return subnetPublic.get(from.subnetId) ? '8' : '7';
    return subnetPublic.get(from.subnetId) ? '8' : '1';
  };

  const add = (
    kind: ConversationKind,
    client: Endpoint,
    server: Endpoint,
    protocol: 1 | 6 | 17,
    port: number,
    sizes: SizeProfile,
    options: { rejected?: boolean; viaNat?: boolean; clientPorts?: [number, number]; flags?: TcpFlagStyle } = {},
  ) => {
    const lines: LineSpec[] = [];
    const portSlots: Record<'c' | 's' | 'n', PortSlot> =
      protocol === 1 ? { c: PortSlot.Zero, s: PortSlot.Zero, n: PortSlot.Zero } : { c: PortSlot.Client, s: PortSlot.Server, n: PortSlot.Nat };
    const line = (
      observer: DemoInterface,
      src: Endpoint,
      dst: Endpoint,
      srcPort: PortSlot,
      dstPort: PortSlot,
      reply: boolean,
      action: 'ACCEPT' | 'REJECT',
      pkt?: { src: Endpoint; dst: Endpoint },
    ) => {
      const egress = observer.privateIp === src.ip || observer.ipv6 === src.ip;
      const pktSrc = pkt?.src ?? src;
      const pktDst = pkt?.dst ?? dst;
      lines.push({
        observer,
        srcaddr: src.ip,
        dstaddr: dst.ip,
        pktSrcaddr: pktSrc.ip,
        pktDstaddr: pktDst.ip,
        srcPort,
        dstPort,
        reply,
        action,
        srcService: pktSrc.service ?? '-',
        dstService: pktDst.service ?? '-',
        direction: egress ? 'egress' : 'ingress',
        trafficPath: egress ? egressPath(observer, pkt?.dst ?? dst) : '-',
      });
    };
    const nat = options.viaNat && client.eni ? natOf(client.eni) : undefined;
    if (nat && client.eni) {
      // The six lines of the AWS documentation's NAT gateway example.
      const natEnd = at(nat);
      line(client.eni, client, server, portSlots.c, portSlots.s, false, 'ACCEPT');
      line(nat, client, natEnd, portSlots.c, portSlots.s, false, 'ACCEPT', { src: client, dst: server });
      line(nat, natEnd, server, portSlots.n, portSlots.s, false, 'ACCEPT');
      line(nat, server, natEnd, portSlots.s, portSlots.n, true, 'ACCEPT');
      line(nat, natEnd, client, portSlots.s, portSlots.c, true, 'ACCEPT', { src: server, dst: client });
      line(client.eni, server, client, portSlots.s, portSlots.c, true, 'ACCEPT');
    } else {
      if (client.eni) line(client.eni, client, server, portSlots.c, portSlots.s, false, 'ACCEPT');
      if (server.eni) line(server.eni, client, server, portSlots.c, portSlots.s, false, options.rejected ? 'REJECT' : 'ACCEPT');
      if (!options.rejected) {
        if (server.eni) line(server.eni, server, client, portSlots.s, portSlots.c, true, 'ACCEPT');
        if (client.eni) line(client.eni, server, client, portSlots.s, portSlots.c, true, 'ACCEPT');
      }
    }
    if (lines.length === 0) return;
    out.push({
      kind,
      weight: 0,
      protocol,
      serverPort: protocol === 1 ? 0 : port,
      clientPorts: options.clientPorts ?? (client.eni?.instanceId ? LINUX_EPHEMERAL : WIDE_EPHEMERAL),
      sizes,
      flags: protocol !== 6 ? 'none' : options.rejected ? 'syn' : (options.flags ?? 'short'),
      lines,
    });
  };

  // Internet → load balancers, load balancers → web, web → app, app → data stores.
  for (const lb of roles('load-balancer')) {
    for (const p of peers('client')) {
      const v6 = p.ip.includes(':');
      if (v6 && !lb.ipv6) continue;
      const server: Endpoint = v6 ? { ip: lb.ipv6!, eni: lb } : at(lb);
      // Some customers run Windows (IANA ephemeral range), most are phones and Linux-ish stacks.
      const clientPorts = rng.chance(0.3) ? WINDOWS_EPHEMERAL : WIDE_EPHEMERAL;
      add('inbound-web', ext(p), server, 6, 443, SIZES.https, { clientPorts });
      if (!v6 && rng.chance(0.3)) add('inbound-web', ext(p), server, 6, 80, SIZES.redirect, { clientPorts });
    }
  }
  for (const vpc of ['prod', 'staging']) {
    const webs = roles('web', vpc);
    const apps = roles('app', vpc);
    for (const lb of roles('load-balancer', vpc)) for (const w of webs) add('lb-to-web', at(lb), at(w), 6, 80, SIZES.http, { flags: 'long' });
    for (const w of webs) for (const a of apps) add('web-to-app', at(w), at(a), 6, 8080, SIZES.rpc);
    const stores = [...roles('database', vpc), ...roles('cache', vpc), ...roles('broker', vpc)];
    for (const a of [...apps, ...roles('worker', vpc)]) {
      for (const s of stores) {
        const kind: ConversationKind =
          a.role === 'worker' ? 'worker' : s.role === 'database' ? 'app-to-db' : s.role === 'cache' ? 'app-to-cache' : 'app-to-broker';
        const sizes = s.role === 'database' ? SIZES.sql : s.role === 'cache' ? SIZES.cache : SIZES.broker;
        add(kind, at(a), at(s), 6, s.servicePort!, sizes, { flags: 'long' });
      }
      for (const target of serviceAddresses(a.role === 'worker' ? 'DYNAMODB' : 'S3')) {
        add(a.role === 'worker' ? 'worker' : 'aws-gateway-endpoint', at(a), target, 6, 443, SIZES.upload);
      }
      for (const partner of peers('partner-api').filter((p) => p.name.startsWith('payments'))) {
        add('outbound-via-nat', at(a), ext(partner), 6, 443, SIZES.https, { viaNat: true });
      }
      if (a.role === 'app') add('vault', at(a), at(inv.interfaces.find((e) => e.name === 'vault-1')!), 6, 8200, SIZES.api);
    }
    for (const w of webs) {
      for (const target of serviceAddresses('DYNAMODB')) add('aws-gateway-endpoint', at(w), target, 6, 443, SIZES.api);
      for (const target of serviceAddresses('AMAZON')) add('outbound-via-nat', at(w), target, 6, 443, SIZES.api, { viaNat: true });
    }
  }

  // Every host: DNS to the shared resolvers, SSM through the VPC endpoints, logs to the collector,
  // scraped and pinged by monitoring.
  const resolvers = roles('dns');
  const collector = inv.interfaces.find((e) => e.role === 'log-collector')!;
  const monitoring = inv.interfaces.find((e) => e.role === 'monitoring')!;
  for (const h of hosts) {
    for (const r of resolvers) if (r !== h) add('dns', at(h), at(r), 17, 53, SIZES.dns);
    const endpoints = inv.interfaces.filter((e) => e.role === 'vpc-endpoint' && e.vpcId === h.vpcId);
    for (const vpce of endpoints) add('vpc-endpoint', at(h), at(vpce), 6, 443, SIZES.api);
    if (h !== collector) add('log-shipping', at(h), at(collector), 6, 24224, SIZES.logs, { flags: 'long' });
    if (h !== monitoring) {
      add('monitoring', at(monitoring), at(h), 6, 9100, SIZES.scrape);
      add('icmp', at(monitoring), at(h), 1, 0, SIZES.ping);
    }
  }
  for (const lambda of roles('worker')) for (const r of resolvers) add('dns', at(lambda), at(r), 17, 53, SIZES.dns);

  // CI runners pull packages through the shared NAT and push artefacts to S3.
  for (const ci of roles('ci-runner')) {
    for (const mirror of peers('partner-api').filter((p) => p.name.startsWith('package'))) {
      add('ci', at(ci), ext(mirror), 6, 443, SIZES.download, { viaNat: true });
    }
    for (const target of serviceAddresses('S3')) add('ci', at(ci), target, 6, 443, SIZES.upload);
    for (const vpce of roles('vpc-endpoint', 'shared-services')) add('ci', at(ci), at(vpce), 6, 443, SIZES.api);
  }
  for (const h of hosts.filter((e) => e.role === 'app' || e.role === 'ci-runner')) {
    for (const pager of peers('partner-api').filter((p) => p.name.startsWith('pager'))) {
      add('outbound-via-nat', at(h), ext(pager), 6, 443, SIZES.api, { viaNat: true });
    }
  }

  // Remote access: office → VPN (UDP 1194), VPN → bastions (22), bastions → hosts of their VPC (22).
  const vpn = inv.interfaces.find((e) => e.role === 'vpn')!;
  for (const office of peers('office')) add('remote-access', ext(office), at(vpn), 17, 1194, SIZES.ssh, { clientPorts: WIDE_EPHEMERAL });
  for (const bastion of roles('bastion')) {
    add('remote-access', at(vpn), at(bastion), 6, 22, SIZES.ssh);
    for (const h of hosts.filter((e) => e.vpcId === bastion.vpcId && e !== bastion)) add('remote-access', at(bastion), at(h), 6, 22, SIZES.ssh);
  }

  // Internet background noise: port scans refused by security groups.
  const exposed = [...roles('load-balancer'), ...roles('bastion'), vpn];
  for (const scanner of peers('scanner')) {
    for (const target of exposed) {
      for (const port of [22, 23, 3389, 445, 1433, 5900, 8080]) {
        if (target.role === 'load-balancer' && port === 8080) continue;
        add('scan', ext(scanner), at(target), 6, port, SIZES.probe, { rejected: true, clientPorts: WIDE_EPHEMERAL });
      }
      add('scan', ext(scanner), at(target), 1, 0, SIZES.probe, { rejected: true });
    }
  }

  // The storyline an analyst can find: web-3 probes its neighbours on 22 (refused by their
  // security groups) and beacons to an unknown address through the NAT gateway.
  const web3 = inv.interfaces.find((e) => e.name === 'web-3');
  const c2 = peers('suspicious')[0];
  if (web3 && c2) {
    for (const target of inv.interfaces.filter((e) => e.vpcId === web3.vpcId && e !== web3 && e.role !== 'load-balancer' && e.role !== 'nat-gateway')) {
      add('incident', at(web3), at(target), 6, 22, SIZES.probe, { rejected: true });
    }
    add('incident', at(web3), ext(c2), 6, 443, SIZES.beacon, { viaNat: true });
    add('incident', at(web3), ext(c2), 6, 4444, SIZES.beacon, { viaNat: true });
  }

  assignWeights(out, rng);
  return out;
}

/**
 * Spreads each kind's share over its conversations with a Zipf-like skew (random ranks), so a few
 * peers and pairs dominate, as in real traffic.
 */
function assignWeights(conversations: Conversation[], rng: Prng): void {
  const byKind = new Map<ConversationKind, Conversation[]>();
  for (const c of conversations) {
    const list = byKind.get(c.kind) ?? [];
    list.push(c);
    byKind.set(c.kind, list);
  }
  for (const [kind, list] of byKind) {
    const ranks = rng.shuffled(list.map((_, i) => i + 1));
    const raw = ranks.map((r) => 1 / Math.pow(r, 0.7));
    const total = raw.reduce((a, b) => a + b, 0);
    list.forEach((c, i) => {
      c.weight = (KIND_WEIGHTS[kind] * raw[i]!) / total;
    });
  }
}
