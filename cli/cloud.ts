// Cloud commands: `edgetwin crds` (the CRD manifests a cluster needs), `edgetwin model to-crd
// FILE` (JSON Schema model → KubeEdge DeviceModel YAML) and `edgetwin model from-crd FILE`
// (DeviceModel → JSON Schema model). Output goes to stdout, warnings to stderr.

import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parseAllDocuments, stringify } from 'yaml';
import { edgetwinError } from '../errors.js';
import { compileModel, fromDeviceModel, toDeviceModel, type JsonSchema } from '../schemas/index.js';

function readDocuments(file: string): unknown[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw edgetwinError('EDGETWIN_ERR_FILE_READ', `cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`, [], err);
  }
  if (file.endsWith('.json')) {
    try {
      return [JSON.parse(text) as unknown];
    } catch (err) {
      throw edgetwinError('EDGETWIN_ERR_MODEL_INVALID', `${file}: not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  const docs = parseAllDocuments(text);
  const bad = docs.find((d) => d.errors.length > 0);
  if (bad) throw edgetwinError('EDGETWIN_ERR_MODEL_INVALID', `${file}: not valid YAML: ${bad.errors[0]?.message ?? ''}`);
  return docs.map((d) => d.toJS() as unknown).filter((d) => d !== null && d !== undefined);
}

/** `model to-crd`: checks the model as edgetwin would load it, then converts it. */
export function modelToCrd(file: string, opts: { namespace?: string; protocol?: string } = {}): string {
  const [doc] = readDocuments(file);
  compileModel(doc, file);
  return stringify(toDeviceModel(doc as JsonSchema, opts), { lineWidth: 0 });
}

/** `model from-crd`: the first DeviceModel in the file, as a JSON Schema model; what it cannot hold goes to `warn`. */
export function modelFromCrd(file: string, warn: (line: string) => void = () => undefined): string {
  const docs = readDocuments(file);
  const obj = docs.find((d) => (d as { kind?: unknown }).kind === 'DeviceModel');
  if (!obj) throw edgetwinError('EDGETWIN_ERR_DEVICEMODEL_INVALID', `${file}: no DeviceModel in the file`);
  const { schema, dropped } = fromDeviceModel(obj, file);
  compileModel(schema, file);
  for (const d of dropped) warn(`warning: ${d.path ?? ''}: ${d.message}; not kept`);
  return `${JSON.stringify(schema, null, 2)}\n`;
}

/** `crds`: the manifests verbatim, as one multi-document YAML stream. */
export async function crdsText(legacy = false): Promise<string> {
  // Imported here, not at the top: cloudsync pulls in @kubernetes/client-node (~1 s and 65 MB),
  // which every other command, `edgetwin run` first, would pay for at start-up.
  const { crdManifests } = await import('../cloudsync/index.js');
  return crdManifests(legacy ? 'legacy' : 'current')
    .map(({ file, text }) => `# ${file}\n${text.replace(/^---\n/, '')}`)
    .map((t) => `---\n${t.endsWith('\n') ? t : `${t}\n`}`)
    .join('');
}

/** Adds `crds` and `model to-crd|from-crd` to the program (the `model` command is shared if it exists). */
export function registerCloudCommands(program: Command): void {
  program
    .command('crds')
    .description('print the KubeEdge CRDs a cluster needs for cloud sync (kubectl apply -f -)')
    .option('--legacy', 'KubeEdge ≤ 1.22: status on the Device, no DeviceStatus (config cloud.statusLayout: device)')
    .action(async (opts: { legacy?: boolean }) => {
      process.stdout.write(await crdsText(opts.legacy === true));
    });

  const model = program.commands.find((c) => c.name() === 'model') ?? program.command('model').description('device models: convert between JSON Schema and KubeEdge DeviceModel');
  model
    .command('to-crd <file>')
    .description('a JSON Schema model (JSON or YAML) → a KubeEdge v1beta1 DeviceModel manifest (YAML)')
    .option('-n, --namespace <ns>', 'metadata.namespace of the DeviceModel')
    .option('-p, --protocol <name>', 'spec.protocol (the mapper protocol of its devices)')
    .action((file: string, opts: { namespace?: string; protocol?: string }) => {
      process.stdout.write(modelToCrd(file, opts));
    });
  model
    .command('from-crd <file>')
    .description('a KubeEdge DeviceModel (YAML) → a JSON Schema model (JSON); what it cannot hold is named on stderr')
    .action((file: string) => {
      process.stdout.write(modelFromCrd(file, (line) => process.stderr.write(`${line}\n`)));
    });
}
