// The KubeEdge CRD manifests vendored under cloudsync/crds/ (see SOURCES.md there): what
// `edgetwin crds` prints and what the tests validate written objects against.

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The CRDs a cluster needs, in apply order. `legacy`: the ≤ 1.22 Device (status on the Device, no DeviceStatus). */
export const CRD_FILES = {
  current: ['devices_v1beta1_devicemodel.yaml', 'devices_v1beta1_device.yaml', 'devices_v1beta1_devicestatus.yaml'],
  legacy: ['devices_v1beta1_devicemodel.yaml', 'devices_v1beta1_device.v1.22.2-pre-split.yaml'],
} as const;

/**
 * Where the YAML files are: beside this module when run from source; from dist/cloudsync/ (tsc
 * copies no YAML) back up to the package's cloudsync/crds.
 */
export function crdsDir(moduleUrl: string = import.meta.url): string {
  const here = path.dirname(fileURLToPath(moduleUrl));
  const candidates = [path.join(here, 'crds'), path.resolve(here, '..', '..', 'cloudsync', 'crds')];
  return candidates.find((d) => existsSync(path.join(d, CRD_FILES.current[0]))) ?? (candidates[0] as string);
}

/** The manifests as text, each verbatim (they start with `---`), for `kubectl apply -f -`. */
export function crdManifests(layout: keyof typeof CRD_FILES = 'current'): Array<{ file: string; text: string }> {
  const dir = crdsDir();
  return CRD_FILES[layout].map((file) => ({ file, text: readFileSync(path.join(dir, file), 'utf8') }));
}
