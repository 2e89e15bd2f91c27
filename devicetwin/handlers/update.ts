// `$hw/events/device/<ns>/<name>/twin/update` (and `twin/cloud_updated`): validate, merge,
// commit, then answer on `update/result` and publish `update/document` and `update/delta`.

import { edgetwinError, toEdgetwinError } from '../../errors.js';
import { ANONYMOUS_UPDATE_RESULT_TOPIC, deviceTopic } from '../../eventbus/index.js';
import { errorResult, notCommitted, type HandlerContext } from '../context.js';
import { computeDelta } from '../document.js';
import { mergeUpdate, type UpdateOrigin } from '../merge.js';
import { parseTwinUpdate } from '../parse.js';
import type { DeviceTwinDelta, DeviceTwinDocument, DeviceTwinResult } from '../wire.js';

// Errors KubeEdge cannot attribute to a device go to `$hw/events/device//twin/update/result`
// (kubeedge-notes §1: JSON and key-regex errors, verified).
const ANONYMOUS_CODES = new Set([
  'EDGETWIN_ERR_PAYLOAD_JSON',
  'EDGETWIN_ERR_PAYLOAD_ENCODING',
  'EDGETWIN_ERR_PAYLOAD_TOO_LARGE',
  'EDGETWIN_ERR_PAYLOAD_TOO_DEEP',
  'EDGETWIN_ERR_PROPERTY_NAME',
]);

export async function handleTwinUpdate(
  ctx: HandlerContext,
  namespace: string,
  name: string,
  payload: Buffer,
  origin: UpdateOrigin = 'edge',
): Promise<void> {
  const id = `${namespace}/${name}`;
  const resultTopic = deviceTopic(namespace, name, 'twin/update/result');
  const parsed = parseTwinUpdate(payload, ctx.limits);
  if (!parsed.ok) {
    ctx.observer.update('rejected', origin, parsed.error.code);
    const topic = ANONYMOUS_CODES.has(parsed.error.code) ? ANONYMOUS_UPDATE_RESULT_TOPIC : resultTopic;
    ctx.publish(topic, errorResult(parsed.eventId, ctx.now(), parsed.error));
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
  const now = ctx.now();
  const outcome = mergeUpdate(entry.state, update, { now, origin, properties: entry.model.properties });
  if (!outcome.ok) {
    ctx.observer.update('rejected', origin, outcome.error.code);
    const topic = ANONYMOUS_CODES.has(outcome.error.code) ? ANONYMOUS_UPDATE_RESULT_TOPIC : resultTopic;
    const conflict = outcome.error.code === 'EDGETWIN_ERR_TWIN_VERSION_CONFLICT' && update.version !== undefined;
    ctx.publish(topic, errorResult(update.eventId, now, outcome.error, conflict ? entry.state.version : undefined));
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
    const result: DeviceTwinResult = { event_id: update.eventId, timestamp: now, twin: outcome.result, version: outcome.next.version };
    ctx.publish(resultTopic, result);
    return;
  }
  try {
    await ctx.applyTwins(id, outcome, origin);
  } catch (err) {
    return refuse(ctx, resultTopic, update.eventId, err);
  }
  const result: DeviceTwinResult = { event_id: update.eventId, timestamp: now, twin: outcome.result, version: outcome.next.version };
  ctx.publish(resultTopic, result);
  const document: DeviceTwinDocument = { event_id: update.eventId, timestamp: now, twin: outcome.document };
  ctx.publish(deviceTopic(namespace, name, 'twin/update/document'), document);
  const delta = computeDelta(outcome.next);
  if (delta) {
    const message: DeviceTwinDelta = { event_id: update.eventId, timestamp: now, twin: delta.twin, delta: delta.delta };
    ctx.publish(deviceTopic(namespace, name, 'twin/update/delta'), message);
  }
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
