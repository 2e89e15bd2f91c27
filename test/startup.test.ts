// Starting and stopping `edgetwin run` when the data directory, or the machine, is not what it
// should be: a second process on the same data dir, a data dir under /proc, a store file that
// went missing or was cut short, a signal during start-up, a simulated device whose port is
// taken. Real processes (the compiled CLI), real exit codes, real logs.

import { spawn } from 'node:child_process';
import { readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { EdgeCore, silentLogger } from '../edgecore/index.js';
import { resolveConfig } from '../schemas/index.js';
import { EXAMPLES, tempDir, TestClient, thermostatManifest, writeManifests } from './helpers.js';
import { deferred, within } from './async.js';
import { requirePeer } from './peers.js';
import { BIN, edgeArgs, runCli, spawnEdge } from './process.js';

const DEV = '$hw/events/device/default/thermo';

/** Sets the thermostat's setpoint over MQTT and resolves once it is PUBACKed and answered. */
async function setSetpoint(url: string, value: string): Promise<void> {
  const client = await TestClient.connect(url, [`${DEV}/twin/update/result`]);
  try {
    await client.publish(`${DEV}/twin/update`, { event_id: `set-${value}`, twin: { setpoint: { expected: { value } } } });
    const answer = await client.next(`${DEV}/twin/update/result`, (j) => j.event_id === `set-${value}`, 10_000);
    expect(answer.json.error_code).toBeUndefined();
  } finally {
    await client.close();
  }
}

async function setpointOf(url: string): Promise<string | undefined> {
  const client = await TestClient.connect(url, [`${DEV}/twin/get/result`]);
  try {
    await client.publish(`${DEV}/twin/get`, { event_id: 'get' });
    const got = await client.next(`${DEV}/twin/get/result`, (j) => j.event_id === 'get', 10_000);
    return (got.json.twin as { setpoint?: { expected?: { value?: string } } }).setpoint?.expected?.value;
  } finally {
    await client.close();
  }
}

/** The JSON log lines on stderr. */
function logLines(stderr: string): Array<Record<string, unknown>> {
  return stderr.split('\n').flatMap((line) => {
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}

describe.skipIf(!requirePeer('built'))('one process per data directory', () => {
  const tmp = tempDir('edgetwin-lock-');
  afterAll(() => tmp.cleanup());

  it('a second edgetwin run on the same data dir refuses with EDGETWIN_ERR_DATA_DIR_LOCKED naming the first; the first keeps what it acknowledged', { timeout: 120_000 }, async () => {
    writeManifests(path.join(tmp.dir, 'devices'), { 'thermo.yaml': thermostatManifest() });
    const first = await spawnEdge([...edgeArgs(tmp.dir), '--no-metrics']);
    try {
      await setSetpoint(first.url, '21');
      const second = await runCli(['run', ...edgeArgs(tmp.dir), '--no-metrics'], 30_000);
      expect(second.code).toBe(1);
      expect(second.stderr).toContain('error EDGETWIN_ERR_DATA_DIR_LOCKED');
      expect(second.stderr).toContain(`process ${first.child.pid}`);
      expect(second.stdout).not.toContain('edgetwin ready');
      // The refused start touched nothing: the first answers, and what it acknowledged is kept.
      await setSetpoint(first.url, '22');
    } finally {
      expect(await first.stop()).toBe(0);
    }
    const again = await spawnEdge([...edgeArgs(tmp.dir), '--no-metrics']);
    try {
      expect(await setpointOf(again.url)).toBe('22');
    } finally {
      await again.stop();
    }
  });

  it('a process killed with SIGKILL leaves no lock behind: the next one starts', { timeout: 120_000 }, async () => {
    const killed = await spawnEdge([...edgeArgs(tmp.dir), '--no-metrics']);
    await setSetpoint(killed.url, '23');
    await killed.stop('SIGKILL');
    // Its owner file still names it; the kernel dropped the lock itself.
    expect(readFileSync(path.join(tmp.dir, 'data', 'edgetwin.pid'), 'utf8')).toContain(`"pid":${killed.child.pid}`);
    const next = await spawnEdge([...edgeArgs(tmp.dir), '--no-metrics']);
    try {
      expect(await setpointOf(next.url)).toBe('23');
    } finally {
      await next.stop();
    }
  });
});

describe.skipIf(!requirePeer('built'))('an unusable data directory', () => {
  const tmp = tempDir('edgetwin-baddir-');
  afterAll(() => tmp.cleanup());

  it.each([
    ['a directory under /proc', '/proc/edgetwin-test/data', /\/proc is a kernel file system/],
    ['/proc itself', '/proc', /\/proc is a kernel file system/],
    ['a path through a file', 'FILE/data', /a file is in the way/],
  ])('%s exits 1 with EDGETWIN_ERR_DATA_DIR instead of spinning', { timeout: 120_000 }, async (_what, dir, hint) => {
    const file = path.join(tmp.dir, 'not-a-dir');
    writeFileSync(file, 'x');
    const dataDir = dir.replace('FILE', file);
    // runCli kills the child after its timeout: a process that spins fails here (code null).
    const r = await runCli(['run', '--data-dir', dataDir, '--mqtt-port', '0', '--no-metrics'], 30_000);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error EDGETWIN_ERR_DATA_DIR: /m);
    expect(r.stderr).toMatch(hint);
  });
});

describe.skipIf(!requirePeer('built'))('a store file that went missing, empty or short', () => {
  const tmp = tempDir('edgetwin-damaged-');
  afterAll(() => tmp.cleanup());
  const db = path.join(tmp.dir, 'data', 'edgetwin.db');

  it('a new data dir starts silently; a used one whose store is gone, empty or cut short is refused with EDGETWIN_ERR_STORE_DAMAGED', { timeout: 120_000 }, async () => {
    writeManifests(path.join(tmp.dir, 'devices'), { 'thermo.yaml': thermostatManifest() });
    const fresh = await spawnEdge([...edgeArgs(tmp.dir), '--no-metrics']);
    try {
      await setSetpoint(fresh.url, '24');
    } finally {
      await fresh.stop();
    }
    // --log-level warn: a new data dir gives no warning at all.
    expect(logLines(fresh.output().stderr)).toEqual([]);
    const original = readFileSync(db);
    const size = statSync(db).size;
    for (const [what, damage] of [
      ['emptied', () => truncateSync(db, 0)],
      ['deleted', () => rmSync(db)],
      ['cut short by part of a page (SQLite alone opens this without complaint)', () => truncateSync(db, size - 100)],
      ['cut to its first page', () => truncateSync(db, 4096)],
      ['cut inside its header', () => truncateSync(db, 50)],
    ] as const) {
      writeFileSync(db, original);
      damage();
      const r = await runCli(['run', ...edgeArgs(tmp.dir), '--no-metrics'], 30_000);
      expect(r.code, what).toBe(1);
      expect(r.stderr, what).toMatch(/^error EDGETWIN_ERR_STORE_DAMAGED: the store .*edgetwin\.db /m);
      expect(r.stderr, what).toContain('edgetwin.db.created');
      expect(r.stdout, what).not.toContain('edgetwin ready');
    }
    // Restored, everything acknowledged is there.
    writeFileSync(db, original);
    const restored = await spawnEdge([...edgeArgs(tmp.dir), '--no-metrics']);
    try {
      expect(await setpointOf(restored.url)).toBe('24');
    } finally {
      await restored.stop();
    }
  });
});

describe.skipIf(!requirePeer('built'))('signals during start-up', () => {
  const tmp = tempDir('edgetwin-sigterm-');
  afterAll(() => tmp.cleanup());

  it('SIGTERM as soon as the broker listens stops edgetwin run cleanly, and the next start finds the data dir free', { timeout: 120_000 }, async () => {
    writeManifests(path.join(tmp.dir, 'devices'), { 'thermo.yaml': thermostatManifest() });
    const args = [...edgeArgs(tmp.dir), '--no-metrics'].map((a) => (a === 'warn' ? 'info' : a));
    const child = spawn(process.execPath, [BIN, 'run', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const listening = deferred();
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (stderr.includes('"MQTT broker listening"')) listening.resolve();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await within(listening.promise, 30_000, 'the broker to listen');
    child.kill('SIGTERM');
    expect(await within(exited, 30_000, 'edgetwin to exit')).toBe(0);
    expect(stdout).toContain('edgetwin stopped');
    const next = await spawnEdge([...edgeArgs(tmp.dir), '--no-metrics']);
    expect(await next.stop()).toBe(0);
  });

  it('EdgeCore.stop() during start() ends the start-up at its next step and leaves nothing open', { timeout: 120_000 }, async () => {
    const dir = path.join(tmp.dir, 'inproc');
    writeManifests(path.join(dir, 'devices'), { 'thermo.yaml': thermostatManifest() });
    const config = resolveConfig({ nodeName: 'edge-test', dataDir: path.join(dir, 'data'), devices: [path.join(dir, 'devices')], mqtt: { port: 0 }, metrics: { enabled: false } });
    // A log sink that asks for the stop from inside start-up, the moment the broker listens
    // (pino writes to a plain stream synchronously, inside the broker's start()).
    let stopped: Promise<void> | undefined;
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        if (chunk.toString().includes('"MQTT broker listening"')) stopped ??= core.stop();
        done();
      },
    });
    const logger = pino({ level: 'info' }, sink);
    const core = new EdgeCore({ config, logger });
    const started = core.start();
    await expect(within(started, 30_000, 'start() to end')).rejects.toMatchObject({ code: 'EDGETWIN_ERR_INTERNAL', message: expect.stringMatching(/start-up cancelled/) });
    expect(stopped).toBeDefined();
    await within(stopped!, 30_000, 'stop()');
    // The data dir is free and the port closed: a new EdgeCore starts on the same dir.
    const next = new EdgeCore({ config, logger: silentLogger() });
    await next.start();
    expect(next.twin.get('default/thermo')).toBeDefined();
    await next.stop();
  });
});

describe.skipIf(!requirePeer('built'))('problems starting simulated devices', () => {
  const tmp = tempDir('edgetwin-simport-');
  let squatter: Server | undefined;
  afterAll(async () => {
    await new Promise<void>((resolve) => (squatter ? squatter.close(() => resolve()) : resolve()));
    tmp.cleanup();
  });

  it('a simulated Modbus device whose port is taken is logged with its code and device, and counted on the ready line', { timeout: 120_000 }, async () => {
    // Holds the port and drops whoever connects (the Modbus mapper will try).
    squatter = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => squatter!.listen(0, '127.0.0.1', resolve));
    const port = (squatter.address() as { port: number }).port;
    const manifest = readFileSync(path.join(EXAMPLES, 'devices', 'thermostat.yaml'), 'utf8')
      .replace('port: "1502"', `port: "${port}"`)
      .replace('nodeName: edge-1', 'nodeName: edge-test');
    writeManifests(path.join(tmp.dir, 'devices'), { 'thermostat.yaml': manifest });
    const config = path.join(tmp.dir, 'edgetwin.yaml');
    writeFileSync(config, 'simulate: [default/thermostat]\nmappers:\n  enabled: [modbus]\n');
    const edge = await spawnEdge(['--config', config, ...edgeArgs(tmp.dir), '--no-metrics']);
    try {
      expect(edge.readyLine).toContain('1 skipped (see log)');
      const line = await within(
        (async () => {
          for (;;) {
            const found = logLines(edge.output().stderr).find((l) => l.code === 'EDGETWIN_ERR_MAPPER_CONNECTION');
            if (found) return found;
            await new Promise((r) => edge.child.stderr!.once('data', r));
          }
        })(),
        10_000,
        'the log line',
      );
      expect(line).toMatchObject({ level: 40, module: 'simulators', devices: ['default/thermostat'] });
      expect(String(line.msg)).toMatch(new RegExp(`default/thermostat not started: .*127\\.0\\.0\\.1:${port}.*EADDRINUSE`));
    } finally {
      await edge.stop();
    }
  });
});
