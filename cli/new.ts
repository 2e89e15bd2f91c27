// `edgetwin new mapper <name>`: writes a ready protocol-plugin package from templates/mapper/
// (shipped in edgetwin's tarball): an example driver that reads a JSON document over HTTP, its
// model, a Device manifest, the conformance suite against a stand-in device, and a README.
// docs/writing-a-mapper.md walks through what it writes.
//
// Every template file ends in `.tmpl` (so no tool of this repository compiles, lints or tests
// it); `{{key}}` in a file's name or text is replaced, and `gitignore` becomes `.gitignore`
// (npm leaves `.gitignore` files out of a tarball).

import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { edgetwinError } from '../errors.js';
import { VERSION } from '../edgecore/index.js';

/** A protocol name: what `spec.protocol.protocolName` says and the conformance suite accepts. */
const PROTOCOL_NAME = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;
const MAX_NAME = 40;

/** The package root: two levels up from dist/cli/new.js, one from cli/new.ts. */
export function findPackageRoot(moduleUrl: string = import.meta.url): string {
  const here = path.dirname(fileURLToPath(moduleUrl));
  const candidates = [path.resolve(here, '..'), path.resolve(here, '..', '..')];
  return candidates.find((dir) => existsSync(path.join(dir, 'templates', 'mapper'))) ?? (candidates[0] as string);
}

export interface NewMapperOptions {
  /** Where to write (default `./edgetwin-mapper-<name>`); must be missing or empty. */
  readonly dir?: string;
  /** The generated package's devDependency on edgetwin (default `^<this version>`), e.g. `file:../edgetwin-0.1.0.tgz`. */
  readonly edgetwin?: string;
  /** Where templates/ and package.json are (default: this installation). */
  readonly root?: string;
}

export interface NewMapperResult {
  readonly dir: string;
  readonly packageName: string;
  readonly files: readonly string[];
}

function camel(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** The versions edgetwin itself is built and tested with, so the generated package gets known-good ones. */
function toolVersions(root: string): Record<'typescriptVersion' | 'vitestVersion' | 'typesNodeVersion', string> {
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { devDependencies?: Record<string, string> };
  const dev = pkg.devDependencies ?? {};
  return {
    typescriptVersion: dev.typescript ?? '^6.0.0',
    vitestVersion: dev.vitest ?? '^4.1.0',
    typesNodeVersion: dev['@types/node'] ?? '^20.19.0',
  };
}

function fill(text: string, vars: Readonly<Record<string, string>>): string {
  return text.replace(/\{\{(\w+)\}\}/g, (whole, key: string) => vars[key] ?? whole);
}

function listTemplates(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...listTemplates(path.join(dir, entry.name), rel));
    else if (entry.name.endsWith('.tmpl')) out.push(rel);
  }
  return out;
}

function isEmptyOrMissing(dir: string): boolean {
  if (!existsSync(dir)) return true;
  return statSync(dir).isDirectory() && readdirSync(dir).length === 0;
}

/** Writes the package; throws a coded error (and writes nothing) on a bad name or a used folder. */
export function newMapper(name: string, options: NewMapperOptions = {}): NewMapperResult {
  if (name.length > MAX_NAME || !PROTOCOL_NAME.test(name)) {
    throw edgetwinError(
      'EDGETWIN_ERR_CLI_USAGE',
      `"${name}" is not a protocol name: lower-case letters, digits and single hyphens, starting with a letter, at most ${MAX_NAME} characters (e.g. http-json)`,
    );
  }
  const root = options.root ?? findPackageRoot();
  const templates = path.join(root, 'templates', 'mapper');
  const packageName = `edgetwin-mapper-${name}`;
  const dir = path.resolve(options.dir ?? packageName);
  if (!isEmptyOrMissing(dir)) {
    throw edgetwinError('EDGETWIN_ERR_NEW_TARGET_EXISTS', `${dir} exists and is not empty; nothing was written (name a new or empty folder with --dir)`);
  }
  const vars: Record<string, string> = {
    name,
    package: packageName,
    model: `${name}-sensor`,
    camel: camel(name),
    Class: camel(name).replace(/^./, (c) => c.toUpperCase()),
    edgetwinRange: `^${VERSION}`,
    edgetwinSpec: options.edgetwin ?? `^${VERSION}`,
    ...toolVersions(root),
  };
  // Everything is rendered before the first write, so a template problem writes nothing.
  const rendered = listTemplates(templates).map((rel) => {
    const target = fill(rel.slice(0, -'.tmpl'.length), vars).replace(/(^|\/)gitignore$/, '$1.gitignore');
    return { target, text: fill(readFileSync(path.join(templates, rel), 'utf8'), vars) };
  });
  for (const { target, text } of rendered) {
    const file = path.join(dir, target);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, text, { flag: 'wx' });
  }
  return { dir, packageName, files: rendered.map((r) => r.target) };
}

export function registerNewCommands(program: Command): void {
  const create = program.command('new').description('create a new package from a template');
  create
    .command('mapper <name>')
    .description('a protocol-plugin package for protocol <name>: an example driver (a JSON document over HTTP), its model, a manifest, a conformance test and a README')
    .option('-d, --dir <dir>', 'where to write it (missing or empty; default ./edgetwin-mapper-<name>)')
    .option('--edgetwin <spec>', "the package's dependency on edgetwin, as npm takes it (default ^<this version>; e.g. file:./edgetwin-0.1.0.tgz)")
    .action((name: string, opts: { dir?: string; edgetwin?: string }) => {
      const result = newMapper(name, opts);
      const rel = path.relative(process.cwd(), result.dir) || '.';
      process.stdout.write(
        `created ${result.packageName} in ${result.dir} (${result.files.length} files)\n` +
          result.files.map((f) => `  ${f}\n`).join('') +
          `next:\n  cd ${rel}\n  npm install\n  npm test\n`,
      );
    });
}
