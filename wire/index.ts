// wire/: KubeEdge's MQTT payload types (and edgetwin's additions), which payload each topic
// carries, and TwinClient, the typed client of the twin's MQTT API. It sits beside the bus:
// mappers, the CLI, apps and devicetwin/ itself import it (STYLE.md habit 13), and it imports
// only eventbus/, schemas/ and errors.
export type * from './messages.js';
export { publishDevice, publishNode, type DeviceTopicPayloads, type GetRequest, type NodeTopicPayloads } from './topics.js';
export { TwinClient, type HistoryGetRequest, type TwinClientOptions, type TwinEvent } from './client.js';
