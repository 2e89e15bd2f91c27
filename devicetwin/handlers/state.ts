// `$hw/events/device/<ns>/<name>/state/update` → `state/update/result` (KubeEdge's
// `dealDeviceStateUpdate`). Deliberate differences, documented in docs/mqtt-api.md:
// an unknown state is answered with a coded error instead of silently dropped, and going
// offline keeps the last online time (KubeEdge blanks it, losing exactly what it names).

import { edgetwinError, toEdgetwinError } from '../../errors.js';
import { deviceTopic, type MessageOrigin } from '../../eventbus/index.js';
import { errorResult, type HandlerContext } from '../context.js';
import { parseStateUpdate } from '../parse.js';
import type { DeviceStateName } from '../types.js';
import type { DeviceStateResult } from '../wire.js';

const STATES = new Set<string>(['online', 'offline', 'ok', 'unknown', 'unhealthy']);

/** RFC 3339 without milliseconds, as KubeEdge writes lastOnlineTime. */
export function lastOnlineTime(now: number): string {
  return new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export async function handleStateUpdate(ctx: HandlerContext, namespace: string, name: string, payload: Buffer, from: MessageOrigin = {}): Promise<void> {
  const id = `${namespace}/${name}`;
  const topic = deviceTopic(namespace, name, 'state/update/result');
  const parsed = parseStateUpdate(payload, ctx.limits);
  if (!parsed.ok) {
    ctx.publish(topic, errorResult(parsed.eventId, ctx.now(), parsed.error));
    return;
  }
  const { eventId } = parsed.value;
  const state = parsed.value.state.toLowerCase();
  // KubeEdge ignores `disconnected` (a legacy state some mappers still send): so do we, quietly.
  if (state === 'disconnected') return;
  if (!STATES.has(state)) {
    const error = edgetwinError('EDGETWIN_ERR_STATE_INVALID', `state "${parsed.value.state}" is not one of online, offline, ok, unknown, unhealthy`);
    ctx.publish(topic, errorResult(eventId, ctx.now(), error));
    return;
  }
  const entry = ctx.device(id);
  if (!entry) {
    const error = edgetwinError('EDGETWIN_ERR_DEVICE_NOT_FOUND', `device ${id} is not bound to node ${ctx.nodeName}`);
    ctx.publish(topic, errorResult(eventId, ctx.now(), error));
    return;
  }
  ctx.noteReport(id, from);
  const now = ctx.now();
  const online = state === 'online' || state === 'ok';
  const lastOnline = online ? lastOnlineTime(now) : entry.state.lastOnline;
  if (state !== entry.state.state || (online && lastOnline !== entry.state.lastOnline)) {
    try {
      await ctx.applyState(id, state as DeviceStateName, lastOnline);
    } catch (err) {
      ctx.publish(topic, errorResult(eventId, ctx.now(), toEdgetwinError(err, 'EDGETWIN_ERR_STORE_WRITE')));
      return;
    }
  } else {
    await ctx.settled();
  }
  const result: DeviceStateResult = { event_id: eventId, timestamp: now, device: { name, state, lastOnlineTime: lastOnline } };
  ctx.publish(topic, result);
}

/**
 * Readings from a device say it answers: a device marked `offline` whose actual values arrive
 * is `online` again. Without this, two mappers serving one device (one cut off from it, one
 * not) leave it `offline` for good once the cut-off one says so, since the other only reports
 * its own transitions (docs/mqtt-api.md, device state). A failed commit is logged: the readings
 * themselves are already answered.
 */
export async function onlineOnReadings(ctx: HandlerContext, id: string, from: MessageOrigin): Promise<void> {
  const entry = ctx.device(id);
  if (entry?.state.state !== 'offline' || !ctx.mayReport(id, from)) return;
  try {
    await ctx.applyState(id, 'online', lastOnlineTime(ctx.now()));
  } catch (err) {
    ctx.logger.warn({ err, device: id }, 'could not mark the device online after its readings');
  }
}
