// Name rules shared by models, manifests and the config, and how a failed pattern is explained:
// ajv would otherwise print the raw regular expression.

/** Kubernetes object names (DNS-1123 subdomain): a model's title, a Device's name, a node name. */
export const DNS1123_SUBDOMAIN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
/** Kubernetes namespace names (DNS-1123 label). */
export const DNS1123_LABEL = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
/** KubeEdge's twin key rule (dtcommon ValidateTwinKey; kubeedge-notes §2): every property is a twin key. */
export const TWIN_KEY = '^[a-zA-Z0-9-_.,:/@#]{1,128}$';
/** A device id, `<namespace>/<name>` (KubeEdge ≥ 1.17): a DNS-1123 label, '/', a DNS-1123 subdomain. */
export const DEVICE_ID = `${DNS1123_LABEL.slice(0, -1)}/${DNS1123_SUBDOMAIN.slice(1)}`;

export const PATTERN_DESCRIPTIONS: ReadonlyMap<string, string> = new Map([
  [DNS1123_SUBDOMAIN, "a DNS-1123 subdomain (lower-case letters, digits, '-' and '.', starting and ending alphanumeric)"],
  [DNS1123_LABEL, "a DNS-1123 label (lower-case letters, digits and '-', starting and ending alphanumeric)"],
  [TWIN_KEY, 'a KubeEdge twin key (1-128 of a-z A-Z 0-9 - _ . , : / @ #)'],
  [DEVICE_ID, 'a device id: <namespace>/<name>, DNS-1123 names (lower-case letters, digits, \'-\', and \'.\' in the name)'],
]);
