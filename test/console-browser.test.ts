// The web console in a real browser (playwright-core driving Debian's chromium) against a real
// `edgetwin run` with the demo's simulated devices (a Modbus TCP thermostat, a BLE sensor, two
// power meters): log in, see the devices, watch a value change, set a desired value and watch
// its ack go pending → applied, refusals in the form and by the server, a read-only user, and
// the connection dropped and restored. Screenshots of each page (docs/console-*.png with
// EDGETWIN_SCREENSHOTS=docs).

import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from './async.js';
import { EXAMPLES, REPO, tempDir } from './helpers.js';
import { requirePeer } from './peers.js';
import { launchEdge, type RunningEdge } from './process.js';
import { writeUsers } from './security-rig.js';

const RUN = requirePeer('chromium', 'built') && existsSync(path.join(REPO, 'dist', 'console', 'index.html'));
// The README's screenshots are refreshed on request (`EDGETWIN_SCREENSHOTS=docs npx vitest run
// test/console-browser.test.ts`); an ordinary run writes them to a temp folder, so running the
// suite leaves the checkout as it was.
const DOCS = process.env.EDGETWIN_SCREENSHOTS === 'docs' ? path.join(REPO, 'docs') : mkdtempSync(path.join(tmpdir(), 'edgetwin-console-shots-'));
// dependencies.md §12: what Debian's chromium needs here (no sandbox as root, no network of its own).
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

describe.skipIf(!RUN)('the web console in chromium', { timeout: 120_000 }, () => {
  const tmp = tempDir('edgetwin-console-');
  let edge: RunningEdge | undefined;
  let httpPort = 0;
  let args: string[] = [];
  const usersFile = path.join(tmp.dir, 'users.yaml');
  let base = '';
  let context: BrowserContext;
  let page: Page;
  const puts: string[] = [];
  /** Requests to anywhere but this edgetwin: there must be none (no CDN, same origin). */
  const foreign: string[] = [];

  const start = async (): Promise<RunningEdge> => {
    edge = await launchEdge(args).ready(60_000);
    return edge;
  };

  beforeAll(async () => {
    const devices = path.join(tmp.dir, 'devices');
    mkdirSync(devices);
    const modbusPort = await freePort();
    writeFileSync(path.join(devices, 'thermostat.yaml'), readFileSync(path.join(EXAMPLES, 'devices', 'thermostat.yaml'), 'utf8').replace('port: "1502"', `port: "${modbusPort}"`));
    for (const f of ['ble-sensor.yaml', 'power-meter.yaml']) copyFileSync(path.join(EXAMPLES, 'devices', f), path.join(devices, f));
    await writeUsers(usersFile, {
      operator: { role: 'writer', password: 'operator-pw' },
      watcher: { role: 'app', password: 'watcher-pw' },
      'modbus-mapper': { role: 'mapper', password: 'mapper-pw', protocols: ['modbus'] },
    });
    // The demo's config (examples/edgetwin.yaml) with a users file instead of anonymous access.
    const config = path.join(tmp.dir, 'edgetwin.yaml');
    writeFileSync(
      config,
      [
        'nodeName: edge-1',
        'dataDir: ./data',
        'devices: [./devices]',
        'simulate: [default/thermostat, default/ble-env-sensor-1]',
        'mappers: { enabled: [modbus, bluetooth], bluetoothAdapter: simulated }',
        'mqtt: { auth: { usersFile: ./users.yaml } }',
        'http: { console: true }',
        '',
      ].join('\n'),
    );
    httpPort = await freePort();
    args = ['--config', config, '--mqtt-port', '0', '--http-port', String(httpPort), '--log-level', 'warn'];
    const running = await start();
    base = `http://127.0.0.1:${httpPort}`;
    expect(running.readyLine).toContain(`console ${base}/`);
    const profile = path.join(tmp.dir, 'chromium');
    mkdirSync(profile);
    context = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: FLAGS,
      // Chromium writes under XDG dirs even with its own profile (dependencies.md §15.7).
      env: { ...process.env, XDG_CONFIG_HOME: tmp.dir, XDG_CACHE_HOME: tmp.dir },
      viewport: { width: 1280, height: 860 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('request', (r) => {
      if (r.method() === 'PUT') puts.push(r.url());
      // Same origin only: nothing the console loads may come from elsewhere (no CDN).
      const u = r.url();
      if (!u.startsWith(`${base}/`) && !u.startsWith(`${base.replace('http', 'ws')}/`) && !u.startsWith('data:') && !u.startsWith('blob:')) foreign.push(u);
    });
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await edge?.stop();
    tmp.cleanup();
  });

  // A failed step leaves a picture of the page beside the test's temp dir, for the reader of the log.
  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail' && page) {
      const file = path.join(REPO, '.tmp', `console-failed-${ctx.task.name.slice(0, 40).replace(/\W+/g, '-')}.png`);
      mkdirSync(path.dirname(file), { recursive: true });
      await page.screenshot({ path: file, fullPage: true }).catch(() => undefined);
      process.stderr.write(`screenshot of the failed step: ${file}\n`);
    }
  });

  const login = async (user: string, password: string): Promise<void> => {
    await page.goto(`${base}/`);
    await page.getByLabel('User name').fill(user);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Log in' }).click();
  };

  const text = async (selector: string): Promise<string> => (await page.locator(selector).first().textContent()) ?? '';

  it('a mapper account cannot log in', async () => {
    await login('modbus-mapper', 'mapper-pw');
    await page.getByRole('alert').filter({ hasText: 'EDGETWIN_ERR_ACCESS_DENIED' }).waitFor();
  });

  it('logs in as a writer and sees the demo devices, live', async () => {
    await login('operator', 'operator-pw');
    for (const id of ['default/thermostat', 'default/ble-env-sensor-1', 'default/power-meter-1']) await page.getByRole('link', { name: id }).waitFor();
    await page.locator('[data-link="live"]').waitFor();
    // The simulated devices come online and report (their "last seen" is recent).
    await eventually(async () => ((await text('tr[data-device="default/thermostat"] td[data-label="State"]')).includes('online') ? true : undefined), 60_000);
    await eventually(async () => ((await text('tr[data-device="default/ble-env-sensor-1"] td[data-label="State"]')).includes('online') ? true : undefined), 60_000);
    // Search filters the list in the page.
    await page.getByLabel('Search').fill('ble');
    await eventually(async () => ((await page.locator('tbody tr').count()) === 1 ? true : undefined));
    await page.getByLabel('Search').fill('');
    await page.screenshot({ path: path.join(DOCS, 'console-devices.png') });
  });

  it('watches a reported value change live on the device page', async () => {
    await page.getByRole('link', { name: 'default/thermostat' }).click();
    await page.getByLabel('setpoint').waitFor();
    const cell = 'tr[data-property="temperature"] td.reported';
    const first = await eventually(async () => ((await text(cell)).includes('Celsius') ? await text(cell) : undefined), 30_000);
    await eventually(async () => ((await text(cell)) !== first ? true : undefined), 30_000);
  });

  it('sets a desired value through the form: the ack goes pending → applied and the device follows', async () => {
    // Browser code as text: the test's tsconfig has no DOM types. Records each ack state shown.
    await page.evaluate(`(() => {
      const seen = [];
      window.acks = seen;
      const note = () => {
        const s = document.querySelector('tr[data-property="setpoint"] [data-ack]')?.getAttribute('data-ack');
        if (s && seen[seen.length - 1] !== s) seen.push(s);
      };
      note();
      new MutationObserver(note).observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
    })()`);
    await page.getByLabel('setpoint').fill('23.5');
    await page.getByRole('button', { name: 'Send desired values' }).click();
    await eventually(async () => ((await text('tr[data-property="setpoint"] td.reported')).startsWith('23.5 ') ? true : undefined), 30_000);
    await eventually(async () => ((await text('tr[data-property="setpoint"] [data-ack]')).startsWith('applied') ? true : undefined), 30_000);
    const acks = await page.evaluate<string[]>('window.acks');
    expect(acks.slice(acks.lastIndexOf('pending'))).toEqual(['pending', 'applied']);
    await page.getByText('desired 23.5').first().waitFor();
    await page.locator('.chart canvas').first().waitFor();
    await page.screenshot({ path: path.join(DOCS, 'console-device.png'), fullPage: true });
  });

  it('refuses an out-of-range value in the form, and the server refuses it with its code when sent past the form', async () => {
    const before = puts.length;
    await page.getByLabel('setpoint').fill('99');
    await page.getByRole('button', { name: 'Send desired values' }).click();
    await page.getByRole('alert').filter({ hasText: 'setpoint must be <= 35' }).waitFor();
    expect(await page.getByLabel('setpoint').getAttribute('aria-invalid')).toBe('true');
    expect(puts.length).toBe(before);
    const answer = await page.evaluate(async () => {
      const { csrf } = (await (await fetch('/api/v1/session')).json()) as { csrf: string };
      const res = await fetch('/api/v1/devices/default/thermostat/desired', { method: 'PUT', headers: { 'content-type': 'application/json', 'x-edgetwin-csrf': csrf }, body: JSON.stringify({ values: { setpoint: 99 } }) });
      return { status: res.status, body: (await res.json()) as { error: { code: string } } };
    });
    expect(answer).toMatchObject({ status: 400, body: { error: { code: 'EDGETWIN_ERR_MODEL_VALIDATION' } } });
    // The refusal shows among the device's events, with its code.
    await page.locator('.event-error').filter({ hasText: 'EDGETWIN_ERR_MODEL_VALIDATION' }).first().waitFor();
  });

  it('shows the server’s coded refusal in the form when a value the form accepts is still refused', async () => {
    // The operator loses its writer role while logged in: the users file is the authority, per request.
    await writeUsers(usersFile, { operator: { role: 'app', password: 'operator-pw' } });
    // The change of role reaches the server within about a second (the users file is watched):
    // a send before that is still a writer's, so each try sends a new value (an unchanged one
    // would not be sent at all: "Nothing changed").
    let value = 24;
    await eventually(async () => {
      value = value >= 34 ? 24.5 : value + 0.5;
      await page.getByLabel('setpoint').fill(String(value));
      await page.getByRole('button', { name: 'Send desired values' }).click();
      const alert = page.locator('.desired [role="alert"]');
      return (await alert.count()) > 0 && (await alert.textContent())?.includes('EDGETWIN_ERR_ACCESS_DENIED') ? true : undefined;
    }, 30_000);
    await writeUsers(usersFile, { operator: { role: 'writer', password: 'operator-pw' } });
  });

  it('shows the node page', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Node' }).click();
    await page.getByRole('heading', { name: 'Push sinks' }).waitFor();
    await page.getByRole('link', { name: '/metrics' }).waitFor();
    await page.screenshot({ path: path.join(DOCS, 'console-node.png'), fullPage: true });
  });

  it('reconnects after the connection drops: "reconnecting" while edgetwin is down, live again when it is back', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Devices' }).click();
    await page.locator('[data-link="live"]').waitFor();
    await edge!.stop();
    await page.locator('[data-link="reconnecting"]').waitFor({ timeout: 30_000 });
    await page.screenshot({ path: path.join(DOCS, 'console-reconnecting.png') });
    await start();
    // The session cookie is signed with a key kept in the data dir: no new login is needed.
    await page.locator('[data-link="live"]').waitFor({ timeout: 60_000 });
    await eventually(async () => ((await text('tr[data-device="default/thermostat"] td[data-label="State"]')).includes('online') ? true : undefined), 60_000);
  });

  it('an app user sees no edit controls, and a crafted request is refused', async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await login('watcher', 'watcher-pw');
    await page.getByRole('link', { name: 'default/thermostat' }).click();
    await page.getByText('Read-only: your role may not set desired values').waitFor();
    expect(await page.getByLabel('setpoint').count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Send desired values' }).count()).toBe(0);
    const answer = await page.evaluate(async () => {
      const { csrf } = (await (await fetch('/api/v1/session')).json()) as { csrf: string };
      const res = await fetch('/api/v1/devices/default/thermostat/desired', { method: 'PUT', headers: { 'content-type': 'application/json', 'x-edgetwin-csrf': csrf }, body: JSON.stringify({ values: { setpoint: 20 } }) });
      return { status: res.status, body: (await res.json()) as { error: { code: string } } };
    });
    expect(answer).toMatchObject({ status: 403, body: { error: { code: 'EDGETWIN_ERR_ACCESS_DENIED' } } });
  });

  it('is readable at 360 px in the dark theme, keyboard first', async () => {
    await page.setViewportSize({ width: 360, height: 780 });
    await page.getByRole('button', { name: 'Dark theme' }).click();
    await page.goto(`${base}/devices/default/thermostat`);
    await page.locator('[data-link="live"]').waitFor();
    expect(await page.locator('html').getAttribute('data-theme')).toBe('dark');
    // Nothing overflows sideways.
    expect(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth + 1')).toBe(true);
    // The first Tab reaches the skip link, the next ones the navigation.
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement?.textContent')).toBe('Skip to content');
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement?.textContent')).toBe('Devices');
    await page.screenshot({ path: path.join(DOCS, 'console-mobile-dark.png'), fullPage: true });
  });

  it('loaded nothing from anywhere but edgetwin itself', () => {
    expect(foreign).toEqual([]);
  });
});

describe.skipIf(!existsSync(path.join(REPO, 'dist', 'console', 'index.html')))('the console bundle', () => {
  it('is under 250 KB gzipped, and names no other origin to load from', async () => {
    const { readdirSync } = await import('node:fs');
    const { gzipSync } = await import('node:zlib');
    const assets = path.join(REPO, 'dist', 'console', 'assets');
    let gzipped = 0;
    for (const f of readdirSync(assets)) {
      const body = readFileSync(path.join(assets, f));
      gzipped += gzipSync(body, { level: 9 }).length;
      // No <script src>/<link href>/import of another origin (schema ids such as json-schema.org are names, not loads).
      expect(body.toString('utf8')).not.toMatch(/(?:src|href)=["']https?:|import\(["']https?:|@import\s+url\(["']?https?:/);
    }
    expect(gzipped).toBeLessThan(250 * 1024);
  });
});
