// The protocol registry: one list of the protocols this node knows — the bundled ones, then
// plugins (mappers/plugins.ts) — each a ProtocolPlugin (mappers/sdk/types.ts). The config check,
// the in-process runtime (edgecore/mappers.ts), `edgetwin mapper <name>`, `edgetwin simulate
// <name>`, `edgetwin check` and docs/writing-a-mapper.md all read it: adding a bundled protocol
// is its folder plus one entry in BUNDLED_PROTOCOLS.

import { edgetwinError } from '../errors.js';
import { suggestion } from '../schemas/index.js';
import { bluetoothPlugin } from './bluetooth/index.js';
import { modbusPlugin } from './modbus/index.js';
import type { ProtocolPlugin } from './sdk/types.js';

export interface ProtocolEntry {
  /** The protocol's name: `spec.protocol.protocolName` of its devices (= `plugin.factory.protocol`). */
  readonly name: string;
  readonly plugin: ProtocolPlugin;
  /** `bundled`, or where the plugin was loaded from (its package name or path). */
  readonly source: string;
  /** Other names the CLI accepts (`edgetwin simulate ble`). */
  readonly aliases: readonly string[];
}

function entry(plugin: ProtocolPlugin, aliases: readonly string[] = []): ProtocolEntry {
  return { name: plugin.factory.protocol, plugin, source: 'bundled', aliases };
}

/** The protocols edgetwin ships. */
export const BUNDLED_PROTOCOLS: readonly ProtocolEntry[] = [entry(modbusPlugin), entry(bluetoothPlugin, ['ble'])];

export class ProtocolRegistry {
  private readonly entries = new Map<string, ProtocolEntry>();

  constructor(entries: readonly ProtocolEntry[] = BUNDLED_PROTOCOLS) {
    for (const e of entries) this.entries.set(e.name, e);
  }

  /**
   * Adds a plugin's protocol. Throws EDGETWIN_ERR_PLUGIN_INVALID when the name is taken (by a
   * bundled protocol or an earlier plugin): one protocol has one mapper.
   */
  add(plugin: ProtocolPlugin, source: string): ProtocolEntry {
    const name = plugin.factory.protocol;
    const taken = this.get(name);
    if (taken) {
      throw edgetwinError('EDGETWIN_ERR_PLUGIN_INVALID', `plugin ${source}: protocol "${name}" is already provided by ${taken.source === 'bundled' ? 'a bundled mapper' : `plugin ${taken.source}`}`);
    }
    const e: ProtocolEntry = { name, plugin, source, aliases: [] };
    this.entries.set(name, e);
    return e;
  }

  /** The entry of a protocol name or alias. */
  get(name: string): ProtocolEntry | undefined {
    return this.entries.get(name) ?? [...this.entries.values()].find((e) => e.aliases.includes(name));
  }

  /** The entry, or EDGETWIN_ERR_MAPPER_UNKNOWN naming what is available (and the likely typo). */
  require(name: string, what = 'mapper'): ProtocolEntry {
    const e = this.get(name);
    if (e) return e;
    const names = this.names();
    throw edgetwinError('EDGETWIN_ERR_MAPPER_UNKNOWN', `no ${what} for protocol "${name}"${suggestion(name, names)} (available: ${names.join(', ')}; a plugin's protocol once mappers.plugins or --plugin loads it)`);
  }

  list(): readonly ProtocolEntry[] {
    return [...this.entries.values()];
  }

  names(): string[] {
    return [...this.entries.keys()];
  }
}
