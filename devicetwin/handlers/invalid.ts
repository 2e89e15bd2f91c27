// A request on `$hw/events/device/...` whose topic names no device this node could serve: an
// id that is not `<namespace>/<name>` (the pre-1.17 one-segment form, upper case, `_`, `%`,
// over-long) or no known kind. KubeEdge's subscriptions (`+/+/twin/+`) never see most of these,
// so the sender is PUBACKed and hears nothing; edgetwin answers each with a 400 on
// `$hw/events/device//twin/update/result`, where KubeEdge answers the messages it cannot
// attribute to a device (kubeedge-notes §1). Answers published under the prefix (results,
// deltas, documents) are not answered: they are nobody's request.

import { edgetwinError, type EdgetwinError } from '../../errors.js';
import {
  ANONYMOUS_UPDATE_RESULT_TOPIC,
  DEVICE_REQUEST_KINDS,
  deviceTopicProblem,
  isValidName,
  isValidNamespace,
} from '../../eventbus/index.js';
import { errorResult, type HandlerContext } from '../context.js';
import { parseBaseMessage } from '../parse.js';

const GRAMMAR = '$hw/events/device/<namespace>/<name>/<kind>';

function shown(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}

/** Why `id` is not a device id, as a sentence that says what to send instead. */
function idProblem(id: string): string {
  if (id === '') return `the topic names no device (expected ${GRAMMAR})`;
  const parts = id.split('/');
  if (parts.length === 1) {
    const hint = isValidName(id) ? `, e.g. default/${id}` : '';
    return `device id ${shown(id)} has one segment: since KubeEdge 1.17 devices are named <namespace>/<name>${hint}`;
  }
  if (parts.length > 2) return `device id ${shown(id)} has ${parts.length} segments; it must be <namespace>/<name>`;
  const [namespace = '', name = ''] = parts;
  if (!isValidNamespace(namespace)) {
    return `namespace ${shown(namespace)} is not a DNS-1123 label (1-63 lower-case letters, digits and '-', starting and ending alphanumeric)`;
  }
  if (!isValidName(name)) {
    return `device name ${shown(name)} is not a DNS-1123 subdomain (1-253 lower-case letters, digits, '-' and '.', starting and ending alphanumeric)`;
  }
  return `device id ${shown(id)} is not valid`;
}

/** The error a message on `topic` (under DEVICE_PREFIX) is answered with, or undefined if it is not answered. */
export function invalidTopicError(topic: string): EdgetwinError | undefined {
  const found = deviceTopicProblem(topic);
  switch (found.problem) {
    case 'none':
      return undefined;
    case 'kind':
      return edgetwinError('EDGETWIN_ERR_TOPIC_INVALID', `${shown(topic)} is not a KubeEdge device topic (${GRAMMAR}, kind twin/update, twin/get, state/update, …)`);
    case 'id':
      if (!DEVICE_REQUEST_KINDS.has(found.kind)) return undefined;
      return edgetwinError('EDGETWIN_ERR_DEVICE_ID_INVALID', `${found.kind} rejected: ${idProblem(found.id)}`);
  }
}

/** Answers a request on an invalid device topic; nothing of it is applied. */
export function handleInvalidDeviceTopic(ctx: HandlerContext, topic: string, payload: Buffer): void {
  const error = invalidTopicError(topic);
  if (!error) return;
  if (topic.endsWith('/twin/update')) ctx.observer.update('rejected', 'edge', error.code);
  // The event_id is echoed when the payload has one, so the sender can match the answer.
  const parsed = parseBaseMessage(payload, ctx.limits);
  const eventId = parsed.ok ? parsed.value.eventId : parsed.eventId;
  ctx.publish(ANONYMOUS_UPDATE_RESULT_TOPIC, errorResult(eventId, ctx.now(), error));
}
