// `$hw/events/node/<node>/membership/get` → `membership/get/result`: the devices bound to this
// node, without twins (KubeEdge's MembershipGetResult).

import { nodeTopic } from '../../eventbus/index.js';
import { errorResult, type HandlerContext } from '../context.js';
import { deviceToWire } from '../document.js';
import { parseBaseMessage } from '../parse.js';
import type { MembershipGetResult, WireDevice } from '../wire.js';

export function handleMembershipGet(ctx: HandlerContext, node: string, payload: Buffer): void {
  // Another node's membership is not ours to answer (several edgetwins may share a broker).
  if (node !== ctx.nodeName) return;
  const topic = nodeTopic(node, 'membership/get/result');
  const parsed = parseBaseMessage(payload, ctx.limits);
  if (!parsed.ok) {
    ctx.publish(topic, errorResult(parsed.eventId, ctx.now(), parsed.error));
    return;
  }
  const devices: WireDevice[] = [];
  // edgetwin's `include` (docs/mqtt-api.md): extra keys only when asked, so the default answer
  // stays KubeEdge's dttype.Device exactly (test/kubeedge-replay.test.ts).
  const { include } = parsed.value;
  const protocol = include.has('protocol');
  const model = include.has('model');
  for (const entry of ctx.devices()) {
    const wire = deviceToWire(entry.state, entry.instance.description);
    const name = entry.instance.protocol?.protocolName;
    if (protocol && name !== undefined) wire.protocol = name;
    if (model) wire.model = entry.instance.model;
    devices.push(wire);
  }
  devices.sort((a, b) => (a.id ?? '').localeCompare(b.id ?? ''));
  const result: MembershipGetResult = { event_id: parsed.value.eventId, timestamp: ctx.now(), devices };
  ctx.publish(topic, result);
}
