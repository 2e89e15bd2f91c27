// simulators/modbus: simulated Modbus units (TCP and RTU) built from Device manifests, with fault
// injection. Its public face.

export { ModbusSimulator, unitList, type HandleResult, type ModbusSimulatorOptions, type SimulatorChange, type SimulatorEvents, type SimulatorStats, type SimulatorWrite } from './simulator.js';
export { UnitFaults, type ExceptionFault } from './faults.js';
export { ModbusTcpServer, type ModbusTcpServerOptions, type TcpServerEvents } from './tcp-server.js';
export { ModbusRtuServer, type ModbusRtuServerOptions } from './rtu-server.js';
export { hasSocat, openPtyPair, type PtyPair } from './pty.js';
export { simulateModbus, type ModbusSimulation, type SimulateModbusOptions } from './cli.js';
export { RegisterBank, parseRequest, execute, exceptionPdu, type ModbusRequest } from './pdu.js';
export { crc16 } from './crc.js';
export { seededRandom, type Random } from './random.js';
export {
  MODBUS_TEST_MODEL_SCHEMA,
  MODBUS_TEST_VALUES,
  MODBUS_TEST_VISITORS,
  modbusTestDevice,
  modbusTestModel,
  startModbusTestRig,
  type ModbusTestDeviceOptions,
  type ModbusTestRig,
} from './fixtures.js';
export { measureCoalescing, measureReadThroughput, type CoalescingResult, type ThroughputResult } from './measure.js';
