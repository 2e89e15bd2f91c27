// Fixtures for the security tests: a real EdgeCore on port 0 with a users file (cheap scrypt
// cost, carried in each hash) and a logger whose lines the test can read, and MQTT clients that
// report how a CONNECT, publish or subscribe was answered.

import { mkdirSync, writeFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import path from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { pino } from 'pino';
import { EdgeCore } from '../edgecore/index.js';
import { hashPassword, writeUser, type UserEntry } from '../eventbus/index.js';
import { resolveConfig, type RawConfig } from '../schemas/index.js';
import { closeOf } from './async.js';
import { tempDir, thermostatManifest } from './helpers.js';

/** Cheap enough that a test connects in microseconds; real hashes use DEFAULT_SCRYPT_COST. */
export const TEST_COST = { ln: 4, r: 8, p: 1 } as const;

export interface TestUser extends Omit<UserEntry, 'password'> {
  readonly password?: string;
}

/** A thermostat manifest whose device speaks `protocol`. */
export function deviceManifest(name: string, protocol: string, namespace = 'default'): string {
  return thermostatManifest(name, namespace).replace('protocolName: external', `protocolName: ${protocol}`);
}

export async function writeUsers(file: string, users: Record<string, TestUser>): Promise<void> {
  for (const [name, { password, ...rest }] of Object.entries(users)) {
    writeUser(file, name, { ...rest, ...(password !== undefined ? { password: await hashPassword(password, TEST_COST) } : {}) });
  }
}

export interface SecureEdge {
  readonly core: EdgeCore;
  readonly url: string;
  readonly dir: string;
  readonly usersFile: string;
  /** Every log line so far, parsed. */
  readonly logs: Record<string, unknown>[];
  stop(): Promise<void>;
}

export async function startSecureEdge(opts: {
  manifests: Record<string, string>;
  users?: Record<string, TestUser>;
  config?: RawConfig;
}): Promise<SecureEdge> {
  const tmp = tempDir('edgetwin-sec-');
  const devicesDir = path.join(tmp.dir, 'devices');
  mkdirSync(devicesDir, { recursive: true });
  for (const [file, text] of Object.entries(opts.manifests)) writeFileSync(path.join(devicesDir, file), text);
  const usersFile = path.join(tmp.dir, 'users.yaml');
  if (opts.users) await writeUsers(usersFile, opts.users);
  const logs: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  const base: RawConfig = {
    nodeName: 'edge-test',
    dataDir: path.join(tmp.dir, 'data'),
    devices: [devicesDir],
    mappers: { enabled: [] },
    metrics: { enabled: false },
    mqtt: { port: 0, ...(opts.users ? { auth: { usersFile } } : {}) },
  };
  const config = resolveConfig(base, opts.config ?? {});
  const core = new EdgeCore({ config, logger });
  try {
    await core.start();
  } catch (err) {
    tmp.cleanup();
    throw err;
  }
  return {
    core,
    url: core.brokerUrl,
    dir: tmp.dir,
    usersFile,
    logs,
    stop: async () => {
      await core.stop();
      tmp.cleanup();
    },
  };
}

/** Connects as `username` (or anonymously); rejects with mqtt.js's error (`code` = CONNACK return code). */
export function connectAs(url: string, username?: string, password?: string, extra: IClientOptions = {}): Promise<MqttClient> {
  return mqtt.connectAsync(url, {
    reconnectPeriod: 0,
    connectTimeout: 5000,
    ...(username !== undefined ? { username } : {}),
    ...(password !== undefined ? { password } : {}),
    ...extra,
  });
}

/** The CONNACK return code of a refused CONNECT. */
export async function refusedWith(connecting: Promise<MqttClient>): Promise<number | undefined> {
  try {
    const c = await connecting;
    await c.endAsync(true);
    return undefined;
  } catch (err) {
    return (err as { code?: number }).code;
  }
}

export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves when the client's connection closes (a denied publish closes it). */
export function closed(client: MqttClient): Promise<void> {
  return new Promise((resolve) => client.once('close', () => resolve()));
}

/** Publishes a QoS 1 request and resolves with the JSON answer on `answerTopic` that echoes its event_id. */
export async function request(client: MqttClient, topic: string, answerTopic: string, body: object, timeoutMs = 5000): Promise<Record<string, unknown>> {
  const eventId = `e-${Math.random().toString(36).slice(2)}`;
  const answer = new Promise<Record<string, unknown>>((resolve) => {
    const onMessage = (t: string, payload: Buffer): void => {
      if (t !== answerTopic) return;
      const json = JSON.parse(payload.toString()) as Record<string, unknown>;
      if (json.event_id !== eventId) return;
      client.off('message', onMessage);
      resolve(json);
    };
    client.on('message', onMessage);
  });
  await client.subscribeAsync(answerTopic, { qos: 1 });
  await client.publishAsync(topic, JSON.stringify({ event_id: eventId, timestamp: Date.now(), ...body }), { qos: 1 });
  return within(answer, timeoutMs, `an answer on ${answerTopic}`);
}

export interface RawConnection {
  readonly socket: Socket;
  /** Every packet the broker sent, in order. */
  readonly packets: Packet[];
  /** Resolves with the CONNACK's return code. */
  readonly connack: Promise<number>;
  readonly closed: Promise<void>;
}

/**
 * A raw MQTT 3.1.1 CONNECT (mqtt-packet over a socket), for what a well-behaved client library
 * would not send; from `localAddress` if given (any 127.x address is this machine).
 */
export function rawConnect(url: string, opts: { clientId: string; username: string; password: string; clean?: boolean; localAddress?: string }): RawConnection {
  const { hostname, port } = new URL(url);
  const socket = netConnect({ host: hostname, port: Number(port), ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) });
  socket.on('error', () => undefined);
  const packets: Packet[] = [];
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  let onConnack: (code: number) => void = () => undefined;
  const connack = new Promise<number>((resolve) => (onConnack = resolve));
  parser.on('packet', (p: Packet) => {
    packets.push(p);
    if (p.cmd === 'connack') onConnack(p.returnCode ?? -1);
  });
  socket.on('data', (d: Buffer) => parser.parse(d));
  socket.once('connect', () => {
    socket.write(
      mqttPacket.generate({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clean: opts.clean ?? true,
        clientId: opts.clientId,
        keepalive: 30,
        username: opts.username,
        password: Buffer.from(opts.password),
      }),
    );
  });
  return { socket, packets, connack, closed: closeOf(socket) };
}
