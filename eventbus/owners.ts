// Subscriptions grouped by owner, so a module removes all of its own in one call
// (zigbee2mqtt's extensions: listeners keyed by owner). Shared by both Bus implementations.

import type { Subscription } from './bus.js';

export class OwnedSubscriptions {
  private readonly byOwner = new Map<string, Set<Subscription>>();

  add(owner: string | undefined, subscription: Subscription): void {
    if (owner === undefined) return;
    let set = this.byOwner.get(owner);
    if (!set) this.byOwner.set(owner, (set = new Set()));
    set.add(subscription);
  }

  delete(owner: string | undefined, subscription: Subscription): void {
    if (owner !== undefined) this.byOwner.get(owner)?.delete(subscription);
  }

  /** Unsubscribes everything `owner` holds. */
  async removeAll(owner: string): Promise<void> {
    const set = this.byOwner.get(owner);
    if (!set) return;
    this.byOwner.delete(owner);
    await Promise.all([...set].map((s) => s.unsubscribe()));
  }

  clear(): void {
    this.byOwner.clear();
  }
}
