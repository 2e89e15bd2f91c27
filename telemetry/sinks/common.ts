// What every sink shares: the property it serves, the credentials named in the config, KubeEdge's
// time format, and the one mapping from a failure to a code (docs/errors.md).

import { readFileSync } from 'node:fs';
import { edgetwinError, isEdgetwinError, type EdgetwinError } from '../../errors.js';

/** The property a sink was built for (sinks are per property, as `pushMethod` is). */
export interface SinkTarget {
  readonly namespace: string;
  readonly name: string;
  readonly property: string;
  /** KubeEdge's type name of the property (`int`, `float`, `boolean`, `string`, …). */
  readonly type: string;
}

/**
 * One destination's settings from `telemetry.sinks.destinations` in the config (keyed
 * `<method>:<address as the manifest writes it>`). Secrets are read from a file or an environment
 * variable, never from the manifest (a Device is readable by everyone who can list Devices).
 */
export interface DestinationConfig {
  readonly username?: string;
  readonly usernameEnv?: string;
  readonly passwordFile?: string;
  readonly passwordEnv?: string;
  readonly tokenFile?: string;
  readonly tokenEnv?: string;
  /** influxdb2 only: which write API to use (`auto` tries v2, then falls back to v1 on 404). */
  readonly influxApi?: 'auto' | 'v2' | 'v1';
}

export interface Credentials {
  readonly username?: string;
  readonly password?: string;
  readonly token?: string;
}

function secret(file: string | undefined, env: string | undefined, what: string): string | undefined {
  if (file !== undefined) {
    try {
      return readFileSync(file, 'utf8').replace(/\r?\n$/u, '');
    } catch (err) {
      throw edgetwinError('EDGETWIN_ERR_SINK_CONFIG', `${what}: cannot read ${file}: ${(err as Error).message}`);
    }
  }
  if (env !== undefined) {
    const v = process.env[env];
    if (v === undefined) throw edgetwinError('EDGETWIN_ERR_SINK_CONFIG', `${what}: environment variable ${env} is not set`);
    return v;
  }
  return undefined;
}

/** Reads the secrets a destination names; throws EDGETWIN_ERR_SINK_CONFIG when one cannot be read. */
export function readCredentials(dest: DestinationConfig | undefined, where: string): Credentials {
  if (!dest) return {};
  const username = dest.username ?? secret(undefined, dest.usernameEnv, `${where} username`);
  const password = secret(dest.passwordFile, dest.passwordEnv, `${where} password`);
  const token = secret(dest.tokenFile, dest.tokenEnv, `${where} token`);
  return { ...(username !== undefined ? { username } : {}), ...(password !== undefined ? { password } : {}), ...(token !== undefined ? { token } : {}) };
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** Go's `time.Unix(ms/1e3, 0).Format("2006-01-02 15:04:05")`, local time, as mapper-framework writes it. */
export function goTime(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** The value as KubeEdge's DataModel carries it: a string. */
export function wireValue(v: string | number | boolean): string {
  return typeof v === 'string' ? v : String(v);
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EPIPE', 'ECONNABORTED']);

/** An error from a client library, as one of the sink codes. */
export function sinkError(err: unknown, sink: string): EdgetwinError {
  if (isEdgetwinError(err)) return err;
  const e = err as { code?: unknown; name?: unknown; message?: unknown; errno?: unknown; cause?: unknown };
  const code = typeof e.code === 'string' ? e.code : undefined;
  const message = typeof e.message === 'string' ? e.message : String(err);
  const cause = e.cause as { code?: unknown } | undefined;
  const causeCode = typeof cause?.code === 'string' ? cause.code : undefined;
  if (e.name === 'AbortError' || e.name === 'TimeoutError') return edgetwinError('EDGETWIN_ERR_SINK_UNAVAILABLE', `${sink}: no answer in time`, [], err);
  if ((code !== undefined && UNREACHABLE.has(code)) || (causeCode !== undefined && UNREACHABLE.has(causeCode))) {
    return edgetwinError('EDGETWIN_ERR_SINK_UNAVAILABLE', `${sink}: ${code ?? causeCode}: ${message}`, [], err);
  }
  if (/client is (offline|closed)|socket closed/iu.test(message)) return edgetwinError('EDGETWIN_ERR_SINK_UNAVAILABLE', `${sink}: ${message}`, [], err);
  if (code === 'ER_ACCESS_DENIED_ERROR' || code === 'ER_DBACCESS_DENIED_ERROR' || /WRONGPASS|NOAUTH|not authorized|authentication/iu.test(message)) {
    return edgetwinError('EDGETWIN_ERR_SINK_AUTH', `${sink}: ${message}`, [], err);
  }
  return edgetwinError('EDGETWIN_ERR_SINK_REFUSED', `${sink}: ${message}`, [], err);
}

/** Rejects when `signal` aborts (for clients that take no signal). */
export function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(Object.assign(new Error('aborted'), { name: 'AbortError' }));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

/** A client shared by every sink of one destination, closed when the last of them closes. */
export class Shared<T> {
  private readonly entries = new Map<string, { value: T; refs: number }>();
  constructor(private readonly closeOne: (value: T) => Promise<void>) {}

  acquire(key: string, make: () => T): { value: T; release: () => Promise<void> } {
    let entry = this.entries.get(key);
    if (!entry) this.entries.set(key, (entry = { value: make(), refs: 0 }));
    entry.refs++;
    let released = false;
    const e = entry;
    return {
      value: e.value,
      release: async () => {
        if (released) return;
        released = true;
        if (--e.refs === 0) {
          this.entries.delete(key);
          await this.closeOne(e.value);
        }
      },
    };
  }
}
