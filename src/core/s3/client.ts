/** One way to make S3 clients, for the S3 source, the S3 places (outputs, dead letters) and the lake reader. */
import http from 'node:http';
import https from 'node:https';
import { S3Client } from '@aws-sdk/client-s3';

/** Where and as whom to reach S3 (or an S3-compatible endpoint). */
export interface S3ConnectionOptions {
  /** S3-compatible endpoint, e.g. `http://127.0.0.1:9000`. */
  endpoint?: string;
  /** Default: AWS_REGION, AWS_DEFAULT_REGION, else us-east-1 (wrong regions are followed). */
  region?: string;
  forcePathStyle?: boolean;
  /** Default: the SDK's credential chain (env, profile, instance/task role). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Bound on open connections of a created client (default 128). */
  maxSockets?: number;
}

const DEFAULT_MAX_SOCKETS = 128;

/**
 * Creates an S3 client with bounded sockets, the SDK's standard retries and timeouts that turn a
 * stalled connection into a retryable error instead of a hang.
 */
export function createS3Client(options: S3ConnectionOptions = {}): S3Client {
  // The SDK otherwise prints a Node.js version deprecation warning that users must not see.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const maxSockets = options.maxSockets ?? DEFAULT_MAX_SOCKETS;
  return new S3Client({
    region: options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    endpoint: options.endpoint,
    forcePathStyle: options.forcePathStyle,
    credentials: options.credentials,
    followRegionRedirects: true,
    maxAttempts: 3,
    retryMode: 'standard',
    // gzip objects carry their own CRC32 and length, checked on every read; validating S3's
    // checksums as well would hash every byte a second time in JavaScript.
    responseChecksumValidation: 'WHEN_REQUIRED',
    // Uploads carry no aws-chunked checksum trailer: S3 takes plain bodies, and S3-compatible
    // servers that predate the trailers would store the framing as object bytes.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    requestHandler: {
      httpAgent: new http.Agent({ keepAlive: true, maxSockets }),
      httpsAgent: new https.Agent({ keepAlive: true, maxSockets }),
      connectionTimeout: 10_000,
      // Idle time allowed on a socket, also while a slow consumer holds a body back.
      socketTimeout: 120_000,
    },
  });
}

