import mqttPacket from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { FrameScanner, publishPacketLimit, type FrameLimits, type ScanResult } from './frame-guard.js';

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

const connect = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'c', keepalive: 30 });
const ping = mqttPacket.generate({ cmd: 'pingreq' });
const subscribe = mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a/#', qos: 1 }] });
const unsubscribe = mqttPacket.generate({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: ['a/#'] });

const LIMITS: FrameLimits = { connect: 200, publish: 1_000, other: 500 };

/**
 * Scans `bytes` fed in chunks of `size`, as the guard does: a barrier ends a read, and the
 * bytes after it are scanned next. Returns the first verdict that is not ok, or ok.
 */
function scanAll(scanner: FrameScanner, bytes: Buffer, size: number): { verdict: ScanResult['verdict']; barriers: number[] } {
  const barriers: number[] = [];
  let at = 0;
  while (at < bytes.length) {
    const chunk = bytes.subarray(at, Math.min(at + size, bytes.length));
    const result = scanner.scan(chunk);
    if (result.verdict !== 'ok') return { verdict: result.verdict, barriers };
    if (result.barrier !== undefined) {
      barriers.push(at + result.barrier);
      at += result.barrier;
    } else {
      at += chunk.length;
    }
  }
  return { verdict: 'ok', barriers };
}

describe('FrameScanner', () => {
  it('passes a stream of packets within the limits, whatever the chunking, stopping after each barrier', () => {
    // 128 and 16_384 bytes need two and three remaining-length bytes [MQTT-2.2.3].
    const parts = [connect, ping, publish(0), publish(LIMITS.publish - 10), subscribe, publish(120), unsubscribe, ping];
    const stream = Buffer.concat(parts);
    const ends = (i: number): number => parts.slice(0, i + 1).reduce((n, p) => n + p.length, 0);
    for (const size of [1, 2, 3, 7, 64, stream.length]) {
      expect(scanAll(new FrameScanner(LIMITS), stream, size)).toEqual({ verdict: 'ok', barriers: [ends(0), ends(4), ends(6)] });
    }
  });

  it('flags a PUBLISH whose remaining length exceeds the limit, from its header alone', () => {
    const big = publish(20_000);
    for (const size of [1, 5, big.length]) {
      const scanner = new FrameScanner(LIMITS);
      expect(scanAll(scanner, Buffer.concat([connect, ping, publish(10), big.subarray(0, 6)]), size).verdict).toBe('too-large');
    }
  });

  it('counts the variable header: the limit is on the remaining length', () => {
    // topic length (2) + 't/x' (3) + packet id (2) + payload
    const scan = (p: Buffer): ScanResult => {
      const scanner = new FrameScanner(LIMITS);
      scanner.scan(connect);
      return scanner.scan(p);
    };
    expect(scan(publish(LIMITS.publish - 7)).verdict).toBe('ok');
    expect(scan(publish(LIMITS.publish - 6))).toEqual({ verdict: 'too-large', type: 3, length: LIMITS.publish + 1 });
  });

  it('limits every other packet type, and the CONNECT most', () => {
    const manyTopics = mqttPacket.generate({
      cmd: 'subscribe',
      messageId: 1,
      subscriptions: Array.from({ length: 40 }, (_, i) => ({ topic: `some/long/topic/${i}`, qos: 0 as const })),
    });
    expect(manyTopics.length).toBeGreaterThan(LIMITS.other);
    const scanner = new FrameScanner(LIMITS);
    scanner.scan(connect);
    expect(scanner.scan(manyTopics)).toMatchObject({ verdict: 'too-large', type: 8 });
    // A CONNECT announcing 256 MiB is refused from its first five bytes.
    expect(new FrameScanner(LIMITS).scan(Buffer.from([0x10, 0xff, 0xff, 0xff, 0x7f]))).toEqual({ verdict: 'too-large', type: 1, length: 268_435_455 });
  });

  it('flags a first packet that is not a CONNECT, a second CONNECT, and a remaining length over four bytes', () => {
    expect(new FrameScanner(LIMITS).scan(publish(10)).verdict).toBe('malformed');
    expect(scanAll(new FrameScanner(LIMITS), Buffer.concat([connect, connect]), 100).verdict).toBe('malformed');
    const scanner = new FrameScanner(LIMITS);
    scanner.scan(connect);
    expect(scanner.scan(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])).verdict).toBe('malformed');
  });

  it('publishPacketLimit lets any payload up to the maximum through with the longest topic', () => {
    const max = 4_096;
    const limits = { ...LIMITS, publish: publishPacketLimit(max) };
    const scan = (p: Buffer): ScanResult['verdict'] => {
      const scanner = new FrameScanner(limits);
      scanner.scan(connect);
      return scanner.scan(p).verdict;
    };
    expect(scan(publish(max, 't'.repeat(65_535)))).toBe('ok');
    expect(scan(publish(max + 70_000))).toBe('too-large');
  });
});
