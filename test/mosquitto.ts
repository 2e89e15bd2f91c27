// Debian's mosquitto as a test peer: started by the test on a free loopback port, with an
// optional persistence folder (so a restart keeps persistent sessions and their queued QoS 1
// messages), ACL and password files. Reusable by any test that needs an outside broker.

import { requirePeer } from './peers.js';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

export const MOSQUITTO_BIN = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto'].find((p) => existsSync(p));
export const MOSQUITTO_PASSWD_BIN = ['/usr/bin/mosquitto_passwd'].find((p) => existsSync(p));
export const HAS_MOSQUITTO = MOSQUITTO_BIN !== undefined;
export const HAS_MOSQUITTO_CLIENTS = existsSync('/usr/bin/mosquitto_pub') && existsSync('/usr/bin/mosquitto_sub');
/**
 * Skip a suite when mosquitto is missing, except in CI, where a missing outside peer must fail
 * the run instead (STYLE.md §17): the suite runs and `startMosquitto` throws.
 */
/** For describe.skipIf: true when mosquitto is missing here; with CI=true a missing mosquitto fails the run instead (peers.ts). */
export const SKIP_WITHOUT_MOSQUITTO = !requirePeer('mosquitto');

export interface MosquittoOptions {
  /** A fixed port (a restart reuses its port); default: a free one. */
  readonly port?: number;
  /** The folder for mosquitto.db and the config; kept across restarts. Default: a new temp folder. */
  readonly dir?: string;
  /** `persistence true` with `persistence_location` in `dir`. Default true. */
  readonly persistence?: boolean;
  /** `allow_anonymous`. Default true. */
  readonly anonymous?: boolean;
  readonly aclFile?: string;
  readonly passwordFile?: string;
  /** More mosquitto.conf lines. */
  readonly extra?: readonly string[];
}

export interface Mosquitto {
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  /** What mosquitto logged (stderr), across restarts. */
  log(): string;
  /** Stops it (SIGTERM: mosquitto writes its persistence file on the way out). */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port with the same persistence folder. */
  start(): Promise<void>;
  /** Stops it and removes the folder if the fixture made it. */
  close(): Promise<void>;
}

/** A port that was free a moment ago (bind 0, close); callers retry on EADDRINUSE. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/**
 * The mosquitto.conf the tests use. Defaults that would lose messages a test counts are raised:
 * `max_queued_messages` (1000 per client by default: beyond it mosquitto drops QoS 1 messages it
 * has already PUBACKed to their publisher) and `max_queued_bytes`; `user root` keeps it from
 * switching to the `mosquitto` user, which could not write the temp folder.
 */
export function mosquittoConf(port: number, dir: string, o: MosquittoOptions): string {
  return [
    `listener ${port} 127.0.0.1`,
    `allow_anonymous ${o.anonymous ?? true}`,
    ...(o.persistence ?? true ? ['persistence true', `persistence_location ${dir}/`] : ['persistence false']),
    'user root',
    'max_queued_messages 0',
    'max_queued_bytes 0',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    'log_type notice',
    'log_type information',
    ...(o.aclFile ? [`acl_file ${o.aclFile}`] : []),
    ...(o.passwordFile ? [`password_file ${o.passwordFile}`] : []),
    ...(o.extra ?? []),
    '',
  ].join('\n');
}

/** Starts mosquitto and resolves once it logs that it is running. */
export async function startMosquitto(o: MosquittoOptions = {}): Promise<Mosquitto> {
  if (!MOSQUITTO_BIN) throw new Error('mosquitto is not installed (Debian package mosquitto)');
  const ownDir = o.dir === undefined;
  const dir = o.dir ?? mkdtempSync(path.join(tmpdir(), 'edgetwin-mosquitto-'));
  let port = o.port ?? (await freePort());
  let child: ChildProcess | undefined;
  let log = '';

  const launch = async (): Promise<void> => {
    const conf = path.join(dir, 'mosquitto.conf');
    writeFileSync(conf, mosquittoConf(port, dir, o));
    const proc = spawn(MOSQUITTO_BIN, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    const from = log.length;
    proc.stderr.on('data', (d: Buffer) => (log += d.toString()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`mosquitto did not start in 10 s:\n${log.slice(from)}`)), 10_000);
      const onData = (): void => {
        if (!/mosquitto version \S+ running/.test(log.slice(from))) return;
        clearTimeout(timer);
        proc.stderr.off('data', onData);
        proc.off('exit', onExit);
        resolve();
      };
      const onExit = (code: number | null): void => {
        clearTimeout(timer);
        const err = new Error(`mosquitto exited (${code}) at start:\n${log.slice(from)}`);
        reject(Object.assign(err, { addressInUse: /Address already in use/i.test(log.slice(from)) }));
      };
      proc.stderr.on('data', onData);
      proc.once('exit', onExit);
    });
  };

  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill(signal);
    await exited;
  };

  for (let attempt = 0; ; attempt++) {
    try {
      await launch();
      break;
    } catch (err) {
      // Someone took the port between freePort() and mosquitto's bind: try another one.
      if (o.port === undefined && (err as { addressInUse?: boolean }).addressInUse && attempt < 5) {
        port = await freePort();
        continue;
      }
      if (ownDir) rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    dir,
    log: () => log,
    stop,
    start: async () => {
      if (child) throw new Error('mosquitto is already running');
      await launch();
    },
    close: async () => {
      await stop();
      if (ownDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

const run = promisify(execFile);

/** Extra mosquitto_pub / mosquitto_sub arguments (credentials, protocol version). */
export interface ClientArgs {
  readonly args?: readonly string[];
}

/**
 * mosquitto_sub for `count` messages on `topics`, started (and subscribed) before `action`
 * runs; resolves with what it printed, topic and JSON payload per line.
 */
export async function mosquittoSubWhile(
  port: number,
  topics: readonly string[],
  count: number,
  action: () => Promise<void>,
  o: ClientArgs & { readonly waitSeconds?: number } = {},
): Promise<Array<{ topic: string; json: Record<string, unknown> }>> {
  const args = ['-h', '127.0.0.1', '-p', String(port), '-q', '1', '-C', String(count), '-W', String(o.waitSeconds ?? 10), '-v', ...(o.args ?? []), ...topics.flatMap((t) => ['-t', t])];
  // -d prints the SUBACK, so the action runs only once the subscription is in place; stdbuf
  // makes mosquitto_sub flush each line into the pipe instead of at exit.
  const child = spawn('stdbuf', ['-oL', 'mosquitto_sub', '-d', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`mosquitto_sub did not subscribe: ${out}`)), 5000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('SUBACK')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  await action();
  await exited;
  return out
    .split('\n')
    .filter((l) => l.startsWith('$'))
    .map((l) => {
      const space = l.indexOf(' ');
      return { topic: l.slice(0, space), json: JSON.parse(l.slice(space + 1)) as Record<string, unknown> };
    });
}

/** mosquitto_pub at QoS 1; resolves with its debug output (-d: the PUBACK it got). */
export async function mosquittoPub(port: number, topic: string, message: string, o: ClientArgs = {}): Promise<string> {
  const { stdout } = await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), '-q', '1', '-d', ...(o.args ?? []), '-t', topic, '-m', message]);
  return stdout;
}
