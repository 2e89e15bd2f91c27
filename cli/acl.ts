// `edgetwin acl mosquitto --users users.yaml`: a mosquitto ACL file mirroring the roles of an
// edgetwin users file, for external mode, where the outside broker authenticates and authorizes
// (eventbus/auth/mosquitto-acl.ts, docs/external-broker.md). Passwords are not carried over:
// mosquitto has its own hash format, so its password file is made with mosquitto_passwd.

import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { edgetwinError, formatError } from '../errors.js';
import { mosquittoAcl, parseUsers } from '../eventbus/index.js';
import { BUNDLED_MODELS_DIR, loadDevices, loadModels, loadConfigFile, resolveConfig } from '../schemas/index.js';

export interface AclMosquittoOptions {
  readonly users: string;
  readonly config?: string;
  readonly devices?: readonly string[];
  readonly models?: readonly string[];
  readonly nodeName?: string;
  readonly twinUser?: string;
  readonly output?: string;
}

export function aclMosquitto(opts: AclMosquittoOptions): void {
  const raw = opts.config ? loadConfigFile(opts.config) : {};
  const config = resolveConfig(raw, {
    ...(opts.nodeName !== undefined ? { nodeName: opts.nodeName } : {}),
    ...(opts.devices !== undefined ? { devices: [...(raw.devices ?? []), ...opts.devices] } : {}),
    ...(opts.models !== undefined ? { models: [...(raw.models ?? []), ...opts.models] } : {}),
  });
  let text: string;
  try {
    text = readFileSync(opts.users, 'utf8');
  } catch (err) {
    throw edgetwinError('EDGETWIN_ERR_FILE_READ', `Cannot read the users file ${opts.users}: ${(err as NodeJS.ErrnoException).code ?? String(err)}.`, [], err);
  }
  const users = parseUsers(text, opts.users);
  const { models } = loadModels([...(config.bundledModels ? [BUNDLED_MODELS_DIR] : []), ...config.models]);
  const { devices, errors } = loadDevices(config.devices, models);
  for (const e of errors) process.stderr.write(`warning: skipped ${formatError(e)}\n`);
  const acl = mosquittoAcl({
    users,
    nodeName: config.nodeName,
    devices: devices.map((d) => ({ id: d.id, ...(d.protocol ? { protocol: d.protocol.protocolName } : {}) })),
    ...(opts.twinUser !== undefined ? { twinUser: opts.twinUser } : {}),
  });
  for (const note of acl.notes) process.stderr.write(`warning: ${note}\n`);
  if (opts.output) {
    writeFileSync(opts.output, acl.text, { mode: 0o644 });
    process.stderr.write(`mosquitto ACL for ${users.size} users written to ${opts.output}\n`);
  } else {
    process.stdout.write(acl.text);
  }
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Adds `acl mosquitto` to the program. */
export function registerAclCommands(program: Command): void {
  const acl = program.command('acl').description('generate an outside broker\'s ACL from the users file (external mode)');
  acl
    .command('mosquitto')
    .description('print (or write with -o) a mosquitto acl_file giving each user its role\'s rights')
    .requiredOption('-u, --users <file>', 'the users file (`edgetwin user add` writes it)')
    .option('-c, --config <file>', 'the edgetwin config: node name, models and Device manifests')
    .option('--devices <path>', 'Device manifests (repeatable): mapper rights by protocol cover their devices', collect)
    .option('--models <path>', 'extra model files or folders (repeatable)', collect)
    .option('--node-name <name>', "this node's name (membership topics)")
    .option('--twin-user <name>', 'the user edgetwin connects as (mqtt.external.url): read every request, write every answer')
    .option('-o, --output <file>', 'write the ACL here instead of stdout')
    .action((opts: AclMosquittoOptions) => {
      if (opts.twinUser !== undefined && opts.twinUser.length === 0) throw edgetwinError('EDGETWIN_ERR_CLI_USAGE', '--twin-user is empty');
      aclMosquitto(opts);
    });
}
