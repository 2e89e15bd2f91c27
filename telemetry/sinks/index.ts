// telemetry/sinks/: KubeEdge's pushMethod (mqtt, http) and dbMethod (influxdb2, redis, mysql)
// destinations, each a Sink (telemetry/sink.ts) behind the outbox.
export { buildSinks, destinationKey, type BuiltSink, type Destinations } from './build.js';
export { readCredentials, goTime, type Credentials, type DestinationConfig, type SinkTarget } from './common.js';
export { mqttSink, mqttPayload, type MqttPushConfig } from './mqtt.js';
export { httpSink, httpBody, httpUrl, type HttpPushConfig } from './http.js';
export { influxSink, lineProtocol, type InfluxPushConfig } from './influxdb.js';
export { redisSink, redisMember, type RedisPushConfig } from './redis.js';
export { mysqlSink, mysqlTable, type MysqlPushConfig } from './mysql.js';
