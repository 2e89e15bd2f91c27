// telemetry/prometheus/: device property values as Prometheus metrics on /metrics.
export { DEVICE_VALUE_METRICS, DeviceValueCollector, numericValue, type DeviceValueCollectorOptions, type DeviceValuesSource } from './device-values.js';
export { DEFAULT_DEVICE_VALUES_POLICY, deviceValuesPolicy, selectedProperties, selectsProperty, type DeviceValuesPolicy } from './policy.js';
