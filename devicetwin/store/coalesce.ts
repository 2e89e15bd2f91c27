// Group commit folds every change queued in one tick into one plan per device, so a property
// written 50 times in a burst costs one row write. The plan must equal applying the changes one
// by one: later writes to the same key win, and a membership removal discards everything queued
// for that device before it (it deletes the device's rows when the plan runs).

import type { DeviceStateName, MembershipEntry, StoreChange, TwinState } from '../types.js';

export interface DevicePlan {
  readonly id: string;
  /** Delete the member row, device row and twin rows first (a membership removal). */
  reset: boolean;
  member?: MembershipEntry;
  /** From a twins change: the device row's identity and version. */
  device?: { namespace: string; name: string; version: number };
  state?: { state: DeviceStateName; lastOnline: string };
  /** Delete every stored twin of the device before writing `twins` (a change without `changed`). */
  replaceTwins: boolean;
  /** Property → its new state, or null to delete its row. */
  twins: Map<string, TwinState | null>;
}

export function coalesce(groups: Iterable<readonly StoreChange[]>): Map<string, DevicePlan> {
  const plans = new Map<string, DevicePlan>();
  const planFor = (id: string): DevicePlan => {
    let plan = plans.get(id);
    if (plan === undefined) {
      plan = { id, reset: false, replaceTwins: false, twins: new Map() };
      plans.set(id, plan);
    }
    return plan;
  };
  for (const changes of groups) {
    for (const change of changes) {
      switch (change.kind) {
        case 'member':
          planFor(change.entry.id).member = change.entry;
          break;
        case 'unmember':
          plans.set(change.id, { id: change.id, reset: true, replaceTwins: false, twins: new Map() });
          break;
        case 'state':
          planFor(change.id).state = { state: change.state, lastOnline: change.lastOnline };
          break;
        case 'twins': {
          const { device, changed } = change;
          const plan = planFor(device.id);
          plan.device = { namespace: device.namespace, name: device.name, version: device.version };
          if (changed === undefined) {
            plan.replaceTwins = true;
            plan.twins = new Map(Object.entries(device.twins));
          } else {
            // A named property the device no longer has was removed outright; soft-deleted twins
            // (type 'deleted') are still in `device.twins` and keep their row and versions.
            // hasOwn: a property may be called `constructor` or `__proto__` (KubeEdge allows both).
            for (const property of changed) {
              plan.twins.set(property, Object.hasOwn(device.twins, property) ? device.twins[property] ?? null : null);
            }
          }
          break;
        }
      }
    }
  }
  return plans;
}

/** `<namespace>/<name>` split at the first '/', for a device row created by a state change. */
export function splitId(id: string): { namespace: string; name: string } {
  const slash = id.indexOf('/');
  return slash < 0 ? { namespace: '', name: id } : { namespace: id.slice(0, slash), name: id.slice(slash + 1) };
}
