// `$hw/events/device/<ns>/<name>/state/update` → `state/update/result` (KubeEdge's
// `dealDeviceStateUpdate`, edge/pkg/devicetwin/dtmanager/device.go): the state is validated
// case-insensitively and echoed as sent (`OK` stays `OK`), under a fresh event id. Deliberate
// differences, documented in docs/mqtt-api.md: a payload that is not a state update, an
// unknown state or an unknown device is answered with a coded error instead of dropped, and
// going offline keeps the last online time (KubeEdge blanks it, losing exactly what it names).

import { edgetwinError } from '../../errors.js';
import { deviceTopic, type MessageOrigin } from '../../eventbus/index.js';
import { errorResult, type HandlerContext } from '../context.js';
import { refuse } from './update.js';
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
  const sent = parsed.value.state;
  const state = sent.toLowerCase();
  // KubeEdge ignores `disconnected` (a legacy state some mappers still send): so do we, quietly.
  if (state === 'disconnected') return;
  if (!STATES.has(state)) {
    const error = edgetwinError('EDGETWIN_ERR_STATE_INVALID', `state "${sent}" is not one of online, offline, ok, unknown, unhealthy`);
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
      return refuse(ctx, topic, eventId, err);
    }
  } else {
    try {
      await ctx.settled(id);
    } catch (err) {
      return refuse(ctx, topic, eventId, err);
    }
  }
  // KubeEdge's DeviceMsg: `lastOnlineTime` is omitempty, so it is absent until the device has
  // been online once.
  const device: DeviceStateResult['device'] = { name, state: sent, ...(lastOnline !== '' ? { lastOnlineTime: lastOnline } : {}) };
  const result: DeviceStateResult = { event_id: ctx.newEventId(), timestamp: now, device };
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
