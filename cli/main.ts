// The `edgetwin` command. Every failure exits non-zero with `error <CODE>: <sentence>` on
// stderr (exit 2 for a malformed command line, 1 for everything else).

import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { EdgetwinError, formatError, toEdgetwinError } from '../errors.js';
import { registerAclCommands } from './acl.js';
import { registerCloudCommands } from './cloud.js';
import { LOG_FORMATS, VERSION } from '../edgecore/index.js';
import { loadConfigFile, resolveConfig } from '../schemas/index.js';
import { checkCommand } from './check.js';
import { devicesCommand } from './devices.js';
import { runCommand } from './run.js';
import { mapperCommand, protocolNames } from './mapper.js';
import { simulateCommand } from './simulate.js';
import { historyCommand, type HistoryCommandOptions } from './history.js';
import { twinGet, twinSet, twinWatch } from './twin.js';
import { registerUserCommands } from './user.js';
import { registerNewCommands } from './new.js';

const DEFAULT_BROKER = process.env.EDGETWIN_BROKER ?? 'mqtt://127.0.0.1:1883';
const DEFAULT_NODE = process.env.EDGETWIN_NODE ?? 'edge-node';

function intOption(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`must be an integer from ${min} to ${max}`);
    return n;
  };
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function logFormat(value: string): 'pretty' | 'json' | 'auto' {
  if (!(LOG_FORMATS as readonly string[]).includes(value)) throw new InvalidArgumentError(`must be one of ${LOG_FORMATS.join(', ')}`);
  return value as 'pretty' | 'json' | 'auto';
}

/** --json forces JSON, --no-json forces text; neither: text on a terminal, JSON when piped. */
function jsonOpts(cmd: Command): Command {
  return cmd.option('--json', 'print JSON (the default when stdout is not a terminal)').option('--no-json', 'print text even when stdout is not a terminal');
}

export function buildProgram(): Command {
  const program = new Command('edgetwin')
    .description('Field devices as typed, synced twins on an edge node (KubeEdge-compatible MQTT API).')
    // package.json's version (edgecore/version.ts reads it from the installed package).
    .version(VERSION)
    .showHelpAfterError()
    // The error is printed once, coded, by main() below; commander prints only the help.
    .configureOutput({ outputError: () => undefined })
    .exitOverride();

  program
    .command('run')
    .description('start the broker, the twins and the store; print a ready line; stop on SIGINT/SIGTERM')
    .option('-c, --config <file>', 'config file (YAML or JSON); the flags below override it')
    .option('--mqtt-port <n>', 'MQTT port (0 = any free port)', intOption(0, 65535))
    .option('--mqtt-host <host>', 'MQTT listen address')
    .option('--mqtt-mode <mode>', 'embedded (own broker, default) | external (a client of --mqtt-url, e.g. mosquitto) | both')
    .option('--mqtt-url <url>', 'the external broker, mqtt://[user:password@]host:port (config mqtt.external.url)')
    .option('--data-dir <dir>', 'where the SQLite store lives')
    .option('--node-name <name>', "this node's name (Device spec.nodeName)")
    .option('--models <path>', 'a model file or folder (repeatable)', collect)
    .option('--devices <path>', 'a Device manifest file or folder (repeatable)', collect)
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent')
    .option('--log-format <format>', 'pretty|json|auto: auto is pretty on a terminal, JSON lines otherwise (config log.format)', logFormat)
    .option('--strict', 'refuse to start if any model, manifest or device config has a problem (config strict), as `edgetwin check` reports it')
    .option('--no-watch', 'reload models and manifests only on SIGHUP, not when their files change (config watch)')
    .option('--kubeconfig <file>', 'sync twins with Device resources of this cluster (config cloud.kubeconfig)')
    .option('--http-port <n>', 'port of the HTTP server: /metrics, /healthz, /readyz, /api/v1 (0 = any free port)', intOption(0, 65535))
    .option('--http-host <host>', 'listen address of the HTTP server')
    .option('--no-http', 'serve no HTTP at all (no /metrics, /healthz, /readyz, API)')
    .option('--metrics-port <n>', 'the same as --http-port', intOption(0, 65535))
    .option('--metrics-host <host>', 'the same as --http-host')
    .option('--no-metrics', 'the same as --no-http')
    .option('--dmi-socket <path>', "serve KubeEdge's DMI for KubeEdge >= 1.15 mappers on this unix socket (config dmi.socket; KubeEdge: /etc/kubeedge/dmi.sock)")
    .action(async (opts: Parameters<typeof runCommand>[0]) => runCommand(opts));

  program
    .command('check')
    .description('validate the config, models and Device manifests (and their mapper configs) without starting; exit 1 on any problem')
    .option('-c, --config <file>', 'config file (YAML or JSON)')
    .option('--models <path>', 'a model file or folder (repeatable)', collect)
    .option('--devices <path>', 'a Device manifest file or folder (repeatable)', collect)
    .option('--json', 'print the report as JSON')
    .action(async (opts: Parameters<typeof checkCommand>[0]) => checkCommand(opts));

  jsonOpts(
    program
      .command('devices')
      .description("the node's devices, one line each: id, protocol, state, last seen, open deltas, failed acks")
      .option('-c, --config <file>', "the node's config file: its nodeName and MQTT port, unless --node and --broker say otherwise")
      .option('-b, --broker <url>', `broker URL (default: EDGETWIN_BROKER or ${DEFAULT_BROKER})`)
      .option('-n, --node <name>', `the node's name, its config nodeName (default: EDGETWIN_NODE or ${DEFAULT_NODE})`)
      .option('-t, --timeout <ms>', 'how long to wait for each answer', intOption(1, 3_600_000), 5000)
      .option('--concurrency <n>', 'twin reads in flight at once', intOption(1, 1024), 32),
  ).action(async (opts: { config?: string; broker?: string; node?: string; timeout: number; concurrency: number; json?: boolean }) => {
    const config = opts.config !== undefined ? resolveConfig(loadConfigFile(opts.config)) : undefined;
    // The plain listener's own address; a wildcard listen address is reached on loopback.
    const host = config && ['0.0.0.0', '::'].includes(config.mqtt.host) ? '127.0.0.1' : config?.mqtt.host;
    const broker = opts.broker ?? (config ? `mqtt://${host?.includes(':') ? `[${host}]` : host}:${config.mqtt.port}` : DEFAULT_BROKER);
    return devicesCommand({ ...opts, broker, node: opts.node ?? config?.nodeName ?? DEFAULT_NODE });
  });

  const twin = program.command('twin').description("read, set and watch a device's twin over MQTT");
  const brokerOpts = (cmd: Command): Command =>
    cmd
      .option('-b, --broker <url>', 'broker URL (or EDGETWIN_BROKER)', DEFAULT_BROKER)
      .option('-t, --timeout <ms>', 'how long to wait for an answer', intOption(1, 3_600_000), 5000);
  jsonOpts(brokerOpts(twin.command('get <device>').description('print the twin of <namespace>/<name>: a table on a terminal (property, reported, desired, ack, age), JSON otherwise'))).action(
    async (device: string, opts: { broker: string; timeout: number; json?: boolean }) => twinGet(device, opts),
  );
  jsonOpts(
    brokerOpts(
      twin
        .command('set <device> <assignments...>')
        .description('set desired values, e.g. `twin set default/thermostat setpoint=21`')
        .option('--actual', 'report actual values instead (as a mapper would)')
        .option('-w, --wait', 'then wait (up to --timeout) until each value is acked: exit 0 when applied, 1 when rejected, failed or still pending'),
    ),
  ).action(async (device: string, pairs: string[], opts: { broker: string; timeout: number; actual?: boolean; wait?: boolean; json?: boolean }) =>
    twinSet(device, pairs, opts),
  );
  jsonOpts(
    brokerOpts(
      twin
        .command('watch <device>')
        .description('print one line per change until Ctrl-C (JSON lines of every document, delta and result when piped or with --json)')
        .option('-n, --count <n>', 'exit after n events', intOption(1, Number.MAX_SAFE_INTEGER)),
    ),
  ).action(async (device: string, opts: { broker: string; timeout: number; count?: number; json?: boolean }) => twinWatch(device, opts));

  brokerOpts(
    program
      .command('history <device> [properties...]')
      .description("a device's value history (every property unless named): table on a terminal, CSV when piped")
      .option('--since <time>', 'from: ISO 8601, ms since the epoch, a duration ago (15m, 1h, 7d) or now', '1h')
      .option('--until <time>', 'to (exclusive), as --since', 'now')
      .option('--step <duration>', 'aggregate into buckets (count, min, max, mean, last), e.g. 10s, 1m, 1h')
      .option('--kind <kinds>', 'reported, desired, ack, comma-separated (default: all)')
      .option('--csv', 'CSV (time,property,kind,value…) even on a terminal')
      .option('--json', 'the answer as JSON (docs/http-api.md has its shape)'),
  ).action(async (device: string, properties: string[], opts: HistoryCommandOptions) => historyCommand(device, properties, opts));

  program
    .command('mapper [protocol]')
    .description(`run a mapper in its own process — a bundled one (${protocolNames()}) or a plugin's (--plugin) — over MQTT (--broker, --devices) or as a KubeEdge DMI mapper (--dmi-socket)`)
    .option('--plugin <package-or-path>', "a mapper plugin package (docs/writing-a-mapper.md): its protocol is mapped; [protocol] may be left out")
    .option('-b, --broker <url>', 'broker URL (or EDGETWIN_BROKER)', DEFAULT_BROKER)
    .option('--devices <path>', 'a Device manifest file or folder (repeatable; over MQTT)', collect)
    .option('--models <path>', 'extra model files or folders (repeatable)', collect)
    .option('--dmi-socket <path>', "edgecore's DMI socket (e.g. /etc/kubeedge/dmi.sock): register there and take devices from it")
    .option('--mapper-socket <path>', "this mapper's own DMI socket (default: <protocol>.sock beside --dmi-socket)")
    .option('-t, --timeout <ms>', 'deadline of one device request', intOption(10, 600_000), 2000)
    .option('--resync <ms>', 'how often desired values whose write failed are retried (config mappers.resyncMs)', intOption(100, 86_400_000), 60_000)
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent', 'info')
    .option('--log-format <format>', 'pretty|json|auto (auto: pretty on a terminal)', logFormat, 'auto')
    .action(
      async (
        protocol: string | undefined,
        opts: { broker: string; devices?: string[]; models?: string[]; timeout: number; resync: number; logLevel: string; logFormat: 'pretty' | 'json' | 'auto'; dmiSocket?: string; mapperSocket?: string; plugin?: string },
      ) =>
        mapperCommand(protocol, {
          ...(opts.plugin !== undefined ? { plugin: opts.plugin } : {}),
          broker: opts.broker,
          timeoutMs: opts.timeout,
          resyncMs: opts.resync,
          logLevel: opts.logLevel,
          logFormat: opts.logFormat,
          ...(opts.devices ? { devices: opts.devices } : {}),
          ...(opts.models ? { models: opts.models } : {}),
          ...(opts.dmiSocket !== undefined ? { dmiSocket: opts.dmiSocket } : {}),
          ...(opts.mapperSocket !== undefined ? { mapperSocket: opts.mapperSocket } : {}),
        }),
    );

  program
    .command('simulate [kind]')
    .description(`simulated devices from a Device manifest and its model, by the protocol's simulator (${protocolNames()}, or a plugin's): modbus is a TCP slave, ble peripherals beneath the Bluetooth mapper, on --broker`)
    .option('--plugin <package-or-path>', "a mapper plugin package whose simulator to run; [kind] may be left out")
    .requiredOption('-d, --device <file>', 'the Device manifest (file or folder)')
    .option('--models <path>', 'extra model files or folders (repeatable)', collect)
    .option('-p, --port <n>', "modbus: TCP port (default: the manifest's own port)", intOption(0, 65535))
    .option('--host <host>', 'modbus: listen address', '127.0.0.1')
    .option('-b, --broker <url>', 'ble: the broker whose twins the simulated devices drive', DEFAULT_BROKER)
    .option('--seed <n>', 'seed of the simulated values', intOption(0, 2 ** 31))
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent', 'info')
    .option('--log-format <format>', 'pretty|json|auto (auto: pretty on a terminal)', logFormat, 'auto')
    .action(async (kind: string | undefined, opts: { device: string; models?: string[]; port?: number; host: string; seed?: number; broker: string; logLevel: string; logFormat: 'pretty' | 'json' | 'auto'; plugin?: string }) =>
      simulateCommand(kind, opts),
    );

  registerCloudCommands(program);
  registerUserCommands(program);
  registerAclCommands(program);
  registerNewCommands(program);

  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return 0; // --help, --version
      process.stderr.write(`error EDGETWIN_ERR_CLI_USAGE: ${err.message.replace(/^error: /, '')}\n`);
      return 2;
    }
    const e: EdgetwinError = toEdgetwinError(err);
    process.stderr.write(`error ${formatError(e)}\n`);
    return e.code === 'EDGETWIN_ERR_CLI_USAGE' ? 2 : 1;
  }
}
