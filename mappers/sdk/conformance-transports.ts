// The three ways a mapper runs, as the conformance suite (conformance.ts) drives them: the
// runtime on the in-process bus, on an MQTT connection, and as a DMI mapper. Each rig runs one
// fixture device and shows the suite the same thing: the KubeEdge `twin/update` and
// `state/update` messages the mapper produced, and a way to give it a desired value. Over DMI
// the far side is a small edgecore written here from the contract: it answers MapperRegister
// with the device, turns the mapper's reports back into those messages, and sends a desired
// value as edgecore does, an UpdateDevice with the whole Device. Test code only.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import {
  ACK_METADATA,
  callUnary,
  dmiServices,
  LOCAL_CHANNEL_OPTIONS,
  toPbDevice,
  toPbDeviceModel,
  UnixGrpcServer,
  unixTarget,
  type PbReportDeviceStatesRequest,
  type PbReportDeviceStatusRequest,
} from '../../dmi/index.js';
import { deviceTopic, EmbeddedBroker, MqttBus, type Bus } from '../../eventbus/index.js';
import type { DeviceInstance, DeviceModel } from '../../schemas/index.js';
import { startDmiMapper } from './dmi.js';
import { MapperRuntime } from './runtime.js';
import type { MapperFactory } from './types.js';

export interface SeenMessage {
  readonly topic: string;
  readonly json: Record<string, unknown>;
}

export interface TransportRig {
  /** twin/update and state/update messages, in order, as KubeEdge JSON. */
  readonly seen: SeenMessage[];
  setDesired(property: string, value: string): Promise<void>;
  close(): Promise<void>;
}

export interface RigInput {
  readonly factory: MapperFactory;
  readonly instance: DeviceInstance;
  readonly model: DeviceModel;
  readonly logger: Logger;
  /** The runtime's settings for a fast suite. */
  readonly runtime: { readonly timeoutMs: number; readonly offlineAfter: number; readonly backoff: { baseMs: number; maxMs: number; jitter: number } };
}

export interface Transport {
  readonly name: string;
  start(input: RigInput): Promise<TransportRig>;
}

const json = (p: Buffer): Record<string, unknown> => JSON.parse(p.toString()) as Record<string, unknown>;

async function busRig(input: RigInput, broker: EmbeddedBroker, bus: Bus, closeBus: () => Promise<void>): Promise<TransportRig> {
  const { instance, factory, model, logger } = input;
  const seen: SeenMessage[] = [];
  const record = (t: string, p: Buffer): void => void seen.push({ topic: t, json: json(p) });
  await broker.subscribe(deviceTopic(instance.namespace, instance.name, 'twin/update'), record);
  await broker.subscribe(deviceTopic(instance.namespace, instance.name, 'state/update'), record);
  const runtime = new MapperRuntime({ bus, factories: [factory], logger, ...input.runtime });
  const problems = await runtime.setDevices([{ instance, model }]);
  if (problems.length > 0) throw problems[0]!;
  return {
    seen,
    setDesired: (property, value) =>
      broker.publish(deviceTopic(instance.namespace, instance.name, 'twin/update/delta'), JSON.stringify({ event_id: 'd', timestamp: Date.now(), twin: {}, delta: { [property]: value } })),
    close: async () => {
      await runtime.stop();
      await closeBus();
      await broker.close();
    },
  };
}

/** The runtime on the embedded broker itself: a mapper in edgetwin's process. */
export const inProcess: Transport = {
  name: 'in-process bus',
  async start(input) {
    const broker = new EmbeddedBroker({ port: 0, logger: input.logger });
    await broker.start();
    return busRig(input, broker, broker, () => Promise.resolve());
  },
};

/** The runtime on an MQTT connection to the broker: a mapper in its own process. */
export const overMqtt: Transport = {
  name: 'MQTT',
  async start(input) {
    const broker = new EmbeddedBroker({ port: 0, logger: input.logger });
    await broker.start();
    const bus = new MqttBus({ url: broker.url, logger: input.logger });
    await bus.start();
    return busRig(input, broker, bus, () => bus.close());
  },
};

/** The DMI transport, against an edgecore written from the contract. */
export const overDmi: Transport = {
  name: 'DMI',
  async start(input) {
    const { factory, model, logger } = input;
    // mapper-framework reports a property only with reportToCloud (docs/dmi.md).
    const instance: DeviceInstance = { ...input.instance, properties: input.instance.properties.map((p) => ({ ...p, reportToCloud: true })) };
    const dir = mkdtempSync(path.join(tmpdir(), 'edgetwin-dmi-c-'));
    const edgecoreSocket = path.join(dir, 'dmi.sock');
    const mapperSocket = path.join(dir, 'mapper.sock');
    const seen: SeenMessage[] = [];
    const topic = (kind: 'twin/update' | 'state/update'): string => deviceTopic(instance.namespace, instance.name, kind);
    const desired = new Map<string, string>();
    const device = () => toPbDevice(instance, { nested: true, desired });
    const edgecore = new UnixGrpcServer({
      socketPath: edgecoreSocket,
      what: 'the test edgecore socket',
      service: dmiServices().manager,
      logger,
      handlers: {
        MapperRegister: () => Promise.resolve({ modelList: [toPbDeviceModel(model, instance.namespace)], deviceList: [device()] }),
        ReportDeviceStatus: (req: PbReportDeviceStatusRequest) => {
          const twin: Record<string, unknown> = {};
          for (const t of req.reportedDevice?.twins ?? []) {
            const ack = t.reported?.metadata?.[ACK_METADATA.state];
            twin[t.propertyName ?? ''] = {
              actual: { value: t.reported?.value ?? '' },
              metadata: { type: t.reported?.metadata?.type ?? '' },
              ...(ack ? { ack: { state: ack, value: t.observedDesired?.value ?? '' } } : {}),
            };
          }
          seen.push({ topic: topic('twin/update'), json: { event_id: '', timestamp: Date.now(), twin } });
          return Promise.resolve({});
        },
        ReportDeviceStates: (req: PbReportDeviceStatesRequest) => {
          seen.push({ topic: topic('state/update'), json: { event_id: '', timestamp: Date.now(), state: req.state ?? '' } });
          return Promise.resolve({});
        },
      },
    });
    await edgecore.start();
    const mapper = await startDmiMapper({ factory, edgecoreSocket, mapperSocket, logger, ...input.runtime, connectBackoff: { baseMs: 20, maxMs: 200, jitter: 0.2 } });
    if (mapper.status().length !== 1) throw new Error(`the DMI mapper runs ${mapper.status().length} devices, not 1`);
    const client = new grpc.Client(unixTarget(mapperSocket), grpc.credentials.createInsecure(), LOCAL_CHANNEL_OPTIONS);
    return {
      seen,
      // As edgecore: the whole Device, with that property's desired value replaced.
      setDesired: async (property, value) => {
        desired.set(property, value);
        await callUnary(client, dmiServices().mapper, 'UpdateDevice', { device: device() }, 5000);
      },
      close: async () => {
        client.close();
        await mapper.stop();
        await edgecore.close(200);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

export const TRANSPORTS: readonly Transport[] = [inProcess, overMqtt, overDmi];
