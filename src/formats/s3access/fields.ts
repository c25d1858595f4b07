/**
 * The S3 server access log record, field by field, as the Amazon S3 user guide's "Amazon S3
 * server access log format" lists them (record keys are the documented names in snake_case).
 *
 * AWS has added fields at the end over the years: the first 18 (through `version_id`) are the
 * original format, `host_id` … `tls_version` came later (24 fields), then `access_point_arn` and
 * `acl_required` (26), then `source_region` (27). AWS says more may follow, so lines with more
 * fields are accepted and their extra fields kept as `extra_fields`.
 */

export const S3ACCESS_FIELDS = [
  'bucket_owner',
  'bucket',
  'time',
  'remote_ip',
  'requester',
  'request_id',
  'operation',
  'key',
  'request_uri',
  'http_status',
  'error_code',
  'bytes_sent',
  'object_size',
  'total_time',
  'turn_around_time',
  'referer',
  'user_agent',
  'version_id',
  'host_id',
  'signature_version',
  'cipher_suite',
  'authentication_type',
  'host_header',
  'tls_version',
  'access_point_arn',
  'acl_required',
  'source_region',
] as const;

/** Fewest fields a line may have: the original format, through `version_id` (as in AWS's Athena table). */
export const S3ACCESS_MIN_FIELDS = 18;

/** Column of the bracketed time (`[06/Feb/2019:00:00:38 +0000]`). */
export const TIME_COLUMN = 2;

/** Columns typed as integers (`-` is null). */
export const INTEGER_COLUMNS: ReadonlySet<number> = new Set(
  ['http_status', 'bytes_sent', 'object_size', 'total_time', 'turn_around_time'].map((name) =>
    S3ACCESS_FIELDS.indexOf(name as (typeof S3ACCESS_FIELDS)[number]),
  ),
);
