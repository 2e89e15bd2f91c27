// simulators/: simulated field devices driven by the same models and Device manifests as the
// real ones. Its public face.

export * from './modbus/index.js';
export * from './bluetooth/index.js';
