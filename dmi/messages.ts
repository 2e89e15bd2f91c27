// The DMI v1beta1 messages as JavaScript objects (dmi/api.proto, loaded with keepCase, longs as
// numbers and defaults on). Decoded messages always carry every scalar, list and map; an absent
// sub-message is null. Messages we send may leave fields out: proto3 omits defaults anyway.
// A peer that sends a nil sub-message makes KubeEdge's Go code crash (docs/dmi.md, "Nil
// messages"), so everything edgetwin sends sets the sub-messages the other side dereferences.

/** google.protobuf.Any as proto-loader gives it without `json: true`. */
export interface PbAny {
  type_url: string;
  value: Uint8Array;
}

export type PbConfigData = Record<string, PbAny>;

export interface PbCustomizedValue {
  data?: PbConfigData;
}

export interface PbProtocolConfig {
  protocolName?: string;
  configData?: PbCustomizedValue | null;
}

export interface PbTwinProperty {
  value?: string;
  metadata?: Record<string, string>;
}

export interface PbTwin {
  propertyName?: string;
  observedDesired?: PbTwinProperty | null;
  reported?: PbTwinProperty | null;
}

export interface PbDeviceStatus {
  twins?: PbTwin[];
  reportToCloud?: boolean;
  reportCycle?: number;
}

/** Passed through untouched (KubeEdge's push and DB methods; edgetwin does not use them). */
export type PbPushMethod = Record<string, unknown>;

export interface PbDeviceProperty {
  name?: string;
  desired?: PbTwinProperty | null;
  visitors?: PbProtocolConfig | null;
  reportCycle?: number;
  collectCycle?: number;
  reportToCloud?: boolean;
  pushMethod?: PbPushMethod | null;
}

export interface PbDeviceMethod {
  name?: string;
  description?: string;
  propertyNames?: string[];
}

export interface PbDeviceSpec {
  deviceModelReference?: string;
  protocol?: PbProtocolConfig | null;
  properties?: PbDeviceProperty[];
  methods?: PbDeviceMethod[];
}

export interface PbDevice {
  name?: string;
  spec?: PbDeviceSpec | null;
  status?: PbDeviceStatus | null;
  namespace?: string;
}

export interface PbModelProperty {
  name?: string;
  description?: string;
  type?: string;
  accessMode?: string;
  minimum?: string;
  maximum?: string;
  unit?: string;
}

export interface PbDeviceModel {
  name?: string;
  spec?: { properties?: PbModelProperty[]; commands?: unknown[] } | null;
  namespace?: string;
}

export interface PbMapperInfo {
  name?: string;
  version?: string;
  api_version?: string;
  protocol?: string;
  /** The mapper's socket path, UTF-8. */
  address?: Uint8Array;
  state?: string;
}

export interface PbMapperRegisterRequest {
  withData?: boolean;
  mapper?: PbMapperInfo | null;
}

export interface PbMapperRegisterResponse {
  modelList?: PbDeviceModel[];
  deviceList?: PbDevice[];
}

export interface PbReportDeviceStatusRequest {
  deviceName?: string;
  reportedDevice?: PbDeviceStatus | null;
  deviceNamespace?: string;
}

export interface PbReportDeviceStatesRequest {
  deviceName?: string;
  deviceNamespace?: string;
  state?: string;
}

export interface PbDeviceRequest {
  device?: PbDevice | null;
}

export interface PbDeviceRef {
  deviceName?: string;
  deviceNamespace?: string;
}

export interface PbModelRequest {
  model?: PbDeviceModel | null;
}

export interface PbModelRef {
  modelName?: string;
  modelNamespace?: string;
}

export interface PbCreateDeviceModelResponse {
  deviceModelName?: string;
  deviceModelNamespace?: string;
}

export interface PbGetDeviceResponse {
  device?: PbDevice | null;
}

export type PbEmpty = Record<string, never>;
