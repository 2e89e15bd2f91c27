// The outside programs interop tests talk to (mosquitto, mbpoll, socat, pymodbus, openssl) and
// the compiled CLI that process tests spawn. One place decides whether a test that needs one
// runs: on a developer's machine a missing peer skips the test (scripts/test.sh names every
// skipped test in its summary); with CI=true it fails the run instead, because a CI run that
// silently skips its interop tests has not tested interop. `.ci/run` installs every peer.
//
// Kept free of edgetwin imports: unit tests beside the code use it too.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

const REPO = path.resolve(import.meta.dirname, '..');
const PYTHON = '/usr/bin/python3';

function runs(command: string, args: readonly string[]): boolean {
  const r = spawnSync(command, args, { stdio: 'ignore', timeout: 30_000 });
  return r.error === undefined && r.status === 0;
}

/** Each peer: how to tell it is usable, and what installs it. */
const PEERS = {
  mosquitto: { present: () => existsSync('/usr/sbin/mosquitto'), fix: 'apt-get install mosquitto' },
  'mosquitto-clients': { present: () => existsSync('/usr/bin/mosquitto_pub') && existsSync('/usr/bin/mosquitto_sub'), fix: 'apt-get install mosquitto-clients' },
  // mbpoll -V exits 0 only on some versions; that it starts at all is what matters.
  mbpoll: { present: () => spawnSync('mbpoll', ['-V'], { stdio: 'ignore', timeout: 30_000 }).error === undefined, fix: 'apt-get install mbpoll' },
  socat: { present: () => runs('socat', ['-V']), fix: 'apt-get install socat' },
  // Debian's python3-pymodbus imports pyserial and serial_asyncio, which --no-install-recommends leaves out.
  pymodbus: { present: () => runs(PYTHON, ['-c', 'import pymodbus.server.async_io']), fix: 'apt-get install python3-pymodbus python3-serial python3-serial-asyncio' },
  openssl: { present: () => runs('openssl', ['version']), fix: 'apt-get install openssl' },
  built: { present: () => existsSync(path.join(REPO, 'dist', 'cli', 'main.js')), fix: 'npm run build (npm test does it first)' },
} as const satisfies Record<string, { present: () => boolean; fix: string }>;

export type Peer = keyof typeof PEERS;

const known = new Map<Peer, boolean>();

/** Is `peer` usable here? Detected once per test process. */
export function hasPeer(peer: Peer): boolean {
  let present = known.get(peer);
  if (present === undefined) known.set(peer, (present = PEERS[peer].present()));
  return present;
}

/**
 * True when every peer is usable. Otherwise false (so `describe.skipIf(!requirePeer(...))`
 * skips), or, with CI=true, throws: the test file then fails to load and the run fails.
 */
export function requirePeer(...peers: Peer[]): boolean {
  for (const peer of peers) if (!required(peer, hasPeer(peer), PEERS[peer].fix)) return false;
  return true;
}

/** The same rule for a condition that is not an installed program (e.g. dist/ newer than the sources). */
export function required(what: string, present: boolean, fix: string): boolean {
  if (present) return true;
  if (process.env.CI === 'true') {
    throw new Error(`CI=true and ${what} is missing, so the tests that need it cannot run: ${fix}`);
  }
  return false;
}
