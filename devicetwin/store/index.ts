// devicetwin/store: durable twin storage. The conformance suite every TwinStore must pass is a
// separate, test-only entry point (`devicetwin/store/conformance.js`, as aedes-persistence ships
// `abstract.js`): it imports vitest, a dev dependency, which this module must not load at runtime.
export { SqliteTwinStore, type SqliteTwinStoreOptions, type StoreLogger } from './sqlite.js';
export { makeDirectory, markerOf } from './files.js';
