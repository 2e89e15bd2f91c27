// The in-process Kubernetes API server for cloud sync tests and the benchmark.
export { FakeApiServer, type FakeApiServerOptions, type RequestRecord, type Fault } from './server.js';
export { loadCrd, loadCrds, toJsonSchema, VENDORED_CRDS, SHARED_CRDS, type Crd } from './crd.js';
export { ApiError, Store, mergePatch, type Obj, type HistoryEvent } from './store.js';
