// Logs as a user sees them: pretty lines on a terminal (run under a pty with `script`), JSON
// lines when piped, `--log-format` forcing either; and every error printed once, whether it is
// logged (a skipped manifest) or ends the command (a bad config, a usage error).

import { execFile, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { within } from './async.js';
import { tempDir, thermostatManifest, writeManifests } from './helpers.js';
import { BIN, BUILT, runCli, spawnEdge } from './process.js';

const CI = process.env.CI === 'true';
const HAS_SCRIPT = await new Promise<boolean>((resolve) => execFile('script', ['-qec', 'true', '/dev/null'], (err) => resolve(err === null)));

/**
 * Runs `edgetwin ARGS` on a terminal (util-linux `script` gives it a pty as stdin, stdout and
 * stderr), presses Ctrl-C once its ready line shows, and resolves with everything it printed.
 */
function underPty(args: readonly string[]): Promise<string> {
  const command = [process.execPath, BIN, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  const child = spawn('script', ['-qefc', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, NO_COLOR: '1' } });
  let out = '';
  let pressed = false;
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (!pressed && /^edgetwin ready: /m.test(out)) {
      pressed = true;
      child.stdin.write('\x03'); // the terminal turns it into SIGINT for the foreground process
    }
  });
  return within(
    new Promise<string>((resolve) => child.on('exit', () => resolve(out.replaceAll('\r\n', '\n')))),
    30_000,
    `edgetwin ${args.join(' ')} under a pty`,
  ).finally(() => child.kill('SIGKILL'));
}

describe.skipIf(!BUILT || (!HAS_SCRIPT && !CI))('log format', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());
  const devices = path.join(tmp.dir, 'devices');
  writeManifests(devices, { 'typo.yaml': thermostatManifest('typo').replace('name: thermostat', 'name: thermostst') });
  // --models names a folder that does not exist: a second coded warning.
  const args = (data: string): string[] => ['run', '--data-dir', path.join(tmp.dir, data), '--devices', devices, '--models', path.join(tmp.dir, 'nope'), '--mqtt-port', '0', '--no-metrics'];

  it('is JSON lines when piped, each problem logged once', async () => {
    const edge = await spawnEdge(args('piped').slice(1));
    await edge.stop();
    const { stderr } = edge.output();
    const lines = stderr.trim().split('\n');
    for (const l of lines) expect(() => void JSON.parse(l), l).not.toThrow();
    const msgs = lines.map((l) => JSON.parse(l) as { level: number; code?: string; msg: string });
    const unknown = msgs.filter((m) => m.msg.includes('model "thermostst" is not loaded'));
    expect(unknown).toHaveLength(1);
    expect(unknown[0]).toMatchObject({ level: 40, code: 'EDGETWIN_ERR_MODEL_UNKNOWN' });
    expect(unknown[0]?.msg).toMatch(/^skipped: Device manifest .*typo\.yaml \(document 0\): \/spec\/deviceModelRef\/name model "thermostst" is not loaded; did you mean "thermostat"\?$/);
    expect(msgs.filter((m) => m.code === 'EDGETWIN_ERR_FILE_READ')).toHaveLength(1);
    expect(stderr).not.toContain('\n  - '); // no detail repeated under its message
  });

  it('is pretty on a terminal: time, level, code, message; each problem once', async () => {
    const out = await underPty(args('pty'));
    expect(out).toMatch(/^edgetwin ready: /m);
    expect(out).not.toMatch(/^\{"level"/m);
    const warn = out.split('\n').filter((l) => l.includes('thermostst'));
    expect(warn).toHaveLength(1);
    expect(warn[0]).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: EDGETWIN_ERR_MODEL_UNKNOWN skipped: Device manifest .*did you mean "thermostat"\?$/);
    expect(out).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: \[eventbus\] MQTT broker listening/m);
    expect(out).toMatch(/^edgetwin stopped$/m);
  }, 40_000);

  it('--log-format json keeps JSON lines on a terminal', async () => {
    const out = await underPty([...args('pty-json'), '--log-format', 'json']);
    const logs = out.split('\n').filter((l) => l.includes('thermostst'));
    expect(logs).toHaveLength(1);
    expect(JSON.parse(logs[0]!)).toMatchObject({ code: 'EDGETWIN_ERR_MODEL_UNKNOWN' });
  }, 40_000);

  it('log.format in the config file is checked', async () => {
    const file = path.join(tmp.dir, 'fmt.yaml');
    writeFileSync(file, 'log:\n  format: fancy\n');
    const r = await runCli(['run', '--config', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error EDGETWIN_ERR_CONFIG_INVALID: .*\/log\/format must be one of "pretty", "json", "auto"$/m);
  });
});

describe.skipIf(!BUILT)('every error printed once', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it('a config with several problems: each pointer once, one line each', async () => {
    const file = path.join(tmp.dir, 'bad.yaml');
    writeFileSync(file, 'nodeName: Not_Valid\nmqtt:\n  port: 70000\n  colour: blue\n');
    const r = await runCli(['run', '--config', file]);
    expect(r.code).toBe(1);
    for (const where of ['/nodeName', '/mqtt/port', '/mqtt/colour']) expect(r.stderr.split(where).length - 1, where).toBe(1);
    const [head, ...details] = r.stderr.trimEnd().split('\n');
    expect(head).toMatch(/^error EDGETWIN_ERR_CONFIG_INVALID: Invalid configuration .*bad\.yaml \(3 problems\):$/);
    expect(details.sort()).toEqual([
      '  - /mqtt/colour is not an allowed key',
      '  - /mqtt/port must be <= 65535',
      expect.stringMatching(/^ {2}- \/nodeName must be a DNS-1123 subdomain/),
    ]);
  });

  it('a usage error: the coded line once (commander no longer prints its own)', async () => {
    const r = await runCli(['run', '--bogus']);
    expect(r.code).toBe(2);
    expect(r.stderr.split("'--bogus'").length - 1).toBe(1);
    expect(r.stderr.trimEnd().split('\n').at(-1)).toBe("error EDGETWIN_ERR_CLI_USAGE: unknown option '--bogus'");
  });

  it('a twin watch of a malformed device id: the usage error once, exit 2', async () => {
    writeManifests(path.join(tmp.dir, 'devices'), { 'thermo.yaml': thermostatManifest() });
    const edge = await spawnEdge(['--data-dir', path.join(tmp.dir, 'data'), '--devices', path.join(tmp.dir, 'devices'), '--mqtt-port', '0', '--no-metrics', '--log-level', 'silent']);
    try {
      const r = await runCli(['twin', 'watch', 'Not_A/Device', '-b', edge.url]);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^error EDGETWIN_ERR_CLI_USAGE: "Not_A\/Device" is not a device id/)]);
    } finally {
      await edge.stop();
    }
  });
});
