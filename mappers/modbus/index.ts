// mappers/modbus: the Modbus TCP/RTU mapper (modbus-serial). Its public face.

import type { MapperFactory, ProtocolPlugin } from '../sdk/types.js';
import { PROTOCOL_CONFIG_SCHEMA, resolveProtocolConfig, VISITOR_CONFIG_SCHEMA, type ModbusProtocolConfig, type ModbusVisitorConfig } from './config.js';
import { defineMapper } from '../sdk/define.js';
import { ModbusDriver } from './driver.js';
import { modbusSimulator } from './simulate.js';

/**
 * The factory the mapper runtime registers for `protocolName: modbus`: its configs' types come
 * from the schemas (config.ts), validated once per device by defineMapper. connect() throws
 * EDGETWIN_ERR_MAPPER_CONFIG for a bad config and never touches the network (the driver
 * connects on first use).
 */
export const modbusMapper: MapperFactory<ModbusProtocolConfig, ModbusVisitorConfig> = defineMapper<typeof PROTOCOL_CONFIG_SCHEMA, typeof VISITOR_CONFIG_SCHEMA>({
  protocol: 'modbus',
  protocolConfigSchema: PROTOCOL_CONFIG_SCHEMA,
  visitorConfigSchema: VISITOR_CONFIG_SCHEMA,
  connect: (ctx, device) => new ModbusDriver(ctx, device, resolveProtocolConfig(device.protocol)),
});

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
