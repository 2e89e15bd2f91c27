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
  for (const entry of ctx.devices()) devices.push(deviceToWire(entry.state, entry.instance.description));
  devices.sort((a, b) => (a.id ?? '').localeCompare(b.id ?? ''));
  const result: MembershipGetResult = { event_id: parsed.value.eventId, timestamp: ctx.now(), devices };
  ctx.publish(topic, result);
}
