// mappers/modbus: the Modbus TCP/RTU mapper (modbus-serial). Its public face.

import type { MapperFactory, ProtocolPlugin } from '../sdk/types.js';
import { parseProtocolConfig, PROTOCOL_CONFIG_SCHEMA, VISITOR_CONFIG_SCHEMA } from './config.js';
import { ModbusDriver } from './driver.js';
import { modbusSimulator } from './simulate.js';

/**
 * The factory the mapper runtime registers for `protocolName: modbus`. Typed on unknown configs
 * on purpose: the driver validates `protocol` and each `visitor` itself (config.ts), so it is safe
 * to hand it whatever a manifest holds.
 */
export const modbusMapper: MapperFactory = {
  protocol: 'modbus',
  protocolConfigSchema: PROTOCOL_CONFIG_SCHEMA,
  visitorConfigSchema: VISITOR_CONFIG_SCHEMA,
  // Throws EDGETWIN_ERR_MAPPER_CONFIG for a bad protocol config; never touches the network (the
  // driver connects on first use).
  connect: (ctx, device) => new ModbusDriver(ctx, device, parseProtocolConfig(device.protocol)),
};

/** The registry entry of `protocolName: modbus` (mappers/registry.ts). */
export const modbusPlugin: ProtocolPlugin = {
  factory: modbusMapper,
  simulator: modbusSimulator,
  description: "Modbus TCP and RTU (modbus-serial): KubeEdge's register, offset, limit, dataType, scale, isSwap, isRegisterSwap",
};

export { modbusSimulator } from './simulate.js';
export { ModbusDriver } from './driver.js';
export {
  DATA_TYPES,
  DEFAULT_MAX_GAP,
  DEFAULT_TCP_PORT,
  DEFAULT_TIMEOUT_MS,
  PROTOCOL_CONFIG_SCHEMA,
  VISITOR_CONFIG_SCHEMA,
  parseProtocolConfig,
  parseVisitorConfig,
  resolveProtocolConfig,
  resolveVisitorConfig,
  type ModbusConnectionConfig,
  type ModbusDataType,
  type ModbusEndpoint,
  type ModbusProtocolConfig,
  type ModbusVisitorConfig,
  type Parity,
} from './config.js';
export {
  bytesToWords,
  decodeBits,
  decodeWords,
  encodeBits,
  encodeWords,
  isBitTable,
  toModelValue,
  wordsToBytes,
  WORD_KINDS,
  type ModbusPoint,
  type RegisterTable,
  type ValueKind,
} from './codec.js';
export { MODBUS_LIMITS, planReads, splitRead, type PlanItem, type PlanOptions, type PlannedItem, type PlannedRead } from './planner.js';
export { exceptionName, modbusExceptionCode } from './failures.js';
