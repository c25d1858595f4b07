/**
 * One error type for the whole engine. Every error carries a stable `code`, the `stage` where it
 * happened and whether retrying the same work could succeed. User-facing messages name the
 * file/object, the line, what was expected and what to do, so the CLI can print them without a
 * stack trace.
 */
export type Stage = 'config' | 'plan' | 'read' | 'decode' | 'transform' | 'sink' | 'ledger';

export interface SluiceErrorOptions {
  code: string;
  stage: Stage;
  retryable?: boolean;
  /** A short hint telling the user what to do about it. */
  hint?: string;
  cause?: unknown;
}

export class SluiceError extends Error {
  readonly code: string;
  readonly stage: Stage;
  readonly retryable: boolean;
  readonly hint?: string;

  constructor(message: string, options: SluiceErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SluiceError';
    this.code = options.code;
    this.stage = options.stage;
    this.retryable = options.retryable ?? false;
    this.hint = options.hint;
  }

  /** The message with its hint, as shown to a user. */
  describe(): string {
    return this.hint ? `${this.message}\n  hint: ${this.hint}` : this.message;
  }

  toJSON(): SerializedError {
    return { message: this.message, code: this.code, stage: this.stage, retryable: this.retryable, hint: this.hint };
  }
}

export interface SerializedError {
  message: string;
  code: string;
  stage: Stage;
  retryable: boolean;
  hint?: string;
}

/** Network-ish Node error codes that are worth another attempt. */
const TRANSIENT_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'EHOSTUNREACH',
  'ENETUNREACH', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'EMFILE',
]);

/**
 * Wraps anything thrown into a SluiceError, keeping an existing one as it is. Unknown errors are
 * treated as retryable when they look transient (network codes, throttling, 5xx).
 */
export function toSluiceError(err: unknown, stage: Stage, context?: string): SluiceError {
  if (err instanceof SluiceError) return err;
  const e = err as { message?: string; code?: string; name?: string; $metadata?: { httpStatusCode?: number }; $retryable?: unknown };
  const message = e?.message ?? String(err);
  const status = e?.$metadata?.httpStatusCode;
  const retryable =
    (e?.code !== undefined && TRANSIENT_CODES.has(e.code)) ||
    e?.$retryable !== undefined ||
    (status !== undefined && (status === 429 || status >= 500)) ||
    e?.name === 'TimeoutError' || e?.name === 'SlowDown' || e?.name === 'InternalError';
  return new SluiceError(context ? `${context}: ${message}` : message, {
    code: e?.code ?? e?.name ?? 'UNKNOWN',
    stage,
    retryable,
    cause: err,
  });
}

export function serializeError(err: unknown, stage: Stage = 'read'): SerializedError {
  return toSluiceError(err, stage).toJSON();
}
