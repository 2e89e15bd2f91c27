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
} from './types.js';
