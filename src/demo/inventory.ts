/**
 * A realistic, deterministic AWS estate for the demo and the benchmarks: two accounts in
 * eu-west-1, three VPCs (prod, staging, shared-services), their subnets, ~60 network interfaces
 * with friendly names, external peers and AWS service ranges. The flow-log generator draws its
 * traffic from it and the enrichment tables (`inventoryTablesCsv`) describe the same estate, so
 * every ENI, subnet, VPC and instance id in generated logs can be turned back into a name.
 *
 * Invariants: the same seed gives the same estate; every id, name and address is unique; every
 * private IP lies inside its subnet, every subnet inside its VPC. Public addresses come from the
 * documentation ranges (RFC 5737 TEST-NETs, RFC 3849 2001:db8::/32) plus a few addresses of the
 * MaxMind GeoIP test databases, so GeoIP lookups in tests return something. Account ids are the
 * placeholders used throughout the AWS documentation.
 */
import { Prng } from './prng.js';

export type InterfaceRole =
  | 'load-balancer'
  | 'nat-gateway'
  | 'bastion'
  | 'web'
  | 'app'
  | 'worker'
  | 'database'
  | 'cache'
  | 'vpc-endpoint'
  | 'dns'
  | 'monitoring'
  | 'ci-runner'
  | 'vault'
  | 'log-collector'
  | 'vpn'
  | 'broker';

export interface DemoAccount {
  id: string;
  name: string;
}

export interface DemoVpc {
  id: string;
  name: string;
  cidr: string;
  ipv6Cidr?: string;
  accountId: string;
  region: string;
  /** The flow log capturing this VPC (one per VPC, delivered to S3). */
  flowLogId: string;
}

export interface DemoSubnet {
  id: string;
  name: string;
  vpcId: string;
  cidr: string;
  ipv6Cidr?: string;
  availabilityZone: string;
  azId: string;
  public: boolean;
}

export interface DemoInstance {
  id: string;
  name: string;
  instanceType: string;
  interfaceId: string;
}

export interface DemoInterface {
  id: string;
  /** Friendly name: the instance's Name tag, or the managed resource's name. */
  name: string;
  /** What AWS writes in the ENI description ("Primary network interface", "ELB app/…", …). */
  description: string;
  role: InterfaceRole;
  /** Absent for managed ENIs (load balancers, NAT gateways, RDS, endpoints), like in real logs. */
  instanceId?: string;
  subnetId: string;
  vpcId: string;
  accountId: string;
  privateIp: string;
  ipv6?: string;
  /** The port this ENI serves, when it is a server (web 80, app 8080, postgres 5432, …). */
  servicePort?: number;
}

export type PeerKind = 'client' | 'office' | 'scanner' | 'partner-api' | 'suspicious';

export interface DemoPeer {
  ip: string;
  name: string;
  kind: PeerKind;
}

export interface DemoServiceRange {
  /** The value AWS writes in pkt-src-aws-service / pkt-dst-aws-service. */
  service: 'S3' | 'DYNAMODB' | 'AMAZON';
  cidr: string;
  /** A handful of addresses inside `cidr` that traffic uses. */
  addresses: string[];
}

export interface DemoInventory {
  seed: number;
  region: string;
  accounts: DemoAccount[];
  vpcs: DemoVpc[];
  subnets: DemoSubnet[];
  interfaces: DemoInterface[];
  instances: DemoInstance[];
  externalPeers: DemoPeer[];
  awsServices: DemoServiceRange[];
}

// ---------------------------------------------------------------------------------------------
// The estate's shape. Ids and addresses are drawn from the seed; names and topology are fixed so
// a demo reads the same every time.

interface InterfaceSpec {
  name: string;
  role: InterfaceRole;
  subnet: string;
  /** EC2 instance type; absent for managed ENIs. */
  instanceType?: string;
  servicePort?: number;
  /** Builds the AWS-style description from a few generated ids. */
  description?: (ids: ManagedIds) => string;
  ipv6?: boolean;
}

interface ManagedIds {
  hex17: string;
  hex16: string;
  vpcName: string;
}

interface SubnetSpec {
  name: string;
  third: number;
  az: 'a' | 'b' | 'c';
  public: boolean;
  ipv6?: boolean;
}

interface VpcSpec {
  name: string;
  account: number;
  second: number;
  ipv6?: boolean;
  subnets: SubnetSpec[];
  interfaces: InterfaceSpec[];
}

const REGION = 'eu-west-1';
const PRIMARY = 'Primary network interface';

const ACCOUNTS: DemoAccount[] = [
  { id: '111122223333', name: 'production' },
  { id: '444455556666', name: 'staging' },
];

const range = (n: number, f: (i: number) => InterfaceSpec): InterfaceSpec[] => Array.from({ length: n }, (_, i) => f(i + 1));

const VPC_SPECS: VpcSpec[] = [
  {
    name: 'prod',
    account: 0,
    second: 10,
    ipv6: true,
    subnets: [
      { name: 'public-a', third: 0, az: 'a', public: true, ipv6: true },
      { name: 'public-b', third: 1, az: 'b', public: true, ipv6: true },
      { name: 'app-tier-1', third: 10, az: 'a', public: false },
      { name: 'app-tier-2', third: 11, az: 'b', public: false },
      { name: 'app-tier-3', third: 12, az: 'c', public: false },
      { name: 'db-tier-1', third: 20, az: 'a', public: false },
    ],
    interfaces: [
      { name: 'prod-web-alb-a', role: 'load-balancer', subnet: 'public-a', ipv6: true, description: (x) => `ELB app/prod-web-alb/${x.hex16}` },
      { name: 'prod-web-alb-b', role: 'load-balancer', subnet: 'public-b', ipv6: true, description: (x) => `ELB app/prod-web-alb/${x.hex16}` },
      { name: 'prod-nat-a', role: 'nat-gateway', subnet: 'public-a', description: (x) => `Interface for NAT Gateway nat-${x.hex17}` },
      { name: 'bastion-1', role: 'bastion', subnet: 'public-a', instanceType: 't3.micro', servicePort: 22 },
      ...range(8, (i) => ({ name: `web-${i}`, role: 'web' as const, subnet: `app-tier-${((i - 1) % 3) + 1}`, instanceType: 'c6i.large', servicePort: 80 })),
      ...range(10, (i) => ({ name: `app-${i}`, role: 'app' as const, subnet: `app-tier-${((i - 1) % 3) + 1}`, instanceType: 'm6i.xlarge', servicePort: 8080 })),
      ...range(3, (i) => ({ name: `kafka-${i}`, role: 'broker' as const, subnet: `app-tier-${i}`, instanceType: 'r6i.large', servicePort: 9092 })),
      { name: 'orders-worker-1', role: 'worker', subnet: 'app-tier-1', description: (x) => `AWS Lambda VPC ENI-orders-worker-${x.hex16.slice(0, 8)}-${x.hex16.slice(8, 12)}` },
      { name: 'orders-worker-2', role: 'worker', subnet: 'app-tier-2', description: (x) => `AWS Lambda VPC ENI-orders-worker-${x.hex16.slice(0, 8)}-${x.hex16.slice(8, 12)}` },
      { name: 'db-primary', role: 'database', subnet: 'db-tier-1', servicePort: 5432, description: () => 'RDSNetworkInterface' },
      { name: 'db-replica-1', role: 'database', subnet: 'db-tier-1', servicePort: 5432, description: () => 'RDSNetworkInterface' },
      { name: 'mysql-legacy-1', role: 'database', subnet: 'db-tier-1', instanceType: 'r6i.large', servicePort: 3306 },
      { name: 'prod-redis-001', role: 'cache', subnet: 'db-tier-1', servicePort: 6379, description: () => 'ElastiCache prod-redis-0001-001' },
      { name: 'prod-vpce-ssm', role: 'vpc-endpoint', subnet: 'app-tier-1', servicePort: 443, description: (x) => `VPC Endpoint Interface vpce-${x.hex17}` },
      { name: 'prod-vpce-logs', role: 'vpc-endpoint', subnet: 'app-tier-2', servicePort: 443, description: (x) => `VPC Endpoint Interface vpce-${x.hex17}` },
    ],
  },
  {
    name: 'staging',
    account: 1,
    second: 20,
    subnets: [
      { name: 'public-a', third: 0, az: 'a', public: true },
      { name: 'app-tier-1', third: 10, az: 'a', public: false },
      { name: 'app-tier-2', third: 11, az: 'b', public: false },
      { name: 'db-tier-1', third: 20, az: 'a', public: false },
    ],
    interfaces: [
      { name: 'stg-web-alb-a', role: 'load-balancer', subnet: 'public-a', description: (x) => `ELB app/stg-web-alb/${x.hex16}` },
      { name: 'stg-nat-a', role: 'nat-gateway', subnet: 'public-a', description: (x) => `Interface for NAT Gateway nat-${x.hex17}` },
      { name: 'stg-bastion-1', role: 'bastion', subnet: 'public-a', instanceType: 't3.micro', servicePort: 22 },
      ...range(3, (i) => ({ name: `stg-web-${i}`, role: 'web' as const, subnet: `app-tier-${((i - 1) % 2) + 1}`, instanceType: 't3.medium', servicePort: 80 })),
      ...range(4, (i) => ({ name: `stg-app-${i}`, role: 'app' as const, subnet: `app-tier-${((i - 1) % 2) + 1}`, instanceType: 't3.large', servicePort: 8080 })),
      { name: 'stg-worker-1', role: 'worker', subnet: 'app-tier-1', description: (x) => `AWS Lambda VPC ENI-stg-orders-worker-${x.hex16.slice(0, 8)}-${x.hex16.slice(8, 12)}` },
      { name: 'stg-db', role: 'database', subnet: 'db-tier-1', servicePort: 5432, description: () => 'RDSNetworkInterface' },
      { name: 'stg-redis-001', role: 'cache', subnet: 'db-tier-1', servicePort: 6379, description: () => 'ElastiCache stg-redis-0001-001' },
    ],
  },
  {
    name: 'shared-services',
    account: 0,
    second: 0,
    subnets: [
      { name: 'public-a', third: 0, az: 'a', public: true },
      { name: 'ops-tier-1', third: 10, az: 'a', public: false },
      { name: 'ops-tier-2', third: 11, az: 'b', public: false },
      { name: 'endpoints-a', third: 30, az: 'a', public: false },
    ],
    interfaces: [
      { name: 'shared-nat-a', role: 'nat-gateway', subnet: 'public-a', description: (x) => `Interface for NAT Gateway nat-${x.hex17}` },
      { name: 'vpn-gw-1', role: 'vpn', subnet: 'public-a', instanceType: 't3.small', servicePort: 1194 },
      { name: 'dns-1', role: 'dns', subnet: 'ops-tier-1', instanceType: 't3.small', servicePort: 53 },
      { name: 'dns-2', role: 'dns', subnet: 'ops-tier-2', instanceType: 't3.small', servicePort: 53 },
      { name: 'monitoring-1', role: 'monitoring', subnet: 'ops-tier-1', instanceType: 'm6i.large', servicePort: 9090 },
      { name: 'log-collector-1', role: 'log-collector', subnet: 'ops-tier-1', instanceType: 'm6i.large', servicePort: 24224 },
      { name: 'vault-1', role: 'vault', subnet: 'ops-tier-2', instanceType: 't3.medium', servicePort: 8200 },
      ...range(4, (i) => ({ name: `ci-runner-${i}`, role: 'ci-runner' as const, subnet: `ops-tier-${((i - 1) % 2) + 1}`, instanceType: 'c6i.2xlarge' })),
      { name: 'shared-vpce-sts', role: 'vpc-endpoint', subnet: 'endpoints-a', servicePort: 443, description: (x) => `VPC Endpoint Interface vpce-${x.hex17}` },
      { name: 'shared-vpce-secretsmanager', role: 'vpc-endpoint', subnet: 'endpoints-a', servicePort: 443, description: (x) => `VPC Endpoint Interface vpce-${x.hex17}` },
    ],
  },
];

/** Addresses from the MaxMind GeoIP2 test databases (GB, SE, US, BT, CN…), for geo enrichment. */
const GEO_TEST_CLIENTS = ['81.2.69.142', '81.2.69.160', '89.160.20.112', '89.160.20.128', '216.160.83.56', '2.125.160.216', '67.43.156.14'];

/** Illustrative AWS service prefixes for eu-west-1, in the style of ip-ranges.json. */
const SERVICE_RANGES: Array<{ service: DemoServiceRange['service']; cidr: string; base: [number, number]; span: number }> = [
  { service: 'S3', cidr: '52.218.0.0/17', base: [52, 218], span: 128 },
  { service: 'DYNAMODB', cidr: '52.94.24.0/23', base: [52, 94], span: 0 },
  { service: 'AMAZON', cidr: '52.95.244.0/24', base: [52, 95], span: 0 },
];

/**
 * Builds the demo estate. The same seed always gives the same ids and addresses.
 *
 * @example
 * const inv = buildDemoInventory();
 * inv.interfaces.find((eni) => eni.name === 'db-primary')?.privateIp // '10.10.20.x'
 */
export function buildDemoInventory(seed = 1): DemoInventory {
  const rng = new Prng(seed);
  const ids = new UniqueIds(rng);
  const accounts = ACCOUNTS.map((a) => ({ ...a }));
  const vpcs: DemoVpc[] = [];
  const subnets: DemoSubnet[] = [];
  const interfaces: DemoInterface[] = [];
  const instances: DemoInstance[] = [];

  // AZ names map to AZ ids differently in every account, as in AWS.
  const azIdsByAccount = accounts.map(() => rng.shuffled(['euw1-az1', 'euw1-az2', 'euw1-az3']));

  for (const spec of VPC_SPECS) {
    const account = accounts[spec.account]!;
    const ipv6Base = spec.ipv6 ? `2a05:d018:${rng.between(0x100, 0xfff).toString(16)}:${rng.between(0x10, 0xff).toString(16)}` : undefined;
    const vpc: DemoVpc = {
      id: ids.next('vpc-'),
      name: spec.name,
      cidr: `10.${spec.second}.0.0/16`,
      ipv6Cidr: ipv6Base ? `${ipv6Base}00::/56` : undefined,
      accountId: account.id,
      region: REGION,
      flowLogId: ids.next('fl-'),
    };
    vpcs.push(vpc);

    const subnetByName = new Map<string, DemoSubnet>();
    const freeHosts = new Map<string, number[]>();
    spec.subnets.forEach((s, index) => {
      const azIndex = s.az.charCodeAt(0) - 97;
      const subnet: DemoSubnet = {
        id: ids.next('subnet-'),
        name: s.name,
        vpcId: vpc.id,
        cidr: `10.${spec.second}.${s.third}.0/24`,
        ipv6Cidr: ipv6Base && s.ipv6 ? `${ipv6Base}${index.toString(16).padStart(2, '0')}::/64` : undefined,
        availabilityZone: `${REGION}${s.az}`,
        azId: azIdsByAccount[spec.account]![azIndex]!,
        public: s.public,
      };
      subnets.push(subnet);
      subnetByName.set(s.name, subnet);
      // AWS reserves .0–.3 and .255 of every subnet.
      freeHosts.set(s.name, rng.shuffled(Array.from({ length: 250 }, (_, i) => i + 4)));
    });

    for (const eni of spec.interfaces) {
      const subnet = subnetByName.get(eni.subnet);
      if (!subnet) throw new Error(`demo inventory: interface ${eni.name} names unknown subnet ${eni.subnet} in VPC ${spec.name}`);
      const host = freeHosts.get(eni.subnet)!.pop()!;
      const id = ids.next('eni-');
      const instanceId = eni.instanceType ? ids.next('i-') : undefined;
      const managed: ManagedIds = { hex17: `0${rng.hex(16)}`, hex16: rng.hex(16), vpcName: spec.name };
      const ipv6 =
        eni.ipv6 && subnet.ipv6Cidr
          ? `${subnet.ipv6Cidr.replace('::/64', '')}:${[0, 1, 2, 3].map(() => rng.between(0x1000, 0xffff).toString(16)).join(':')}`
          : undefined;
      interfaces.push({
        id,
        name: eni.name,
        description: eni.description ? eni.description(managed) : PRIMARY,
        role: eni.role,
        instanceId,
        subnetId: subnet.id,
        vpcId: vpc.id,
        accountId: account.id,
        privateIp: `10.${spec.second}.${subnet.cidr.split('.')[2]}.${host}`,
        ipv6,
        servicePort: eni.servicePort,
      });
      if (instanceId) instances.push({ id: instanceId, name: eni.name, instanceType: eni.instanceType!, interfaceId: id });
    }
  }

  return {
    seed,
    region: REGION,
    accounts,
    vpcs,
    subnets,
    interfaces,
    instances,
    externalPeers: buildPeers(rng),
    awsServices: SERVICE_RANGES.map((r) => ({
      service: r.service,
      cidr: r.cidr,
      addresses: Array.from({ length: 4 }, () => {
        const third = r.span > 0 ? rng.int(r.span) : r.service === 'DYNAMODB' ? 24 + rng.int(2) : 244;
        return `${r.base[0]}.${r.base[1]}.${third}.${rng.between(1, 254)}`;
      }),
    })),
  };
}

function buildPeers(rng: Prng): DemoPeer[] {
  const peers: DemoPeer[] = [];
  const used = new Set<string>();
  const add = (ip: string, name: string, kind: PeerKind) => {
    if (used.has(ip)) return;
    used.add(ip);
    peers.push({ ip, name, kind });
  };
  // Fixed, recognisable characters first so random picks never take their addresses.
  add('198.51.100.200', 'payments-api.partner.example', 'partner-api');
  add('192.0.2.80', 'package-mirror.example', 'partner-api');
  add('203.0.113.40', 'pager.vendor.example', 'partner-api');
  add('203.0.113.99', 'unknown-host-203-0-113-99', 'suspicious');
  add('198.51.100.7', 'office-dublin', 'office');
  add('198.51.100.8', 'office-lisbon', 'office');
  add('192.0.2.13', 'scanner-192-0-2-13', 'scanner');
  add('203.0.113.66', 'scanner-203-0-113-66', 'scanner');
  add('175.16.199.42', 'scanner-175-16-199-42', 'scanner');
  add('89.160.20.156', 'scanner-89-160-20-156', 'scanner');
  let n = 1;
  while (peers.filter((p) => p.kind === 'client').length < 14) add(`198.51.100.${rng.between(1, 190)}`, `customer-${n++}`, 'client');
  while (peers.filter((p) => p.kind === 'client').length < 18) add(`203.0.113.${rng.between(100, 250)}`, `customer-${n++}`, 'client');
  for (const ip of GEO_TEST_CLIENTS) add(ip, `customer-${n++}`, 'client');
  add('2001:db8:85a3::8a2e:370:7334', `customer-${n++}`, 'client');
  add(`2001:db8:1234:a100::${rng.between(0x100, 0xfff).toString(16)}`, `customer-${n++}`, 'client');
  return peers;
}

/** Hands out `<prefix>0` + 16 hex ids (17 hex digits, like current AWS ids), never twice. */
class UniqueIds {
  private readonly seen = new Set<string>();
  constructor(private readonly rng: Prng) {}
  next(prefix: string): string {
    for (;;) {
      const id = `${prefix}0${this.rng.hex(16)}`;
      if (!this.seen.has(id)) {
        this.seen.add(id);
        return id;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Enrichment tables.

export type InventoryTableName = 'interfaces.csv' | 'subnets.csv' | 'vpcs.csv' | 'instances.csv' | 'networks.csv';

/**
 * The estate as CSV lookup tables (header row first, `\n` line ends, RFC 4180 quoting), the shape
 * an enrichment step loads: ENI → name/instance/subnet/VPC, subnet → name, VPC → name, instance →
 * name, and `networks.csv` for longest-prefix matches on addresses (VPC ranges, AWS service
 * ranges, documentation ranges and the named external peers as /32 or /128).
 */
export function inventoryTablesCsv(inv: DemoInventory): Record<InventoryTableName, string> {
  const vpcName = new Map(inv.vpcs.map((v) => [v.id, v.name]));
  const networks: string[][] = [
    ...inv.vpcs.map((v) => [v.cidr, `vpc ${v.name}`, 'vpc']),
    ...inv.vpcs.filter((v) => v.ipv6Cidr).map((v) => [v.ipv6Cidr!, `vpc ${v.name}`, 'vpc']),
    ...inv.subnets.map((s) => [s.cidr, `${vpcName.get(s.vpcId)}/${s.name}`, 'subnet']),
    ...inv.subnets.filter((s) => s.ipv6Cidr).map((s) => [s.ipv6Cidr!, `${vpcName.get(s.vpcId)}/${s.name}`, 'subnet']),
    ...inv.awsServices.map((r) => [r.cidr, `AWS ${r.service} ${inv.region}`, 'aws-service']),
    ['192.0.2.0/24', 'TEST-NET-1', 'external'],
    ['198.51.100.0/24', 'TEST-NET-2', 'external'],
    ['203.0.113.0/24', 'TEST-NET-3', 'external'],
    ['2001:db8::/32', 'IPv6 documentation range', 'external'],
    ...inv.externalPeers.map((p) => [`${p.ip}/${p.ip.includes(':') ? 128 : 32}`, p.name, p.kind]),
  ];
  return {
    'interfaces.csv': toCsv(
      ['interface_id', 'interface_name', 'description', 'instance_id', 'subnet_id', 'vpc_id', 'private_ip', 'ipv6_address', 'account_id'],
      inv.interfaces.map((e) => [e.id, e.name, e.description, e.instanceId ?? '', e.subnetId, e.vpcId, e.privateIp, e.ipv6 ?? '', e.accountId]),
    ),
    'subnets.csv': toCsv(
      ['subnet_id', 'subnet_name', 'vpc_id', 'cidr', 'ipv6_cidr', 'availability_zone', 'az_id'],
      inv.subnets.map((s) => [s.id, s.name, s.vpcId, s.cidr, s.ipv6Cidr ?? '', s.availabilityZone, s.azId]),
    ),
    'vpcs.csv': toCsv(
      ['vpc_id', 'vpc_name', 'cidr', 'ipv6_cidr', 'account_id', 'region'],
      inv.vpcs.map((v) => [v.id, v.name, v.cidr, v.ipv6Cidr ?? '', v.accountId, v.region]),
    ),
    'instances.csv': toCsv(
      ['instance_id', 'instance_name', 'instance_type', 'interface_id'],
      inv.instances.map((i) => [i.id, i.name, i.instanceType, i.interfaceId]),
    ),
    'networks.csv': toCsv(['cidr', 'network_name', 'kind'], networks),
  };
}

function toCsv(header: string[], rows: string[][]): string {
  const quote = (v: string) => (/[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  return [header, ...rows].map((row) => row.map(quote).join(',')).join('\n') + '\n';
}
