// The protocol registry: each bundled entry is consistent with itself, with the docs' table of
// protocols, and is what the runtime, the CLI and the simulators find by name.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isEdgetwinError } from '../errors.js';
import { BUNDLED_PROTOCOLS, ProtocolRegistry } from './registry.js';
import { compileFactorySchemas } from './sdk/config.js';

const DOC = readFileSync(path.resolve(import.meta.dirname, '..', 'docs', 'writing-a-mapper.md'), 'utf8');

describe('the protocol registry', () => {
  it.each(BUNDLED_PROTOCOLS.map((e) => [e.name, e] as const))('%s: named by its factory, schemas compile, has a simulator, and is in the docs', (name, entry) => {
    expect(entry.plugin.factory.protocol).toBe(name);
    expect(() => compileFactorySchemas(entry.plugin.factory)).not.toThrow();
    expect(typeof entry.plugin.simulator?.start).toBe('function');
    expect(entry.plugin.description).toBeTruthy();
    expect(DOC).toContain(`| \`${name}\``);
  });

  it('finds protocols by name and alias, and names the likely typo of an unknown one', () => {
    const registry = new ProtocolRegistry();
    expect(registry.names()).toEqual(['modbus', 'bluetooth']);
    expect(registry.get('ble')?.name).toBe('bluetooth');
    let err: unknown;
    try {
      registry.require('modbsu');
    } catch (e) {
      err = e;
    }
    expect(isEdgetwinError(err, 'EDGETWIN_ERR_MAPPER_UNKNOWN')).toBe(true);
    expect((err as Error).message).toContain('did you mean "modbus"?');
  });

  it('refuses a second mapper for a protocol', () => {
    const registry = new ProtocolRegistry();
    const modbus = BUNDLED_PROTOCOLS[0]!.plugin;
    expect(() => registry.add(modbus, 'some-plugin')).toThrow(/already provided by a bundled mapper/);
  });
});
