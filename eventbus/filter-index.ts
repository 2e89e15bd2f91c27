// Topic filter -> values, looked up by topic on the hot path. Both the embedded broker (ingest
// handlers) and the MQTT client bus (local dispatch) need "which of my filters match this
// topic?" for every message. The set of filters is small and changes rarely; the set of topics
// is large but repeats (one per device and kind), so results are cached per topic string in a
// bounded Map and the cache is dropped whenever a filter is added or removed.

import { topicMatches } from './topics.js';

/** Cached topics before the cache is cleared; bounds memory when topics are unbounded. */
const DEFAULT_CACHE_LIMIT = 10_000;

const NONE: readonly never[] = Object.freeze([]);

export class FilterIndex<T> {
  private readonly filters = new Map<string, T[]>();
  private cache = new Map<string, readonly T[]>();
  private readonly cacheLimit: number;

  constructor(cacheLimit = DEFAULT_CACHE_LIMIT) {
    this.cacheLimit = cacheLimit;
  }

  /** Number of distinct filters. */
  get size(): number {
    return this.filters.size;
  }

  has(filter: string): boolean {
    return this.filters.has(filter);
  }

  /** Values registered under exactly this filter (not matching). */
  valuesOf(filter: string): readonly T[] {
    return this.filters.get(filter) ?? NONE;
  }

  add(filter: string, value: T): void {
    const values = this.filters.get(filter);
    if (values) values.push(value);
    else this.filters.set(filter, [value]);
    this.cache = new Map();
  }

  /** Removes one value; true if it was there. The filter goes when its last value does. */
  remove(filter: string, value: T): boolean {
    const values = this.filters.get(filter);
    const at = values ? values.indexOf(value) : -1;
    if (!values || at < 0) return false;
    values.splice(at, 1);
    if (values.length === 0) this.filters.delete(filter);
    this.cache = new Map();
    return true;
  }

  /**
   * Every value whose filter matches `topic`, in filter registration order. The returned array
   * is shared with the cache: callers must not mutate it.
   */
  match(topic: string): readonly T[] {
    const hit = this.cache.get(topic);
    if (hit !== undefined) return hit;
    let found: T[] | undefined;
    for (const [filter, values] of this.filters) {
      if (topicMatches(filter, topic)) (found ??= []).push(...values);
    }
    const result: readonly T[] = found ?? NONE;
    if (this.cache.size >= this.cacheLimit) this.cache.clear();
    this.cache.set(topic, result);
    return result;
  }
}
