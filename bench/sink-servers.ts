// Private instances of the telemetry sinks' servers for benchmarks and tests, each on a free
// loopback port with its files in a temp folder, stoppable and restartable on the same port
// (to take a sink down and bring it back): Debian's influxd 1.6, redis-server 7 and mariadbd 10.11
// (reference: the start commands in docs/telemetry.md, "Testing against real servers"), and an
// in-process HTTP receiver.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './lib.js';

export interface ServerProcess {
  readonly port: number;
  readonly dir: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  close(): Promise<void>;
}

async function until(probe: () => Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (Date.now() > end) throw new Error(`${what} did not become ready in ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function managed(dir: string, port: number, launch: () => ChildProcess, ready: () => Promise<boolean>, what: string): ServerProcess {
  let child: ChildProcess | undefined;
  const stop = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGTERM');
    });
  };
  return {
    port,
    dir,
    async start() {
      if (child) return;
      child = launch();
      await until(ready, what);
    },
    stop,
    async close() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function startInfluxd(): Promise<ServerProcess & { url: string; query(q: string, db?: string): Promise<unknown> }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'edgetwin-influx-'));
  const port = await freePort();
  const rpc = await freePort();
  const conf = path.join(dir, 'influxdb.conf');
  writeFileSync(
    conf,
    [
      `bind-address = "127.0.0.1:${rpc}"`,
      'reporting-enabled = false',
      '[meta]',
      `  dir = "${dir}/meta"`,
      '[data]',
      `  dir = "${dir}/data"`,
      `  wal-dir = "${dir}/wal"`,
      '[http]',
      `  bind-address = "127.0.0.1:${port}"`,
      '  log-enabled = false',
      '[monitor]',
      '  store-enabled = false',
      '',
    ].join('\n'),
  );
  const url = `http://127.0.0.1:${port}`;
  const srv = managed(dir, port, () => spawn('/usr/bin/influxd', ['-config', conf], { stdio: 'ignore' }), async () => (await fetch(`${url}/ping`)).status === 204, 'influxd');
  await srv.start();
  return {
    ...srv,
    url,
    async query(q, db) {
      const res = await fetch(`${url}/query?${new URLSearchParams({ q, epoch: 'ms', ...(db ? { db } : {}) }).toString()}`, { method: 'POST' });
      return res.json();
    },
  };
}

export async function startRedis(o: { password?: string } = {}): Promise<ServerProcess & { url: string }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'edgetwin-redis-'));
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--dir', dir, '--daemonize', 'no', '--logfile', path.join(dir, 'redis.log')];
  if (o.password) args.push('--requirepass', o.password);
  const srv = managed(
    dir,
    port,
    () => spawn('/usr/bin/redis-server', args, { stdio: 'ignore' }),
    async () => spawnSync('redis-cli', ['-p', String(port), ...(o.password ? ['-a', o.password, '--no-auth-warning'] : []), 'ping'], { encoding: 'utf8' }).stdout.includes('PONG'),
    'redis-server',
  );
  await srv.start();
  return { ...srv, url: `redis://127.0.0.1:${port}` };
}

export async function startMariadb(): Promise<ServerProcess & { socket: string }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'edgetwin-mariadb-'));
  const port = await freePort();
  const data = path.join(dir, 'data');
  const small = ['--innodb-log-file-size=4M', '--innodb-buffer-pool-size=16M'];
  const init = spawnSync('/usr/bin/mariadb-install-db', ['--no-defaults', `--datadir=${data}`, '--user=root', '--auth-root-authentication-method=normal', '--skip-test-db', ...small], { encoding: 'utf8' });
  if (init.status !== 0) throw new Error(`mariadb-install-db failed: ${init.stderr}`);
  const socket = path.join(dir, 'mysqld.sock');
  const srv = managed(
    dir,
    port,
    () =>
      spawn(
        '/usr/sbin/mariadbd',
        ['--no-defaults', `--datadir=${data}`, `--socket=${socket}`, `--port=${port}`, '--bind-address=127.0.0.1', `--pid-file=${dir}/mysqld.pid`, `--log-error=${dir}/err.log`, '--user=root', '--skip-name-resolve', ...small],
        { stdio: 'ignore' },
      ),
    async () => spawnSync('/usr/bin/mariadb-admin', ['--no-defaults', `--socket=${socket}`, '-uroot', 'ping'], { encoding: 'utf8' }).status === 0,
    'mariadbd',
  );
  await srv.start();
  return { ...srv, socket };
}

/** An HTTP receiver: records each POST; `refuse` makes it answer 503 (a sink refusing writes). */
export async function startHttpReceiver(): Promise<{
  port: number;
  posts: { body: string; key: string | undefined; auth: string | undefined }[];
  refuse: number | undefined;
  start(): Promise<void>;
  stop(): Promise<void>;
}> {
  const port = await freePort();
  let server: Server | undefined;
  const state = {
    port,
    posts: [] as { body: string; key: string | undefined; auth: string | undefined }[],
    refuse: undefined as number | undefined,
    async start() {
      if (server) return;
      const s = createServer((req: IncomingMessage, res) => {
        let body = '';
        req.on('data', (d: Buffer) => (body += d.toString()));
        req.on('end', () => {
          if (state.refuse !== undefined) {
            res.writeHead(state.refuse).end();
            return;
          }
          state.posts.push({ body, key: req.headers['idempotency-key'] as string | undefined, auth: req.headers.authorization });
          res.writeHead(200).end('ok');
        });
      });
      await new Promise<void>((resolve) => s.listen(port, '127.0.0.1', resolve));
      server = s;
    },
    async stop() {
      const s = server;
      server = undefined;
      if (!s) return;
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    },
  };
  await state.start();
  return state;
}
