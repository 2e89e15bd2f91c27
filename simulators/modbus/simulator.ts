// A simulated Modbus unit built from a Device manifest and its model: each property's registers
// hold its value, encoded with the mapper's own codec and visitor config; read-only properties
// wander (a bounded random walk, seeded); writable ones take writes and report them. Transports
// (tcp-server.ts, rtu-server.ts) hand request PDUs to `handle()`.

import { Buffer } from 'node:buffer';
import { EventEmitter } from 'eventemitter3';
import { edgetwinError } from '../../errors.js';
import {
  decodeBits,
  decodeWords,
  encodeBits,
  encodeWords,
  isBitTable,
  modbusMapper,
  parseProtocolConfig,
  parseVisitorConfig,
  toModelValue,
  type ModbusPoint,
} from '../../mappers/modbus/index.js';
import { bindDevice } from '../../mappers/sdk/index.js';
import type { DeviceInstance, DeviceModel, PropertyInstance, PropertyModel, PropertyValue } from '../../schemas/index.js';
import { UnitFaults } from './faults.js';
import { exceptionPdu, execute, parseRequest, RegisterBank, type ModbusRequest } from './pdu.js';
import { seededRandom, type Random } from './random.js';

export interface SimulatorWrite {
  readonly property: string;
  readonly value: PropertyValue;
  readonly fc: number;
}

export interface SimulatorChange {
  readonly property: string;
  readonly value: PropertyValue;
  readonly source: 'evolve' | 'set' | 'write';
}

export interface SimulatorEvents {
  /** Every request the unit receives, before faults apply: a listener may set one for it. */
  request: [ModbusRequest];
  /** A Modbus write (FC5/6/15/16) changed a property. */
  write: [SimulatorWrite];
  /** Any change of a property's value: evolution, set() or a write. */
  change: [SimulatorChange];
}

/** What a transport should do with a request. */
export type HandleResult =
  | { readonly kind: 'reply'; readonly pdu: Buffer; readonly corruptCrc: boolean }
  | { readonly kind: 'silence' }
  | { readonly kind: 'drop' };

export interface ModbusSimulatorOptions {
  readonly device: DeviceInstance;
  readonly model: DeviceModel;
  /** Default: the manifest's `slaveID`, else 1. */
  readonly unitId?: number;
  /** Seed of the random walk; default 1. */
  readonly seed?: number;
  /** Period of the random walk; default 1000 ms; 0 = only when step() is called. */
  readonly evolveEveryMs?: number;
  /** One step of the walk as a fraction of the property's [minimum, maximum]; default 0.01. */
  readonly stepFraction?: number;
  /** Starting values by property name (otherwise: desired value, schema default, midpoint). */
  readonly initial?: Readonly<Record<string, PropertyValue>>;
}

interface Binding {
  readonly name: string;
  readonly model: PropertyModel;
  readonly point: ModbusPoint;
  readonly low: number;
  readonly high: number;
}

export interface SimulatorStats {
  /** Requests received, including those answered by a fault or not at all. */
  requests: number;
  /** The same, per function code. */
  byFc: Record<number, number>;
}

function bounds(model: PropertyModel): [number, number] {
  const { minimum, maximum } = model;
  if (minimum !== undefined && maximum !== undefined) return [minimum, maximum];
  if (minimum !== undefined) return [minimum, minimum + 100];
  if (maximum !== undefined) return [maximum - 100, maximum];
  return [0, 100];
}

export class ModbusSimulator extends EventEmitter<SimulatorEvents> {
  readonly unitId: number;
  readonly device: DeviceInstance;
  readonly faults = new UnitFaults();
  readonly bank = new RegisterBank();
  readonly #bindings = new Map<string, Binding>();
  readonly #random: Random;
  readonly #evolveEveryMs: number;
  readonly #stepFraction: number;
  #timer: NodeJS.Timeout | undefined;
  readonly #sleeps = new Set<{ timer: NodeJS.Timeout; wake: () => void }>();
  #stats: SimulatorStats = { requests: 0, byFc: {} };

  /** Resolves every property's visitor config and writes its starting value; no timers, no I/O. */
  constructor(options: ModbusSimulatorOptions) {
    super();
    const { device, model } = options;
    this.device = device;
    const protocol = device.protocol?.protocolName === 'modbus' ? parseProtocolConfig(device.protocol.configData) : undefined;
    this.unitId = options.unitId ?? protocol?.unitId ?? 1;
    this.#random = seededRandom(options.seed ?? 1);
    this.#evolveEveryMs = options.evolveEveryMs ?? 1000;
    this.#stepFraction = options.stepFraction ?? 0.01;
    // The runtime's own binding (validation, runtime keys such as `deadband` taken out), so the
    // simulator reads a manifest exactly as the mapper will.
    for (const property of bindDevice(modbusMapper, device, model).driverDevice.properties) {
      const point = parseVisitorConfig(property.visitor, property.model.type, property.name);
      const [low, high] = bounds(property.model);
      const binding: Binding = { name: property.name, model: property.model, point, low, high };
      this.#bindings.set(property.name, binding);
      this.#store(binding, options.initial?.[property.name] ?? this.#initialValue(binding, property.instance));
    }
  }

  /** Names of the properties the unit serves. */
  get properties(): string[] {
    return [...this.#bindings.keys()];
  }

  /** Where a property lives, as resolved from its visitor config. */
  pointOf(name: string): ModbusPoint {
    return this.#binding(name).point;
  }

  get stats(): SimulatorStats {
    return { requests: this.#stats.requests, byFc: { ...this.#stats.byFc } };
  }

  resetStats(): void {
    this.#stats = { requests: 0, byFc: {} };
  }

  /** Starts the random walk of read-only properties (if a period is set). */
  start(): void {
    if (this.#timer || this.#evolveEveryMs <= 0) return;
    this.#timer = setInterval(() => this.step(), this.#evolveEveryMs);
    // The servers keep a standalone simulator alive; the walk alone should not.
    this.#timer.unref();
  }

  /** Stops the walk and answers nothing to requests still being delayed. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    for (const sleep of this.#sleeps) {
      clearTimeout(sleep.timer);
      sleep.wake();
    }
    this.#sleeps.clear();
  }

  /** The property's current value, decoded from its registers, in the model's type. */
  get(name: string): PropertyValue {
    const { point, model } = this.#binding(name);
    const raw = isBitTable(point.table)
      ? decodeBits(point, Array.from(this.bank.bits(point.table as 'CoilRegister').subarray(point.offset, point.offset + point.limit), (b) => b === 1))
      : decodeWords(point, this.bank.words(point.table as 'HoldingRegister').subarray(point.offset, point.offset + point.limit));
    const value = toModelValue(raw, model.type);
    if (value === undefined) throw edgetwinError('EDGETWIN_ERR_VALUE_TYPE', `Property "${name}": ${point.kind} cannot be read as ${model.type}`);
    return value;
  }

  values(): Record<string, PropertyValue> {
    return Object.fromEntries(this.properties.map((name) => [name, this.get(name)]));
  }

  /** Sets a value directly (as the device itself would); throws a coded error if it does not fit. */
  set(name: string, value: PropertyValue): void {
    this.#store(this.#binding(name), value);
    this.emit('change', { property: name, value: this.get(name), source: 'set' });
  }

  /** One step of the random walk for every read-only property. */
  step(): void {
    for (const binding of this.#bindings.values()) {
      if (!binding.model.readOnly) continue;
      const next = this.#walk(binding, this.get(binding.name));
      if (next === undefined) continue;
      try {
        this.#store(binding, next);
      } catch {
        continue; // A step that does not fit the registers (scale, width) is skipped, not fatal.
      }
      this.emit('change', { property: binding.name, value: this.get(binding.name), source: 'evolve' });
    }
  }

  /** Serves one request PDU addressed to this unit. */
  async handle(pdu: Uint8Array): Promise<HandleResult> {
    const parsed = parseRequest(pdu);
    const fc = pdu[0] ?? 0;
    this.#stats.requests++;
    this.#stats.byFc[fc] = (this.#stats.byFc[fc] ?? 0) + 1;
    if (parsed.ok) this.emit('request', parsed.request);
    if (this.faults.isSilent) return { kind: 'silence' };
    if (this.faults.takeDrop()) return { kind: 'drop' };
    if (this.faults.delayMs > 0 && !(await this.#sleep(this.faults.delayMs))) return { kind: 'silence' };
    const reply = (out: Buffer): HandleResult => ({ kind: 'reply', pdu: out, corruptCrc: this.faults.takeCorruptCrc() });
    if (!parsed.ok) return reply(exceptionPdu(parsed.fc, parsed.exception));
    const req = parsed.request;
    const exception = this.faults.exceptionFor(req.fc, req.table, req.address, req.quantity);
    if (exception !== undefined) return reply(exceptionPdu(req.fc, exception));
    const out = execute(this.bank, req);
    if (req.bits !== undefined || req.words !== undefined) this.#afterWrite(req);
    return reply(out);
  }

  #binding(name: string): Binding {
    const binding = this.#bindings.get(name);
    if (!binding) throw edgetwinError('EDGETWIN_ERR_PROPERTY_UNKNOWN', `The simulated ${this.device.id} has no Modbus property "${name}"`);
    return binding;
  }

  #store(binding: Binding, value: PropertyValue): void {
    const { point } = binding;
    if (isBitTable(point.table)) {
      const bits = encodeBits(point, value);
      this.bank.bits(point.table as 'CoilRegister').set(bits.map((b) => (b ? 1 : 0)), point.offset);
    } else {
      this.bank.words(point.table as 'HoldingRegister').set(encodeWords(point, value), point.offset);
    }
  }

  #initialValue(binding: Binding, instance: PropertyInstance): PropertyValue {
    const { model, point, low, high } = binding;
    if (instance.desired) {
      const parsed = model.parse(instance.desired.value);
      if (parsed.ok) return parsed.value;
    }
    const fallback = model.schema.default;
    if (typeof fallback === 'number' || typeof fallback === 'boolean' || typeof fallback === 'string') {
      const checked = model.check(fallback);
      if (checked.ok) return checked.value;
    }
    switch (model.type) {
      case 'int':
        return Math.round((low + high) / 2);
      case 'float':
      case 'double':
        return (low + high) / 2;
      case 'boolean':
        return false;
      case 'string': {
        const options = model.schema.enum;
        return Array.isArray(options) && typeof options[0] === 'string' ? options[0] : '';
      }
      case 'bytes':
        return new Uint8Array(isBitTable(point.table) ? Math.ceil(point.limit / 8) : point.limit * 2);
    }
  }

  #walk(binding: Binding, current: PropertyValue): PropertyValue | undefined {
    const { model, low, high } = binding;
    if (typeof current === 'boolean') return this.#random() < 0.1 ? !current : undefined;
    if (typeof current !== 'number') return undefined;
    let step = (this.#random() * 2 - 1) * (high - low) * this.#stepFraction;
    if (model.type === 'int') step = Math.sign(step) * Math.max(1, Math.round(Math.abs(step)));
    const next = Math.min(high, Math.max(low, current + step));
    // Two decimals are plenty for a simulated reading and keep the twin's values readable.
    return model.type === 'int' ? Math.round(next) : Math.round(next * 100) / 100;
  }

  #afterWrite(req: ModbusRequest): void {
    const end = req.address + req.quantity;
    for (const binding of this.#bindings.values()) {
      const { point } = binding;
      if (point.table !== req.table || point.offset >= end || point.offset + point.limit <= req.address) continue;
      let value: PropertyValue;
      try {
        value = this.get(binding.name);
      } catch {
        continue; // Half of a value written (FC6 into a float): nothing decodable to report yet.
      }
      this.emit('write', { property: binding.name, value, fc: req.fc });
      this.emit('change', { property: binding.name, value, source: 'write' });
    }
  }

  /** Resolves true after `ms`, or false at once if the simulator is stopped meanwhile. */
  #sleep(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.#sleeps.delete(entry);
          resolve(true);
        }, ms),
        wake: () => resolve(false),
      };
      this.#sleeps.add(entry);
    });
  }
}

/** One unit or several, as the servers accept them. */
export function unitList(units: ModbusSimulator | readonly ModbusSimulator[]): readonly ModbusSimulator[] {
  return units instanceof ModbusSimulator ? [units] : units;
}
