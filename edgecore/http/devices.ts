// The console's device endpoints (docs/http-api.md): the device list with state and mapper
// health, one device with its model and twin, and setting desired values — through
// DeviceTwin.update, the path MQTT and the CLI take: the same validation against the model, the
// same coded refusals, the same answers on the bus (the delta then drives the mapper).

import { edgetwinError, isEdgetwinError } from '../../errors.js';
import type { DeviceEntry, DeviceTwin } from '../../devicetwin/index.js';
import { isValidName, isValidNamespace, type BrokerAuth } from '../../eventbus/index.js';
import type { MapperRuntime } from '../../mappers/index.js';
import { readJsonObject } from './body.js';
import type { Router } from './router.js';
import { json } from './server.js';
import type { Caller, Sessions } from './session.js';
import type { TwinFeed } from './twin-feed.js';

export type MapperStatus = ReturnType<MapperRuntime['status']>[number];

export interface DeviceSummary {
  readonly id: string;
  readonly namespace: string;
  readonly name: string;
  readonly model: string;
  readonly description?: string;
  readonly protocol: string;
  readonly state: string;
  /** The newest reported value's time (ms), or undefined before any. */
  readonly lastSeen?: number;
  /** Desired values not yet reported back (ack pending, or reported value differs). */
  readonly openDeltas: number;
  /** Desired values whose ack is rejected or failed. */
  readonly failedAcks: number;
  readonly version: number;
  /** The in-process mapper's health; absent for a device an outside mapper serves. */
  readonly mapper?: {
    readonly availability: string;
    readonly lastPollMs?: number;
    readonly polls: number;
    readonly pollFailures: number;
    readonly timeouts: number;
    readonly reconnects: number;
    readonly queued: number;
    readonly lastError?: { readonly code: string; readonly message: string };
  };
}

export interface DeviceSources {
  readonly auth: BrokerAuth;
  readonly sessions: Sessions;
  readonly feed: TwinFeed;
  /** The twin, once edgetwin is ready; undefined while starting or stopping. */
  readonly twin: () => DeviceTwin | undefined;
  readonly mappers: () => readonly MapperStatus[];
  /** The latest poll's duration per device, seconds (MapperRuntime onPoll). */
  readonly pollSeconds: (id: string) => number | undefined;
}

export function summarize(entry: DeviceEntry, mapper: MapperStatus | undefined, pollSeconds: number | undefined): DeviceSummary {
  const { state, instance } = entry;
  let lastSeen: number | undefined;
  let openDeltas = 0;
  let failedAcks = 0;
  for (const twin of Object.values(state.twins)) {
    if (twin.type === 'deleted') continue;
    if (twin.actual && (lastSeen === undefined || twin.actual.timestamp > lastSeen)) lastSeen = twin.actual.timestamp;
    if (twin.expected && (twin.ack?.state === 'pending' || (twin.ack === undefined && twin.expected.value !== twin.actual?.value))) openDeltas++;
    if (twin.ack?.state === 'rejected' || twin.ack?.state === 'failed') failedAcks++;
  }
  return {
    id: state.id,
    namespace: state.namespace,
    name: state.name,
    model: instance.model,
    ...(instance.description !== undefined ? { description: instance.description } : {}),
    protocol: instance.protocol?.protocolName ?? 'none',
    state: state.state,
    ...(lastSeen !== undefined ? { lastSeen } : {}),
    openDeltas,
    failedAcks,
    version: state.version,
    ...(mapper
      ? {
          mapper: {
            availability: mapper.availability,
            ...(pollSeconds !== undefined ? { lastPollMs: Math.round(pollSeconds * 10_000) / 10 } : {}),
            polls: mapper.polls,
            pollFailures: mapper.pollFailures,
            timeouts: mapper.timeouts,
            reconnects: mapper.reconnects,
            queued: mapper.queued,
            ...(mapper.lastError ? { lastError: { code: mapper.lastError.code, message: mapper.lastError.message } } : {}),
          },
        }
      : {}),
  };
}

/** May `caller` see device `id`? (The history rule: app and above, within its devices list.) */
export function maySee(s: DeviceSources, caller: Caller, id: string): boolean {
  return s.auth.authorizeHistory(caller.name, id) === undefined;
}

/** May `caller` set desired values of `id`? The broker's twin-change rule (writer and admin). */
export function mayWrite(s: DeviceSources, caller: Caller, id: string): boolean {
  return maySee(s, caller, id) && s.auth.authorizeChange({ clientId: 'console', ...(caller.name !== undefined ? { username: caller.name } : {}) }, id, new Set(['desired'])) === undefined;
}

export function summaries(s: DeviceSources, twin: DeviceTwin, caller: Caller): DeviceSummary[] {
  const mappers = new Map(s.mappers().map((m) => [m.id, m]));
  return twin
    .list()
    .filter((e) => maySee(s, caller, e.state.id))
    .map((e) => summarize(e, mappers.get(e.state.id), s.pollSeconds(e.state.id)))
    .sort((a, b) => a.id.localeCompare(b.id));
}

function ready(s: DeviceSources): DeviceTwin {
  const twin = s.twin();
  if (!twin) throw edgetwinError('EDGETWIN_ERR_HTTP_NOT_READY', 'edgetwin is starting or stopping; retry in a moment');
  return twin;
}

/** The bound device `ns/name` that `caller` may see; throws 403 before 404, so nothing leaks. */
function deviceFor(s: DeviceSources, caller: Caller, namespace: string, name: string): { twin: DeviceTwin; entry: DeviceEntry } {
  const id = `${namespace}/${name}`;
  const denied = s.auth.authorizeHistory(caller.name, id);
  if (denied) throw denied;
  const twin = ready(s);
  const entry = isValidNamespace(namespace) && isValidName(name) ? twin.list().find((e) => e.state.id === id) : undefined;
  if (!entry) throw edgetwinError('EDGETWIN_ERR_DEVICE_NOT_FOUND', `no device ${JSON.stringify(id.slice(0, 300))} is bound to this node`);
  return { twin, entry };
}

/** The wire string of a JSON value from the form (values travel as strings, as in KubeEdge). */
function wireValue(property: string, value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  throw edgetwinError('EDGETWIN_ERR_HTTP_BODY', `the value of ${JSON.stringify(property.slice(0, 64))} must be a string, a finite number or a boolean`);
}

export function addDeviceRoutes(router: Router, s: DeviceSources): Router {
  return router
    .get('/api/v1/devices', async ({ raw }) => {
      const caller = await s.sessions.identify(raw);
      return json(200, { devices: summaries(s, ready(s), caller) });
    })
    .get('/api/v1/devices/:namespace/:name', async ({ raw, params }) => {
      const caller = await s.sessions.identify(raw);
      const { entry } = deviceFor(s, caller, params.namespace ?? '', params.name ?? '');
      const mapper = s.mappers().find((m) => m.id === entry.state.id);
      return json(200, {
        device: summarize(entry, mapper, s.pollSeconds(entry.state.id)),
        model: { name: entry.model.name, schema: entry.model.schema },
        twin: entry.state,
        canWrite: mayWrite(s, caller, entry.state.id),
        events: s.feed.recent(entry.state.id),
      });
    })
    .put('/api/v1/devices/:namespace/:name/desired', async ({ raw, params }) => {
      const caller = await s.sessions.identify(raw);
      s.sessions.checkChange(raw, caller);
      const { twin, entry } = deviceFor(s, caller, params.namespace ?? '', params.name ?? '');
      const id = entry.state.id;
      const denied = s.auth.authorizeChange({ clientId: 'console', ...(caller.name !== undefined ? { username: caller.name } : {}) }, id, new Set(['desired']));
      if (denied) throw denied;
      const body = await readJsonObject(raw);
      const { values, version } = body;
      const extra = Object.keys(body).filter((k) => k !== 'values' && k !== 'version');
      if (extra.length > 0) throw edgetwinError('EDGETWIN_ERR_HTTP_BODY', `unknown field ${JSON.stringify(extra[0]!.slice(0, 64))}: the body is {"values": {property: value}, "version"?: n}`);
      if (typeof values !== 'object' || values === null || Array.isArray(values) || Object.keys(values).length === 0) {
        throw edgetwinError('EDGETWIN_ERR_HTTP_BODY', 'values must be an object of one or more property: value pairs');
      }
      if (version !== undefined && (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 0)) throw edgetwinError('EDGETWIN_ERR_HTTP_BODY', 'version must be a non-negative integer');
      const twins: Record<string, { expected: string }> = {};
      for (const [property, value] of Object.entries(values as Record<string, unknown>)) twins[property] = { expected: wireValue(property, value) };
      try {
        const next = await twin.update(id, twins, { origin: 'edge', ...(version !== undefined ? { version } : {}) });
        return json(200, { twin: next });
      } catch (err) {
        if (isEdgetwinError(err)) s.feed.noteError(id, `desired ${Object.keys(twins).join(', ')} refused: ${err.message}`, err.code, Object.keys(twins)[0]);
        throw err;
      }
    });
}
