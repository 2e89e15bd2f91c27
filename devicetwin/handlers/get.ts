// `$hw/events/device/<ns>/<name>/twin/get` → `twin/get/result`: every non-deleted twin,
// versions stripped (KubeEdge), plus edgetwin's twin `version` for optimistic concurrency.

import { edgetwinError } from '../../errors.js';
import { deviceTopic } from '../../eventbus/index.js';
import { errorResult, type DeviceEntry, type HandlerContext } from '../context.js';
import { twinsToWire } from '../document.js';
import { parseBaseMessage } from '../parse.js';
import type { DeviceTwinResult } from '../wire.js';

export async function handleTwinGet(ctx: HandlerContext, namespace: string, name: string, payload: Buffer): Promise<void> {
  const id = `${namespace}/${name}`;
  const topic = deviceTopic(namespace, name, 'twin/get/result');
  const parsed = parseBaseMessage(payload, ctx.limits);
  if (!parsed.ok) {
    ctx.publish(topic, errorResult(parsed.eventId, ctx.now(), parsed.error));
    return;
  }
  const entry = ctx.device(id);
  if (!entry) {
    const error = edgetwinError('EDGETWIN_ERR_DEVICE_NOT_FOUND', `device ${id} is not bound to node ${ctx.nodeName}`);
    ctx.publish(topic, errorResult(parsed.value.eventId, ctx.now(), error));
    return;
  }
  // A get must not show a value whose commit might still fail.
  await ctx.settled();
  const state = ctx.device(id)?.state ?? entry.state;
  const result: DeviceTwinResult = { event_id: parsed.value.eventId, timestamp: ctx.now(), twin: twinsToWire(state), version: state.version };
  // edgetwin's `include: ["units"]` (docs/mqtt-api.md): the wire carries no units, the model does.
  if (parsed.value.include.has('units')) result.units = unitsOf(entry);
  ctx.publish(topic, result);
}

function unitsOf(entry: DeviceEntry): Record<string, string> {
  const units: Record<string, string> = {};
  for (const [name, p] of entry.model.properties) if (p.unit !== undefined && p.unit !== '') units[name] = p.unit;
  return units;
}
