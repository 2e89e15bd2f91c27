// One remote-write POST (https://prometheus.io/docs/specs/remote_write_spec, "Protocol"): the
// snappy-compressed WriteRequest with the spec's three headers, and the spec's reading of the
// answer: 2xx written; 5xx (and 429, which Prometheus's own sender retries) is the receiver's
// trouble, so the same request may succeed later; any other 4xx (and a redirect) is a refusal that
// no retry fixes. Retrying is not done here: the caller (telemetry/outbox/, or the next snapshot
// of own metrics) decides.

import { readFileSync } from 'node:fs';
import { edgetwinError, type EdgetwinError } from '../../errors.js';

/** Credentials, each from a file or an environment variable (never written in the config itself). */
export type RemoteWriteAuthConfig =
  | { readonly username: string; readonly passwordFile?: string; readonly passwordEnv?: string }
  | { readonly bearerTokenFile?: string; readonly bearerTokenEnv?: string };

export interface RemoteWriteClientOptions {
  /** The receiver's endpoint, e.g. `http://prometheus:9090/api/v1/write`. */
  readonly url: string;
  /** Extra request headers (e.g. a tenant header such as `X-Scope-OrgID`); the protocol's own cannot be replaced. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly auth?: RemoteWriteAuthConfig;
  /** Deadline of one request (ms). */
  readonly timeoutMs: number;
  /** Injectable for tests; the global fetch (undici) otherwise. */
  readonly fetch?: typeof fetch;
  /** `User-Agent` (the spec: SHOULD name the sender and its version), e.g. `edgetwin/1.2.0`. */
  readonly userAgent?: string;
  /** Where secrets named by `...Env` are read; process.env by default. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** What one client has sent, for metrics. */
export interface RemoteWriteStats {
  readonly requests: number;
  readonly failures: number;
  readonly refusals: number;
  readonly bytes: number;
  readonly samples: number;
  readonly lastSuccessAt?: number;
}

const PROTOCOL_HEADERS = ['content-encoding', 'content-type', 'x-prometheus-remote-write-version'];
/** How much of a refusal's answer goes into the error message (Prometheus's is one line). */
const ANSWER_CHARS = 300;

/** The `Authorization` header value, or undefined without credentials. Throws EDGETWIN_ERR_REMOTE_WRITE_CREDENTIALS. */
export function authorizationHeader(auth: RemoteWriteAuthConfig | undefined, env: Readonly<Record<string, string | undefined>> = process.env): string | undefined {
  if (auth === undefined) return undefined;
  if ('username' in auth) {
    const password = secret('password', auth.passwordFile, auth.passwordEnv, env);
    return `Basic ${Buffer.from(`${auth.username}:${password}`).toString('base64')}`;
  }
  return `Bearer ${secret('bearer token', auth.bearerTokenFile, auth.bearerTokenEnv, env)}`;
}

function secret(what: string, file: string | undefined, envName: string | undefined, env: Readonly<Record<string, string | undefined>>): string {
  let value: string | undefined;
  let where: string;
  if (file !== undefined) {
    where = `file ${file}`;
    try {
      // A trailing newline is what `echo secret > file` leaves; it is not part of the secret.
      value = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw edgetwinError('EDGETWIN_ERR_REMOTE_WRITE_CREDENTIALS', `the remote-write ${what} ${where} cannot be read: ${(err as Error).message}`, [], err);
    }
  } else if (envName !== undefined) {
    where = `environment variable ${envName}`;
    value = env[envName];
  } else {
    throw edgetwinError('EDGETWIN_ERR_REMOTE_WRITE_CREDENTIALS', `the remote-write ${what} needs a file or an environment variable to be read from`);
  }
  if (value === undefined || value === '') throw edgetwinError('EDGETWIN_ERR_REMOTE_WRITE_CREDENTIALS', `the remote-write ${what} (${where}) is empty or not set`);
  return value;
}

export class RemoteWriteClient {
  private readonly opts: RemoteWriteClientOptions;
  private readonly headers: Record<string, string>;
  private readonly fetch: typeof fetch;
  private counts = { requests: 0, failures: 0, refusals: 0, bytes: 0, samples: 0, lastSuccessAt: undefined as number | undefined };

  /** Reads the credentials now: throws EDGETWIN_ERR_REMOTE_WRITE_CREDENTIALS when they cannot be read. */
  constructor(opts: RemoteWriteClientOptions) {
    this.opts = opts;
    this.fetch = opts.fetch ?? globalThis.fetch;
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(opts.headers ?? {})) if (!PROTOCOL_HEADERS.includes(name.toLowerCase())) headers[name] = value;
    const authorization = authorizationHeader(opts.auth, opts.env);
    if (authorization !== undefined) headers.Authorization = authorization;
    this.headers = {
      ...headers,
      'Content-Encoding': 'snappy',
      'Content-Type': 'application/x-protobuf',
      'X-Prometheus-Remote-Write-Version': '0.1.0',
      'User-Agent': opts.userAgent ?? 'edgetwin',
    };
  }

  stats(): RemoteWriteStats {
    const { lastSuccessAt, ...rest } = this.counts;
    return { ...rest, ...(lastSuccessAt !== undefined ? { lastSuccessAt } : {}) };
  }

  /**
   * POSTs one compressed WriteRequest of `samples` samples. Resolves when the receiver answered
   * 2xx; rejects with EDGETWIN_ERR_REMOTE_WRITE_UNAVAILABLE (unreachable, timed out, aborted,
   * 5xx, 429) or EDGETWIN_ERR_REMOTE_WRITE_REFUSED (another 4xx, a redirect).
   */
  async post(body: Uint8Array, samples: number, signal?: AbortSignal): Promise<void> {
    this.counts.requests++;
    const timeout = AbortSignal.timeout(this.opts.timeoutMs);
    const abort = signal ? AbortSignal.any([signal, timeout]) : timeout;
    let res: Response;
    try {
      res = await this.fetch(this.opts.url, { method: 'POST', headers: this.headers, body, signal: abort, redirect: 'manual' });
    } catch (err) {
      this.counts.failures++;
      const why = timeout.aborted ? `no answer within ${this.opts.timeoutMs} ms` : signal?.aborted ? 'the delivery was aborted' : describe(err);
      throw edgetwinError('EDGETWIN_ERR_REMOTE_WRITE_UNAVAILABLE', `remote write to ${this.opts.url} failed: ${why}`, [], err);
    }
    // The answer is read in full either way, so the connection goes back to the pool.
    const text = await res.text().catch(() => '');
    if (res.status >= 200 && res.status < 300) {
      this.counts.bytes += body.byteLength;
      this.counts.samples += samples;
      this.counts.lastSuccessAt = Date.now();
      return;
    }
    throw this.answerError(res.status, text);
  }

  private answerError(status: number, text: string): EdgetwinError {
    const answer = text.trim().slice(0, ANSWER_CHARS);
    const said = answer === '' ? '' : `: ${answer}`;
    if (status >= 500 || status === 429) {
      this.counts.failures++;
      return edgetwinError('EDGETWIN_ERR_REMOTE_WRITE_UNAVAILABLE', `remote write to ${this.opts.url} answered ${status}${said}`, [{ path: 'status', message: String(status) }]);
    }
    this.counts.refusals++;
    return edgetwinError('EDGETWIN_ERR_REMOTE_WRITE_REFUSED', `remote write to ${this.opts.url} was refused with ${status}${said}`, [{ path: 'status', message: String(status) }]);
  }
}

/** A network error's reason: undici puts the system error (ECONNREFUSED …) in `cause`. */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as Error & { cause?: unknown }).cause;
  if (cause instanceof Error) {
    const code = (cause as Error & { code?: string }).code;
    return code !== undefined ? `${code} (${cause.message})` : cause.message;
  }
  return err.message;
}
