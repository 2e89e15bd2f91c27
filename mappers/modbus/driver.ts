// The Modbus DeviceDriver: batched reads through the planner, writes with FC5/6/15/16, coded
// errors, and a link that reconnects by itself (connection.ts). One driver per device (one unit).

import { edgetwinError, isEdgetwinError, toEdgetwinError, type EdgetwinError } from '../../errors.js';
import type { PropertyValue } from '../../schemas/index.js';
import type { DeviceDriver, DriverDevice, DriverProperty, DriverState, MapperContext, ReadResult } from '../sdk/types.js';
import { decodeBits, decodeWords, encodeBits, encodeWords, isBitTable, toModelValue, type ModbusPoint, type RegisterTable } from './codec.js';
import { resolveVisitorConfig, type ModbusConnectionConfig, type ModbusProtocolConfig, type ModbusVisitorConfig } from './config.js';
import { ModbusConnection, type ModbusClient } from './connection.js';
import { dropsLink, modbusExceptionCode, type WireOp } from './failures.js';
import { MODBUS_LIMITS, planReads, splitRead, type PlanItem, type PlannedRead } from './planner.js';

type Raw = { readonly words: readonly number[] } | { readonly bits: readonly boolean[] };

/** Plans remembered per batch shape; a poll loop asks for the same few batches again and again. */
const PLAN_CACHE_SIZE = 32;

/** Function codes per table: Modbus Application Protocol v1.1b3 §6.1-6.4. */
const READ_FC: Readonly<Record<RegisterTable, number>> = { CoilRegister: 1, DiscreteInputRegister: 2, HoldingRegister: 3, InputRegister: 4 };

function failed(error: EdgetwinError): ReadResult {
  return { ok: false, error };
}

/** A Modbus property: its visitor config typed from VISITOR_CONFIG_SCHEMA (config.ts). */
type ModbusProperty = DriverProperty<ModbusVisitorConfig>;

export class ModbusDriver implements DeviceDriver<ModbusVisitorConfig> {
  readonly #ctx: MapperContext;
  readonly #device: DriverDevice<ModbusProtocolConfig, ModbusVisitorConfig>;
  readonly #config: ModbusConnectionConfig;
  readonly #connection: ModbusConnection;
  readonly #points = new WeakMap<ModbusProperty, ModbusPoint | EdgetwinError>();
  readonly #plans = new Map<string, readonly PlannedRead<number>[]>();
  #state: DriverState = 'unknown';
  #requests = 0;

  constructor(ctx: MapperContext, device: DriverDevice<ModbusProtocolConfig, ModbusVisitorConfig>, config: ModbusConnectionConfig) {
    this.#ctx = ctx;
    this.#device = device;
    this.#config = config;
    this.#connection = new ModbusConnection({ endpoint: config.endpoint, unitId: config.unitId, timeoutMs: config.timeoutMs });
  }

  /** Requests sent so far (reads after coalescing and splitting, plus writes). */
  get requests(): number {
    return this.#requests;
  }

  /** Links opened so far: 1 + the number of reconnects. */
  get connects(): number {
    return this.#connection.connects;
  }

  state(): DriverState {
    return this.#state;
  }

  async close(): Promise<void> {
    await this.#connection.close();
  }

  async read(properties: readonly ModbusProperty[], signal: AbortSignal): Promise<readonly ReadResult[]> {
    const results = new Array<ReadResult | undefined>(properties.length);
    const points: (ModbusPoint | undefined)[] = [];
    const items: PlanItem<number>[] = [];
    properties.forEach((property, i) => {
      const point = this.#point(property);
      if (isEdgetwinError(point)) {
        results[i] = failed(point);
        return;
      }
      points[i] = point;
      items.push({ unit: this.#config.unitId, table: point.table, offset: point.offset, count: point.limit, ref: i });
    });

    const key = items.map((it) => `${it.ref}:${it.table}:${it.offset}:${it.count}`).join(',');
    const queue = [...(this.#plans.get(key) ?? this.#plan(items))];
    const done: PlannedRead<number>[] = [];
    let split = false;
    let answered = 0;
    for (let read = queue.shift(); read !== undefined; read = queue.shift()) {
      try {
        const raw = await this.#readRaw(read, signal);
        answered++;
        for (const item of read.items) results[item.ref] = this.#decode(properties[item.ref], points[item.ref], raw, item.index);
        done.push(read);
      } catch (e) {
        const err = toEdgetwinError(e, 'EDGETWIN_ERR_MAPPER_CONNECTION');
        const code = modbusExceptionCode(err);
        // §7: 02 = an address in the range does not exist; 03 = the quantity is more than this
        // device accepts (some cap requests below 125). Either way smaller requests may succeed.
        if ((code === 2 || code === 3) && read.items.length > 1) {
          queue.unshift(...splitRead(read));
          split = true;
          continue;
        }
        if (dropsLink(err)) {
          // The link is gone; the runtime retries with backoff. Nothing read: the batch failed.
          if (answered === 0 || err.code === 'EDGETWIN_ERR_MAPPER_ABORTED') throw err;
          for (const rest of [read, ...queue]) for (const item of rest.items) results[item.ref] = failed(err);
          return results.map((r) => r ?? failed(err));
        }
        answered++;
        for (const item of read.items) results[item.ref] = failed(err);
        done.push(read);
      }
    }
    // Remember how the batch had to be split, so the next poll goes straight to the requests
    // that work instead of re-discovering the device's holes every cycle.
    if (split) this.#remember(key, done);
    return results.map((r) => r ?? failed(edgetwinError('EDGETWIN_ERR_INTERNAL', 'property left unread')));
  }

  async write(property: ModbusProperty, value: PropertyValue, signal: AbortSignal): Promise<void> {
    const point = this.#point(property);
    if (isEdgetwinError(point)) throw point;
    const unit = this.#config.unitId;
    if (point.table === 'DiscreteInputRegister' || point.table === 'InputRegister') {
      throw edgetwinError(
        'EDGETWIN_ERR_PROPERTY_NOT_WRITABLE',
        `Property "${property.name}" of ${this.#device.id} is in ${point.table}, which Modbus cannot write`,
        [{ path: property.name, message: `${point.table} is read-only` }],
      );
    }
    if (point.table === 'CoilRegister') {
      const bits = encodeBits(point, value);
      if (bits.length > MODBUS_LIMITS.writeBits) throw this.#tooLong(property, bits.length, MODBUS_LIMITS.writeBits);
      const [first] = bits;
      if (bits.length === 1 && first !== undefined) {
        await this.#call({ fc: 5, table: point.table, address: point.offset, quantity: 1, unit }, (c) => c.writeCoil(point.offset, first), signal);
      } else {
        await this.#call({ fc: 15, table: point.table, address: point.offset, quantity: bits.length, unit }, (c) => c.writeCoils(point.offset, bits), signal);
      }
      return;
    }
    const words = encodeWords(point, value);
    if (words.length > MODBUS_LIMITS.writeRegisters) throw this.#tooLong(property, words.length, MODBUS_LIMITS.writeRegisters);
    const [first] = words;
    if (words.length === 1 && first !== undefined) {
      await this.#call({ fc: 6, table: point.table, address: point.offset, quantity: 1, unit }, (c) => c.writeRegister(point.offset, first), signal);
    } else {
      // FC16 for anything wider than one register: the device sees the whole value at once, never
      // half of a float.
      await this.#call({ fc: 16, table: point.table, address: point.offset, quantity: words.length, unit }, (c) => c.writeRegisters(point.offset, words), signal);
    }
  }

  #plan(items: readonly PlanItem<number>[]): PlannedRead<number>[] {
    const { maxRegistersPerRequest, maxBitsPerRequest, maxGap } = this.#config;
    return planReads(items, { maxRegisters: maxRegistersPerRequest, maxBits: maxBitsPerRequest, maxGap });
  }

  #remember(key: string, reads: readonly PlannedRead<number>[]): void {
    this.#plans.delete(key);
    this.#plans.set(key, reads);
    if (this.#plans.size > PLAN_CACHE_SIZE) {
      const oldest = this.#plans.keys().next().value;
      if (oldest !== undefined) this.#plans.delete(oldest);
    }
  }

  #point(property: ModbusProperty): ModbusPoint | EdgetwinError {
    let point = this.#points.get(property);
    if (point === undefined) {
      try {
        point = resolveVisitorConfig(property.visitor, property.model.type, property.name);
      } catch (err) {
        point = toEdgetwinError(err, 'EDGETWIN_ERR_MAPPER_CONFIG');
      }
      this.#points.set(property, point);
    }
    return point;
  }

  async #readRaw(read: PlannedRead<number>, signal: AbortSignal): Promise<Raw> {
    const { start, count, table } = read;
    const op: WireOp = { fc: READ_FC[table], table, address: start, quantity: count, unit: read.unit };
    if (isBitTable(table)) {
      const res = await this.#call(op, (c) => (table === 'CoilRegister' ? c.readCoils(start, count) : c.readDiscreteInputs(start, count)), signal);
      // FC1/FC2 answers are padded to whole bytes; the padding bits are not ours.
      return { bits: res.data.slice(0, count) };
    }
    const res = await this.#call(op, (c) => (table === 'HoldingRegister' ? c.readHoldingRegisters(start, count) : c.readInputRegisters(start, count)), signal);
    return { words: res.data };
  }

  #decode(property: ModbusProperty | undefined, point: ModbusPoint | undefined, raw: Raw, index: number): ReadResult {
    if (property === undefined || point === undefined) return failed(edgetwinError('EDGETWIN_ERR_INTERNAL', 'planned item without a property'));
    try {
      const value =
        'bits' in raw
          ? decodeBits(point, raw.bits.slice(index, index + point.limit))
          : decodeWords(point, raw.words.slice(index, index + point.limit));
      const typed = toModelValue(value, property.model.type);
      if (typed === undefined) {
        return failed(
          edgetwinError('EDGETWIN_ERR_VALUE_TYPE', `Property "${property.name}": a ${point.kind} register value cannot be reported as ${property.model.type}`),
        );
      }
      return { ok: true, value: typed };
    } catch (err) {
      return failed(toEdgetwinError(err));
    }
  }

  /** One request on the link, with the driver's view of the device's state kept up to date. */
  async #call<T>(op: WireOp, run: (client: ModbusClient) => Promise<T>, signal: AbortSignal): Promise<T> {
    this.#requests++;
    try {
      const value = await this.#connection.request(op, run, signal);
      this.#state = 'online';
      return value;
    } catch (err) {
      this.#noteFailure(err);
      throw err;
    }
  }

  #noteFailure(err: unknown): void {
    if (!isEdgetwinError(err)) return;
    switch (err.code) {
      case 'EDGETWIN_ERR_MAPPER_TIMEOUT':
      case 'EDGETWIN_ERR_MAPPER_CONNECTION':
        this.#state = 'offline';
        break;
      case 'EDGETWIN_ERR_MODBUS_CRC':
      case 'EDGETWIN_ERR_MODBUS_RESPONSE':
        this.#state = 'unhealthy';
        break;
      case 'EDGETWIN_ERR_MODBUS_EXCEPTION':
        // The device answered: it is there, one address or function is not.
        this.#state = 'online';
        break;
      default:
        break;
    }
    this.#ctx.logger.debug({ device: this.#device.id, code: err.code }, err.message);
  }

  #tooLong(property: ModbusProperty, length: number, max: number): EdgetwinError {
    return edgetwinError('EDGETWIN_ERR_MAPPER_CONFIG', `Property "${property.name}": ${length} is more than one write request carries (${max})`);
  }
}
