/**
 * The VPC Flow Logs field catalogue: every documented field name and how its text is typed.
 *
 * Sources: the "Available fields" table of the AWS VPC user guide (versions 2-8: v2 default
 * fields, v3 ids/tcp-flags/pkt-addresses, v4 location, v5 service/direction/traffic-path,
 * v7 ECS, v8 reject-reason), the later fields seen in the Vector VRL test vectors (resource-id,
 * encryption-status, interface-type, next-hop-*), and the Transit Gateway flow log fields, which
 * share the same text layout. Names not listed here are still accepted (AWS keeps adding
 * fields): they are kept as strings.
 */

/**
 * How a field's text becomes a value; `-` is null for every kind.
 * - String: kept as it is.
 * - Integer: a base-10 integer within the safe JS range; anything else rejects the line.
 * - Ip: kept as a string, but must be a syntactically valid IPv4 or IPv6 address.
 */
export const FieldKind = { String: 0, Integer: 1, Ip: 2 } as const;
export type FieldKind = (typeof FieldKind)[keyof typeof FieldKind];

const INTEGER_FIELDS = [
  'version', 'srcport', 'dstport', 'protocol', 'packets', 'bytes', 'start', 'end', 'tcp-flags',
  'traffic-path', 'encryption-status',
  // Transit Gateway flow logs
  'packets-lost-no-route', 'packets-lost-blackhole', 'packets-lost-mtu-exceeded', 'packets-lost-ttl-expired',
];

const IP_FIELDS = ['srcaddr', 'dstaddr', 'pkt-srcaddr', 'pkt-dstaddr'];

const STRING_FIELDS = [
  // v2
  'account-id', 'interface-id', 'action', 'log-status',
  // v3
  'vpc-id', 'subnet-id', 'instance-id', 'type',
  // v4
  'region', 'az-id', 'sublocation-type', 'sublocation-id',
  // v5
  'pkt-src-aws-service', 'pkt-dst-aws-service', 'flow-direction',
  // v7 (ECS)
  'ecs-cluster-arn', 'ecs-cluster-name', 'ecs-container-instance-arn', 'ecs-container-instance-id',
  'ecs-container-id', 'ecs-second-container-id', 'ecs-service-name', 'ecs-task-definition-arn',
  'ecs-task-arn', 'ecs-task-id',
  // v8 and later
  'reject-reason', 'resource-id', 'interface-type', 'next-hop-interface-id', 'next-hop-subnet-id',
  'next-hop-az-id', 'next-hop-vpc-id', 'next-hop-interface-type',
  // Transit Gateway flow logs
  'resource-type', 'tgw-id', 'tgw-attachment-id', 'tgw-src-vpc-account-id', 'tgw-dst-vpc-account-id',
  'tgw-src-vpc-id', 'tgw-dst-vpc-id', 'tgw-src-subnet-id', 'tgw-dst-subnet-id', 'tgw-src-eni',
  'tgw-dst-eni', 'tgw-src-az-id', 'tgw-dst-az-id', 'tgw-pair-attachment-id',
];

/** Every known field, by its AWS name (dashes), with its kind. */
export const KNOWN_FIELDS: ReadonlyMap<string, FieldKind> = new Map<string, FieldKind>([
  ...INTEGER_FIELDS.map((name) => [name, FieldKind.Integer] as const),
  ...IP_FIELDS.map((name) => [name, FieldKind.Ip] as const),
  ...STRING_FIELDS.map((name) => [name, FieldKind.String] as const),
]);

/** The v2 default format: what CloudWatch Logs delivery carries when no custom format is set. */
export const DEFAULT_FIELDS: readonly string[] = [
  'version', 'account-id', 'interface-id', 'srcaddr', 'dstaddr', 'srcport', 'dstport', 'protocol',
  'packets', 'bytes', 'start', 'end', 'action', 'log-status',
];

/**
 * The AWS spelling of a field name: header lines use dashes (`log-status`), some tools (Vector,
 * Athena) write underscores (`log_status`); both mean the same field.
 */
export function awsFieldName(token: string): string {
  return token.includes('_') ? token.replaceAll('_', '-') : token;
}

/** The key a field gets in a record: the AWS name with `-` replaced by `_`. */
export function recordKey(awsName: string): string {
  return awsName.includes('-') ? awsName.replaceAll('-', '_') : awsName;
}

export function fieldKind(awsName: string): FieldKind {
  return KNOWN_FIELDS.get(awsName) ?? FieldKind.String;
}

/**
 * True if `token` is shaped like a field name: a lower-case letter, then lower-case letters,
 * digits, `-` or `_`. Flow log values that could pass (`eni-0abc`, `ingress`) are told apart
 * from header lines by also requiring a known field name on the line.
 */
export function isFieldNameShaped(token: string, from = 0, to = token.length): boolean {
  if (to <= from) return false;
  const first = token.charCodeAt(from);
  if (first < 97 || first > 122) return false;
  for (let i = from + 1; i < to; i++) {
    const c = token.charCodeAt(i);
    if ((c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45 || c === 95) continue;
    return false;
  }
  return true;
}
