// cloudsync/: twins to and from Kubernetes Device resources (KubeEdge devices.kubeedge.io/v1beta1).
export { CloudSync, type CloudSyncHealth } from './sync.js';
export { DEFAULTS as CLOUD_SYNC_DEFAULTS, cloudSyncOptionsFromConfig, type CloudSyncOptions, type TwinApi } from './options.js';
export { ClientKubeApi, loadKubeConfig, API_VERSION, GROUP, VERSION, type KubeApi, type KubeObject, type Plural } from './kube.js';
export { Backoff, TokenBucket, systemClock, type BackoffOptions, type Clock } from './timing.js';
export { decideDesired, type DesiredAction, type DesiredSides } from './desired.js';
export type { ReflectorHealth } from './reflector.js';
export type { SchedulerHealth } from './scheduler.js';
export type { CrdTwin, StatusLayout, StatusValue } from './status.js';
export { CRD_FILES, crdManifests, crdsDir } from './crds.js';
