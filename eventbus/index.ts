// eventbus/: the embedded aedes broker, the in-process bus, the KubeEdge topic grammar.
export * from './topics.js';
export type * from './bus.js';
