// Mapper plugins: third-party protocol packages whose default export is a ProtocolPlugin
// (mappers/sdk/types.ts), loaded by `mappers.plugins` into `edgetwin run` and by
// `edgetwin mapper --plugin` into a mapper process of their own. A plugin that cannot be found,
// throws while imported, or does not export a valid ProtocolPlugin is reported with a code and
// skipped: the node serves everything else.

import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { edgetwinError, toEdgetwinError, type EdgetwinError } from '../errors.js';
import { compileFactorySchemas } from './sdk/config.js';
import type { ProtocolPlugin } from './sdk/types.js';
import type { ProtocolEntry, ProtocolRegistry } from './registry.js';

/** A protocol name is a `protocolName` and a file name (`<name>.sock`): a DNS-1123 label. */
const PROTOCOL_NAME = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/;

/** `./x`, `../x`, `/x` (or `C:\x`): a path; anything else names a package. */
export function isPluginPath(spec: string): boolean {
  return spec.startsWith('.') || path.isAbsolute(spec);
}

/**
 * The folder of package `name` as Node resolves a bare specifier from `from`: the first
 * `node_modules/<name>` in `from` or a folder above it (https://nodejs.org/api/modules.html,
 * "Loading from node_modules folders"). Undefined when there is none.
 */
export function findPackageDir(name: string, from: string): string | undefined {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', name);
    if (existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (path.dirname(dir) === dir) return undefined;
  }
}

type ExportsField = string | { readonly [key: string]: ExportsField } | null | undefined;

/** Picks the ESM entry of an `exports` value: https://nodejs.org/api/packages.html#conditional-exports. */
function exportTarget(value: ExportsField): string | undefined {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const keys = Object.keys(value);
  if (keys.some((k) => k.startsWith('.'))) return exportTarget(value['.']);
  for (const condition of ['import', 'node', 'default']) {
    const target = exportTarget(value[condition]);
    if (target !== undefined) return target;
  }
  return undefined;
}

/** The file to import for a package folder: its `exports["."]`, else `main`, else index.js. */
function packageEntry(dir: string, source: string): string {
  let manifest: { exports?: ExportsField; main?: unknown };
  try {
    manifest = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as typeof manifest;
  } catch (err) {
    throw edgetwinError('EDGETWIN_ERR_PLUGIN_LOAD', `plugin ${source}: cannot read ${path.join(dir, 'package.json')}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const target = exportTarget(manifest.exports) ?? (typeof manifest.main === 'string' ? manifest.main : 'index.js');
  return path.resolve(dir, target);
}

/** The file a plugin spec names: a path (file or package folder) against `from`, or a package name found from `from`. */
export function resolvePlugin(spec: string, from: string): string {
  if (isPluginPath(spec)) {
    const full = path.resolve(from, spec);
    if (!existsSync(full)) throw edgetwinError('EDGETWIN_ERR_PLUGIN_LOAD', `plugin ${spec}: ${full} does not exist`);
    return statSync(full).isDirectory() ? (existsSync(path.join(full, 'package.json')) ? packageEntry(full, spec) : path.join(full, 'index.js')) : full;
  }
  const dir = findPackageDir(spec, from);
  if (!dir) throw edgetwinError('EDGETWIN_ERR_PLUGIN_LOAD', `plugin ${spec}: no package "${spec}" in node_modules from ${path.resolve(from)} up (npm install ${spec}, or give its path)`);
  return packageEntry(dir, spec);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Checks that `value` is a ProtocolPlugin and compiles its schemas. Throws EDGETWIN_ERR_PLUGIN_INVALID listing every problem. */
export function validatePlugin(value: unknown, source: string): ProtocolPlugin {
  const problems: string[] = [];
  const factory = isObject(value) ? value.factory : undefined;
  if (!isObject(value)) problems.push(`its default export is ${value === undefined ? 'missing' : typeof value}, not a ProtocolPlugin object`);
  else if (!isObject(factory)) problems.push('`factory` is not an object');
  else {
    if (typeof factory.protocol !== 'string' || !PROTOCOL_NAME.test(factory.protocol)) problems.push('`factory.protocol` is not a protocol name (a DNS-1123 label: lower-case letters, digits, -)');
    for (const key of ['protocolConfigSchema', 'visitorConfigSchema']) {
      if (!isObject(factory[key]) && typeof factory[key] !== 'boolean') problems.push(`\`factory.${key}\` is not a JSON Schema`);
    }
    if (typeof factory.connect !== 'function') problems.push('`factory.connect` is not a function');
  }
  if (isObject(value)) {
    const sim = value.simulator;
    if (sim !== undefined && !(isObject(sim) && typeof sim.start === 'function')) problems.push('`simulator` has no start() function');
    if (value.description !== undefined && typeof value.description !== 'string') problems.push('`description` is not a string');
  }
  if (problems.length > 0) {
    throw edgetwinError('EDGETWIN_ERR_PLUGIN_INVALID', `plugin ${source}: ${problems.join('; ')}`, problems.map((message) => ({ path: source, message })));
  }
  const plugin = value as ProtocolPlugin;
  try {
    compileFactorySchemas(plugin.factory);
  } catch (err) {
    const e = toEdgetwinError(err);
    throw edgetwinError('EDGETWIN_ERR_PLUGIN_INVALID', `plugin ${source}: ${e.message}`, e.details, e);
  }
  return plugin;
}

/** Imports one plugin and validates its default export. Throws EDGETWIN_ERR_PLUGIN_LOAD or EDGETWIN_ERR_PLUGIN_INVALID. */
export async function loadPlugin(spec: string, from: string = process.cwd()): Promise<ProtocolPlugin> {
  const file = resolvePlugin(spec, from);
  let mod: unknown;
  try {
    mod = await import(pathToFileURL(file).href);
  } catch (err) {
    throw edgetwinError('EDGETWIN_ERR_PLUGIN_LOAD', `plugin ${spec}: importing ${file} failed: ${err instanceof Error ? err.message : String(err)}`, [], err);
  }
  return validatePlugin(isObject(mod) ? mod.default : undefined, spec);
}

export interface PluginLoad {
  /** The registry entries the loaded plugins added, in `specs` order. */
  readonly entries: readonly ProtocolEntry[];
  /** One coded error per plugin skipped. */
  readonly problems: readonly EdgetwinError[];
}

/** Loads each plugin into `registry`; a plugin that fails is a problem, and the rest still load. */
export async function loadPlugins(specs: readonly string[], registry: ProtocolRegistry, from: string = process.cwd()): Promise<PluginLoad> {
  const entries: ProtocolEntry[] = [];
  const problems: EdgetwinError[] = [];
  for (const spec of specs) {
    try {
      entries.push(registry.add(await loadPlugin(spec, from), spec));
    } catch (err) {
      problems.push(toEdgetwinError(err, 'EDGETWIN_ERR_PLUGIN_LOAD'));
    }
  }
  return { entries, problems };
}
