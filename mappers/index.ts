// mappers/: the mapper SDK (contract + runtime) and the bundled protocol mappers.
export * from './sdk/index.js';
export { modbusMapper } from './modbus/index.js';
