// eventbus/: the embedded aedes broker, the in-process bus, the KubeEdge topic grammar.
export * from './topics.js';
export type * from './bus.js';
export { EmbeddedBroker } from './broker.js';
export type { BrokerStats, EmbeddedBrokerOptions, SubscribeOptions } from './broker.js';
export type { ClientInfo, ForwardAuthorizer, PublishAuthorizer, SubscribeAuthorizer } from './admission.js';
export { MqttBus, redactUrl } from './mqtt-bus.js';
export type { MqttBusOptions, MqttBusStats, MqttBusSubscribeOptions } from './mqtt-bus.js';
export { ExternalBus } from './external-bus.js';
export type { ExternalBusOptions, ExternalBusStatus } from './external-bus.js';
export { BridgedBus, BRIDGED_TO_EXTERNAL, type BridgedBusOptions } from './bridged-bus.js';
export * from './auth/index.js';
export { ClientLimiter, topicDepth, type ClientLimiterOptions } from './limits.js';
