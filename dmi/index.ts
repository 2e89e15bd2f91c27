// dmi/: KubeEdge's Device Management Interface (v1beta1 gRPC over unix sockets, docs/dmi.md).
// The wire contract (api.proto, the messages, Any packing, Device/DeviceModel conversion), the
// edge side (DmiEdge: edgetwin as edgecore for KubeEdge mappers) and the pieces a mapper-side
// transport needs (a unix-socket gRPC server, unary calls, coded errors ⇄ gRPC status).
export type * from './messages.js';
export { DMI_PROTO_FILE, dmiServices, callUnary, unixTarget, isServiceError, isRetryable, fromServiceError, statusName, toServiceError, LOCAL_CHANNEL_OPTIONS, ERROR_CODE_TRAILER } from './proto.js';
export { packValue, unpackValue, packConfig, unpackConfig, MAX_NESTING, type PackOptions } from './any.js';
export { toPbDevice, toPbDeviceModel, fromPbDevice, fromPbDeviceModel, pbKey, type FromPbDevice, type ToPbDeviceOptions } from './convert.js';
export { ACK_METADATA, stateOf, twinUpdateOf } from './reports.js';
export { UnixGrpcServer, type ServedCall, type UnaryHandler, type UnixServerOptions } from './server.js';
export { checkSocketPath, prepareSocket, socketAnswers, socketPathProblem, MAX_SOCKET_PATH_BYTES } from './socket.js';
export { MapperRegistry, REGISTRY_FILE, type MapperRegistration } from './registry.js';
export { type LinkCall } from './link.js';
export { DmiEdge, EDGETWIN_API_VERSION, type DmiEdgeOptions, type DmiHealth, type DmiObserver, type DmiTwin } from './edge.js';
