// `$hw/events/device/<ns>/<name>/state/update` → `state/update/result` (KubeEdge's
// `dealDeviceStateUpdate`). Deliberate differences, documented in docs/mqtt-api.md:
// an unknown state is answered with a coded error instead of silently dropped, and going
// offline keeps the last online time (KubeEdge blanks it, losing exactly what it names).

import { edgetwinError } from '../../errors.js';
import { deviceTopic } from '../../eventbus/index.js';
import { errorResult, type HandlerContext } from '../context.js';
import { refuse } from './update.js';
import { parseStateUpdate } from '../parse.js';
import type { DeviceStateName } from '../types.js';
import type { DeviceStateResult } from '../wire.js';

const STATES = new Set<string>(['online', 'offline', 'ok', 'unknown', 'unhealthy']);

export async function handleStateUpdate(ctx: HandlerContext, namespace: string, name: string, payload: Buffer): Promise<void> {
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
  const now = ctx.now();
  const online = state === 'online' || state === 'ok';
  const lastOnline = online ? new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z') : entry.state.lastOnline;
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
  const result: DeviceStateResult = { event_id: eventId, timestamp: now, device: { name, state, lastOnlineTime: lastOnline } };
  ctx.publish(topic, result);
}
