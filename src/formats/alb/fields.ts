/**
 * The Application Load Balancer access log entry, field by field, in the order of the ELB user
 * guide's "Access log entries" table, and the record keys each field becomes.
 *
 * AWS has added fields at the end over the years: the first 18 (through `trace_id`) are the
 * original 2016 format; later came `domain_name`, `chosen_cert_arn`, `matched_rule_priority`,
 * `request_creation_time`, `actions_executed`, `redirect_url`, `error_reason` (25),
 * `target:port_list`, `target_status_code_list` (27), `classification`,
 * `classification_reason` (29), `conn_trace_id` (30) and the request-transform fields
 * `transformed_host`, `transformed_uri`, `request_transform_status` (33). Later fields are
 * kept in `extra_fields`.
 */

/** How a field's text becomes values; `-` (quoted or not) is null for every kind. */
export const AlbKind = {
  /** Kept as text. */
  String: 0,
  /** A decimal integer (may be negative). */
  Integer: 1,
  /** A decimal number (`0.001`, `-1`). */
  Decimal: 2,
  /** `ip:port`, split into two keys (`-` makes both null). */
  Endpoint: 3,
  /** `METHOD URL PROTOCOL`, kept whole and split into three more keys when well formed. */
  Request: 4,
  /** The entry's ISO 8601 time: kept as text, and the record's `time`. */
  Time: 5,
} as const;
export type AlbKind = (typeof AlbKind)[keyof typeof AlbKind];

export interface AlbField {
  /** The name in the AWS table. */
  name: string;
  kind: AlbKind;
  /** Record keys this field fills, in order. */
  keys: readonly string[];
}

const field = (name: string, kind: AlbKind, keys: readonly string[] = [name]): AlbField => ({ name, kind, keys });

export const ALB_FIELDS: readonly AlbField[] = [
  field('type', AlbKind.String),
  field('time', AlbKind.Time),
  field('elb', AlbKind.String),
  field('client:port', AlbKind.Endpoint, ['client_ip', 'client_port']),
  field('target:port', AlbKind.Endpoint, ['target_ip', 'target_port']),
  field('request_processing_time', AlbKind.Decimal),
  field('target_processing_time', AlbKind.Decimal),
  field('response_processing_time', AlbKind.Decimal),
  field('elb_status_code', AlbKind.Integer),
  field('target_status_code', AlbKind.Integer),
  field('received_bytes', AlbKind.Integer),
  field('sent_bytes', AlbKind.Integer),
  field('request', AlbKind.Request, ['request', 'request_method', 'request_url', 'request_protocol']),
  field('user_agent', AlbKind.String),
  field('ssl_cipher', AlbKind.String),
  field('ssl_protocol', AlbKind.String),
  field('target_group_arn', AlbKind.String),
  field('trace_id', AlbKind.String),
  field('domain_name', AlbKind.String),
  field('chosen_cert_arn', AlbKind.String),
  field('matched_rule_priority', AlbKind.Integer),
  field('request_creation_time', AlbKind.String),
  field('actions_executed', AlbKind.String),
  field('redirect_url', AlbKind.String),
  field('error_reason', AlbKind.String),
  field('target:port_list', AlbKind.String, ['target_port_list']),
  field('target_status_code_list', AlbKind.String),
  field('classification', AlbKind.String),
  field('classification_reason', AlbKind.String),
  field('conn_trace_id', AlbKind.String),
  field('transformed_host', AlbKind.String),
  field('transformed_uri', AlbKind.String),
  field('request_transform_status', AlbKind.String),
];

/** Fewest fields a line may have: the original format, through `trace_id`. */
export const ALB_MIN_FIELDS = 18;

/** Every record key, in order (one per value slot). */
export const ALB_RECORD_KEYS: readonly string[] = ALB_FIELDS.flatMap((f) => f.keys);
