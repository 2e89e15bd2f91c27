// A complete edgetwin mapper for devices that expose their state as JSON over HTTP
// (`GET /state` → {"temperature": 21.5, ...}, `PUT /state/<key>` with a JSON value).
// docs/writing-a-mapper.md walks through this file; mapper.test.ts runs the conformance suite.

// Only edgetwin's public entry points, as in an outside package (inside this repository
// tsconfig.json `paths` and vitest.config.ts resolve them to the sources).
import { edgetwinError, isEdgetwinError, type EdgetwinError } from 'edgetwin';
import type { DeviceDriver, DriverProperty, DriverState, MapperFactory, ReadResult } from 'edgetwin/sdk';

// 1. The config the mapper accepts, as JSON Schema. The runtime validates every Device's
//    `spec.protocol.configData` and each property's `visitors.configData` against these.
interface HttpProtocol { readonly url: string; readonly timeoutMs?: number }
interface HttpVisitor { readonly key: string }

const protocolConfigSchema = {
  type: 'object',
  properties: { url: { type: 'string', pattern: '^https?://' }, timeoutMs: { type: 'integer', minimum: 1 } },
  required: ['url'],
  additionalProperties: false,
} as const;

const visitorConfigSchema = {
  type: 'object',
  properties: { key: { type: 'string', minLength: 1 } },
  required: ['key'],
  additionalProperties: false,
} as const;

// 2. Device errors become coded errors; the runtime retries, backs off and tracks availability.
function toCoded(err: unknown, url: string): EdgetwinError {
  const e = err as { name?: string; message?: string };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') {
    return edgetwinError('EDGETWIN_ERR_MAPPER_TIMEOUT', `${url} did not answer in time`);
  }
  return edgetwinError('EDGETWIN_ERR_MAPPER_CONNECTION', `${url}: ${e.message ?? String(err)}`);
}

// 3. The driver: batched read, write, state, close. No scheduling, no retries: the runtime does that.
class HttpJsonDriver implements DeviceDriver {
  private connection: DriverState = 'unknown';
  constructor(private readonly protocol: HttpProtocol) {}

  async read(properties: readonly DriverProperty[], signal: AbortSignal): Promise<readonly ReadResult[]> {
    // One request serves the whole batch: that is why `read` takes a batch.
    const state = await this.request('GET', '/state', undefined, signal) as Record<string, unknown>;
    return properties.map((p): ReadResult => {
      const value = state[(p.visitor as HttpVisitor).key];
      if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'string') return { ok: true, value };
      return { ok: false, error: edgetwinError('EDGETWIN_ERR_VALUE_TYPE', `the device has no scalar "${(p.visitor as HttpVisitor).key}"`) };
    });
  }

  async write(property: DriverProperty, value: number | boolean | string | Uint8Array, signal: AbortSignal): Promise<void> {
    await this.request('PUT', `/state/${encodeURIComponent((property.visitor as HttpVisitor).key)}`, value, signal);
  }

  state(): DriverState {
    return this.connection;
  }

  close(): Promise<void> {
    this.connection = 'offline'; // fetch keeps no connection of ours open
    return Promise.resolve();
  }

  private async request(method: string, path: string, body: unknown, signal: AbortSignal): Promise<unknown> {
    const url = new URL(path, this.protocol.url).href;
    const timeout = AbortSignal.timeout(this.protocol.timeoutMs ?? 2000);
    try {
      const res = await fetch(url, {
        method,
        signal: AbortSignal.any([signal, timeout]),
        ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
      });
      if (!res.ok) throw edgetwinError('EDGETWIN_ERR_MAPPER_CONNECTION', `${method} ${url}: HTTP ${res.status}`);
      this.connection = 'online';
      return res.status === 204 ? undefined : await res.json();
    } catch (err) {
      this.connection = 'offline';
      throw isEdgetwinError(err) ? err : toCoded(err, url);
    }
  }
}

// 4. The factory: protocol name, schemas, and connect(). connect() must not touch the network:
//    the driver connects on first use (and again after any failure).
export const httpJsonMapper: MapperFactory<HttpProtocol, HttpVisitor> = {
  protocol: 'http-json',
  protocolConfigSchema,
  visitorConfigSchema,
  connect: (_ctx, device) => new HttpJsonDriver(device.protocol),
};
