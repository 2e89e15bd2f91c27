// `$hw/events/device/<ns>/<name>/twin/update` (and `twin/cloud_updated`): validate, merge,
// commit, then answer on `update/result` and publish `update/document` and `update/delta`.

import { edgetwinError, toEdgetwinError } from '../../errors.js';
import { ANONYMOUS_UPDATE_RESULT_TOPIC, deviceTopic, type MessageOrigin } from '../../eventbus/index.js';
import { errorResult, notCommitted, type HandlerContext } from '../context.js';
import { computeDelta } from '../document.js';
import { mergeUpdate, type MergeSuccess, type UpdateOrigin } from '../merge.js';
import { parseTwinUpdate, type ParsedUpdate } from '../parse.js';
import { onlineOnReadings } from './state.js';
import type { DeviceTwinDelta, DeviceTwinDocument, DeviceTwinResult } from '../wire.js';

export async function handleTwinUpdate(
  ctx: HandlerContext,
  namespace: string,
  name: string,
  payload: Buffer,
  origin: UpdateOrigin = 'edge',
  from: MessageOrigin = {},
): Promise<void> {
  const id = `${namespace}/${name}`;
  const resultTopic = deviceTopic(namespace, name, 'twin/update/result');
  const parsed = parseTwinUpdate(payload, ctx.limits);
  if (!parsed.ok) {
    ctx.observer.update('rejected', origin, parsed.error.code);
    // What KubeEdge cannot decode (bad JSON, a forbidden key, no `twin`) it answers with
    // `event_id ""` on `$hw/events/device//twin/update/result` (kubeedge-notes §1, verified).
    if (parsed.anonymous) ctx.publish(ANONYMOUS_UPDATE_RESULT_TOPIC, errorResult('', ctx.now(), parsed.error));
    else ctx.publish(resultTopic, errorResult(parsed.eventId, ctx.now(), parsed.error));
    return;
  }
  const update = parsed.value;
  const entry = ctx.device(id);
  if (!entry) {
    // KubeEdge: "update rejected due to the device is not existed" (404).
    const error = edgetwinError('EDGETWIN_ERR_DEVICE_NOT_FOUND', `update rejected: device ${id} is not bound to node ${ctx.nodeName}`);
    ctx.observer.update('rejected', origin, error.code);
    ctx.publish(resultTopic, errorResult(update.eventId, ctx.now(), error));
    return;
  }
  const reading = carries(update, 'actual');
  if (reading || carries(update, 'ack')) ctx.noteReport(id, from);
  const now = ctx.now();
  const outcome = mergeUpdate(entry.state, update, { now, origin, properties: entry.model.properties });
  if (!outcome.ok) {
    ctx.observer.update('rejected', origin, outcome.error.code);
    const conflict = outcome.error.code === 'EDGETWIN_ERR_TWIN_VERSION_CONFLICT' && update.version !== undefined;
    ctx.publish(resultTopic, errorResult(update.eventId, now, outcome.error, conflict ? entry.state.version : undefined));
    return;
  }
  if (outcome.changed.length === 0) {
    // Nothing to persist (DESIGN.md): answer, but only after earlier changes are durable.
    try {
      await ctx.settled(id);
    } catch (err) {
      ctx.observer.update('failed', origin, toEdgetwinError(err, 'EDGETWIN_ERR_STORE_WRITE').code);
      return refuse(ctx, resultTopic, update.eventId, err);
    }
    ctx.observer.update('unchanged', origin);
    if (reading) await onlineOnReadings(ctx, id, from);
    await ctx.settled();
    const result: DeviceTwinResult = { event_id: update.eventId, timestamp: now, twin: outcome.result, version: outcome.next.version };
    ctx.publish(resultTopic, result);
    return;
  }
  try {
    await ctx.applyTwins(id, outcome, origin);
  } catch (err) {
    return refuse(ctx, resultTopic, update.eventId, err);
  }
  if (reading) await onlineOnReadings(ctx, id, from);
  const result: DeviceTwinResult = { event_id: update.eventId, timestamp: now, twin: outcome.result, version: outcome.next.version };
  ctx.publish(resultTopic, result);
  publishChange(ctx, outcome, update.eventId, now);
}

/**
 * The document and the delta of a committed change, as KubeEdge's `DealDeviceTwin` sends them:
 * the document under the update's event_id, the delta (over all twins, when any differs) under a
 * fresh one (`dttype.BuildBaseMessage()`: a new uuid and timestamp).
 */
export function publishChange(ctx: Pick<HandlerContext, 'publish' | 'newEventId' | 'now'>, outcome: MergeSuccess, eventId: string, now: number): void {
  const { namespace, name } = outcome.next;
  const document: DeviceTwinDocument = { event_id: eventId, timestamp: now, twin: outcome.document };
  ctx.publish(deviceTopic(namespace, name, 'twin/update/document'), document);
  const delta = computeDelta(outcome.next);
  if (delta) {
    const message: DeviceTwinDelta = { event_id: ctx.newEventId(), timestamp: ctx.now(), twin: delta.twin, delta: delta.delta };
    ctx.publish(deviceTopic(namespace, name, 'twin/update/delta'), message);
  }
}

/** Does any property of the update carry an actual value (a reading) or an ack? */
function carries(update: ParsedUpdate, what: 'actual' | 'ack'): boolean {
  for (const patch of update.twins.values()) if (patch?.[what] !== undefined) return true;
  return false;
}

/**
 * Answers a change that was not applied. One that was refused (e.g. by the sender's role) is
 * answered and acknowledged; one that could not be committed is answered and then thrown, so
 * the message is not acknowledged and its sender sends it again (eventbus/bus.ts).
 */
export function refuse(ctx: HandlerContext, topic: string, eventId: string, err: unknown): void {
  const error = toEdgetwinError(err, 'EDGETWIN_ERR_STORE_WRITE');
  ctx.publish(topic, errorResult(eventId, ctx.now(), error));
  if (notCommitted(error)) throw error;
}
