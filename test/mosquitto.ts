// Debian's mosquitto as a test peer: started by the test on a free loopback port, with an
// optional persistence folder (so a restart keeps persistent sessions and their queued QoS 1
// messages), ACL and password files. Reusable by any test that needs an outside broker.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const MOSQUITTO_BIN = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto'].find((p) => existsSync(p));
export const MOSQUITTO_PASSWD_BIN = ['/usr/bin/mosquitto_passwd'].find((p) => existsSync(p));
export const HAS_MOSQUITTO = MOSQUITTO_BIN !== undefined;
/**
 * Skip a suite when mosquitto is missing, except in CI, where a missing outside peer must fail
 * the run instead (STYLE.md §17): the suite runs and `startMosquitto` throws.
 */
export const SKIP_WITHOUT_MOSQUITTO = !HAS_MOSQUITTO && process.env.CI !== 'true';

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
