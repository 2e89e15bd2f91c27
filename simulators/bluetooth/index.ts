// simulators/bluetooth: simulated BLE peripherals behind noble's binding interface, built from
// Device manifests and their models, with fault injection. Its public face.

export { createSimulatedAdapter, type SimulatedAdapter, type SimulatedAdapterOptions } from './adapter.js';
export { SimulatedBinding, type SimulatedBindingOptions } from './binding.js';
export {
  DEFAULT_SERVICE,
  SimulatedPeripheral,
  type ReadFault,
  type SimulatedCharacteristic,
  type SimulatedField,
  type SimulatedPeripheralEvents,
  type SimulatedWrite,
} from './peripheral.js';
export {
  BLE_TEST_MODEL_SCHEMA,
  BLE_TEST_VALUES,
  BLE_TEST_VISITORS,
  bleTestDevice,
  bleTestModel,
  startBleTestRig,
  type BleTestDeviceOptions,
  type BleTestRig,
} from './fixtures.js';
