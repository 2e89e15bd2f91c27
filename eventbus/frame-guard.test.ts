import mqttPacket from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { FrameScanner, publishPacketLimit } from './frame-guard.js';

function publish(payloadBytes: number, topic = 't/x', qos: 0 | 1 = 1): Buffer {
  return mqttPacket.generate({
    cmd: 'publish',
    topic,
    payload: Buffer.alloc(payloadBytes, 1),
    qos,
    messageId: qos > 0 ? 7 : undefined,
    retain: false,
    dup: false,
  });
}

const ping = mqttPacket.generate({ cmd: 'pingreq' });
const subscribe = mqttPacket.generate({
  cmd: 'subscribe',
  messageId: 1,
  subscriptions: [{ topic: 'a/#', qos: 1 }],
});

/** Scans `bytes` fed in chunks of `size`, returning the first verdict that is not ok. */
function scanChunked(scanner: FrameScanner, bytes: Buffer, size: number): string {
  for (let i = 0; i < bytes.length; i += size) {
    const verdict = scanner.scan(bytes.subarray(i, i + size));
    if (verdict !== 'ok') return verdict;
  }
  return 'ok';
}

describe('FrameScanner', () => {
  const limit = 1_000;

  it('passes a stream of packets within the limit, whatever the chunking', () => {
    // 128 and 16_384 bytes need two and three remaining-length bytes [MQTT-2.2.3].
    const stream = Buffer.concat([ping, publish(0), publish(limit - 10), subscribe, publish(120), ping]);
    for (const size of [1, 2, 3, 7, 64, stream.length]) {
      expect(scanChunked(new FrameScanner(limit), stream, size)).toBe('ok');
    }
  });

  it('flags a PUBLISH whose remaining length exceeds the limit, from its header alone', () => {
    const big = publish(20_000);
    for (const size of [1, 5, big.length]) {
      const scanner = new FrameScanner(limit);
      expect(scanChunked(scanner, Buffer.concat([ping, publish(10), big.subarray(0, 6)]), size)).toBe('too-large');
    }
  });

  it('counts the variable header: the limit is on the remaining length', () => {
    // topic length (2) + 't/x' (3) + packet id (2) + payload
    const exact = publish(limit - 7);
    expect(new FrameScanner(limit).scan(exact)).toBe('ok');
    expect(new FrameScanner(limit).scan(publish(limit - 6))).toBe('too-large');
  });

  it('does not limit other packet types', () => {
    const manyTopics = mqttPacket.generate({
      cmd: 'subscribe',
      messageId: 1,
      subscriptions: Array.from({ length: 200 }, (_, i) => ({ topic: `some/long/topic/${i}`, qos: 0 as const })),
    });
    expect(manyTopics.length).toBeGreaterThan(limit);
    expect(new FrameScanner(limit).scan(manyTopics)).toBe('ok');
  });

  it('flags a remaining length longer than four bytes', () => {
    expect(new FrameScanner(limit).scan(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]))).toBe('malformed');
  });

  it('publishPacketLimit lets any payload up to the maximum through with the longest topic', () => {
    const max = 4_096;
    const longest = publish(max, 't'.repeat(65_535));
    expect(new FrameScanner(publishPacketLimit(max)).scan(longest)).toBe('ok');
    expect(new FrameScanner(publishPacketLimit(max)).scan(publish(max + 70_000))).toBe('too-large');
  });
});
