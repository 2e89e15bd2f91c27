// The desired-value conflict rule (DESIGN.md "DeviceTwin semantics"): each side's value is
// compared with the one both agreed at the last sync; the cloud wins when both changed. Pure, so
// every case is tested without a cluster.

export interface DesiredSides {
  /** `spec.properties[].desired.value` in the cluster ('' counts as none, as Go clients write it). */
  readonly cloud: string | undefined;
  /** The twin's expected value at the edge. */
  readonly edge: string | undefined;
  /** The value agreed at the last sync: undefined = never synced, null = agreed on "none". */
  readonly synced: string | null | undefined;
  /** A value we are writing to the cluster right now (its watch echo must not count as a cloud change). */
  readonly inflight?: string;
}

export type DesiredAction =
  /** The cloud's value goes to the twin (cloud changed, or both changed: cloud wins). */
  | { readonly kind: 'to-twin'; readonly value: string }
  /** The edge's value goes to the Device spec (only the edge changed). */
  | { readonly kind: 'to-cloud'; readonly value: string }
  /** Both sides hold this now (or the cloud dropped its value): just record it as synced. */
  | { readonly kind: 'agree'; readonly value: string | null }
  | { readonly kind: 'none' };

export function decideDesired(s: DesiredSides): DesiredAction {
  const cloud = s.cloud === undefined || s.cloud === '' ? null : s.cloud;
  const edge = s.edge ?? null;
  if (s.synced === undefined) {
    // First contact: the cluster's Device is the source of truth for a value it declares; a value
    // set only at the edge is adopted as the baseline without rewriting the user's Device.
    if (cloud === null) return { kind: 'agree', value: edge };
    return cloud === edge ? { kind: 'agree', value: cloud } : { kind: 'to-twin', value: cloud };
  }
  if (cloud !== s.synced) {
    if (cloud === null) return { kind: 'agree', value: edge };
    if (cloud === edge || cloud === s.inflight) return { kind: 'agree', value: cloud };
    return { kind: 'to-twin', value: cloud };
  }
  if (edge !== null && edge !== s.synced) return { kind: 'to-cloud', value: edge };
  return { kind: 'none' };
}
