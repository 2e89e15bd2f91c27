// mappers/: the mapper SDK (contract + runtime) and the bundled protocol mappers.
export * from './sdk/index.js';
export { modbusMapper, parseProtocolConfig as parseModbusProtocolConfig } from './modbus/index.js';
export { bluetoothMapper, createBluetoothMapper, loadNoble } from './bluetooth/index.js';
