// Two rules every publish meets before anything else, for MQTT clients and in-process code
// alike: a topic with U+0000 is a protocol violation, and nothing under `$hw/` is retained
// (topics.ts isRetainable). Kept apart from the broker so it only wires them in.

import type { Logger } from 'pino';
import { edgetwinError, type EdgetwinError } from '../errors.js';
import { isRetainable } from './topics.js';

/** The MQTT client that sent a message (undefined: in-process), as far as a log line needs. */
export interface Sender {
  /** One object per connection (the aedes client), so "once per connection" can be kept. */
  readonly client: { readonly id: string };
  readonly remoteAddress: string | undefined;
}

export function hasNul(topic: string): boolean {
  return topic.includes('\u0000');
}

export class TopicGuard {
  /** Retain flags cleared so far. */
  retainCleared = 0;
  private readonly log: Logger;
  /** Senders already told of in the log: a mapper that always sets the flag is logged once. */
  private readonly logged = new WeakSet<object>();

  constructor(log: Logger) {
    this.log = log;
  }

  /**
   * [MQTT-1.5.3-2]: a string containing U+0000 is a protocol violation, answered by closing the
   * connection. mqtt-packet decodes such topics as they are, and aedes checks only wildcards.
   * The refusal of a topic (or filter) for which hasNul() is true.
   */
  nulRefusal(topic: string, sender: Sender | undefined): EdgetwinError {
    const err = edgetwinError('EDGETWIN_ERR_TOPIC_INVALID', `topic ${JSON.stringify(topic.slice(0, 200))} contains U+0000 [MQTT-1.5.3-2]; disconnected`);
    this.log.info({ code: err.code, clientId: sender?.client.id, remoteAddress: sender?.remoteAddress }, err.message);
    return err;
  }

  /**
   * May a message on `topic` keep its retain flag? Cleared, not refused, under `$hw/`: MQTT
   * 3.1.1 could refuse it only by closing the connection, and a KubeEdge mapper configured with
   * `mqttRetain: true` would then reconnect in a loop. The message is processed and delivered.
   */
  mayRetain(topic: string, sender: Sender | undefined): boolean {
    if (isRetainable(topic)) return true;
    this.retainCleared++;
    if (sender && !this.logged.has(sender.client)) {
      this.logged.add(sender.client);
      this.log.info({ clientId: sender.client.id, topic, remoteAddress: sender.remoteAddress }, 'retain flag cleared: nothing under $hw/ is retained (logged once per connection)');
    }
    return false;
  }
}
