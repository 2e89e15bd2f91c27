// How a denied request learns why. MQTT 3.1.1 can only close the connection on a publish the
// server refuses, or acknowledge and drop it (§3.3.5); neither carries a reason, so a client
// waiting for its answer just times out. edgetwin's broker closes the connection (aedes has only
// that), and first answers the request the way the twin answers a refused update: a KubeEdge
// result `{code: 403, error_code: EDGETWIN_ERR_ACCESS_DENIED, reason}` on the request's own
// result topic, sent to that client alone and only if it subscribed to that topic.

import { isEdgetwinError } from '../errors.js';
import { deviceTopic, nodeTopic, parseTopic, type DeviceTopicKind } from './topics.js';

const RESULT_OF: Partial<Record<DeviceTopicKind, DeviceTopicKind>> = {
  'twin/update': 'twin/update/result',
  'twin/get': 'twin/get/result',
  'state/update': 'state/update/result',
};

/** Payloads above this are not parsed for their event_id (the answer then carries ''). */
const MAX_PARSED_BYTES = 64 * 1024;

export interface DenialAnswer {
  readonly topic: string;
  readonly payload: string;
}

/** The answer to a request publish refused with `denial`, or undefined if the topic has no result topic. */
export function denialAnswer(topic: string, payload: Buffer, denial: Error, now: number): DenialAnswer | undefined {
  if (!isEdgetwinError(denial)) return undefined;
  const parsed = parseTopic(topic);
  let answer: string | undefined;
  if (parsed?.scope === 'device') {
    const kind = RESULT_OF[parsed.kind];
    if (kind) answer = deviceTopic(parsed.namespace, parsed.name, kind);
  } else if (parsed?.scope === 'node' && parsed.kind === 'membership/get') {
    answer = nodeTopic(parsed.node, 'membership/get/result');
  }
  if (answer === undefined) return undefined;
  const result = { event_id: eventIdOf(payload), timestamp: now, code: denial.status, reason: denial.message, error_code: denial.code };
  return { topic: answer, payload: JSON.stringify(result) };
}

function eventIdOf(payload: Buffer): string {
  if (payload.length > MAX_PARSED_BYTES) return '';
  try {
    const message = JSON.parse(payload.toString('utf8')) as { event_id?: unknown } | null;
    return typeof message?.event_id === 'string' ? message.event_id : '';
  } catch {
    return '';
  }
}
