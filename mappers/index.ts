// mappers/: the mapper SDK (contract + runtime), the protocol registry (bundled protocols and
// plugins) and the bundled protocol mappers.
export * from './sdk/index.js';
export { BUNDLED_PROTOCOLS, ProtocolRegistry, type ProtocolEntry } from './registry.js';
export { findPackageDir, isPluginPath, loadPlugin, loadPlugins, resolvePlugin, validatePlugin, type PluginLoad } from './plugins.js';
export { modbusMapper, modbusPlugin, parseProtocolConfig as parseModbusProtocolConfig } from './modbus/index.js';
export { bluetoothMapper, bluetoothPlugin, createBluetoothMapper, loadNoble } from './bluetooth/index.js';
