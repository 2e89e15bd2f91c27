// schemas/: device models (JSON Schema), Device manifests, the config schema.
export type {
  KubeType,
  PropertyValue,
  ParseResult,
  JsonSchema,
  PropertyModel,
  DeviceModel,
  ProtocolConfig,
  PropertyInstance,
  DeviceInstance,
  ModelDefaults,
  VisitorDefaults,
} from './types.js';
export { applyModelDefaults } from './defaults.js';

export { BUNDLED_MODELS_DIR, compileModel, findBundledModelsDir, loadModels } from './models.js';
export { didYouMean, editDistance, suggestion } from './suggest.js';
export { DNS1123_LABEL, DNS1123_SUBDOMAIN, TWIN_KEY } from './names.js';
export { DEVICE_API_VERSION, DEVICE_MANIFEST_SCHEMA, loadDevices, parseDeviceManifest, type DeviceManifest } from './devices.js';
export { parsePushMethod, PUSH_METHOD_SCHEMAS, type PushMethod, type MqttPush, type HttpPush, type Influxdb2Push, type RedisPush, type MysqlPush } from './push-method.js';
export { CONFIG_SCHEMA, loadConfigFile, resolveConfig, type EdgetwinConfig, type RawConfig } from './config.js';
export { isDecimalNumber, kubeTypeOf, sameReading, shortestFloat32 } from './values.js';
export {
  DEVICEMODEL_API_VERSION,
  SCHEMA_ANNOTATION,
  fromDeviceModel,
  toDeviceModel,
  type FromDeviceModelResult,
  type KubeDeviceModel,
  type KubeModelProperty,
  type KubeModelType,
  type ToDeviceModelOptions,
} from './devicemodel.js';
export { DURATION_PATTERN, SIZE_PATTERN, formatDuration, parseDuration, parseSize } from './durations.js';
