// Runs the real `edgetwin` command (bin/edgetwin.js → the compiled dist/) as a child process.

import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { REPO } from './helpers.js';
import { requirePeer } from './peers.js';

export const BIN = path.join(REPO, 'bin', 'edgetwin.js');
/** The process tests need the compiled CLI (`npm test` builds it first; with CI=true a missing one fails). */
export const BUILT = requirePeer('built');

export interface RunningEdge {
  readonly child: ChildProcess;
  readonly url: string;
  readonly port: number;
  readonly readyLine: string;
  /** SIGTERM and wait for exit; resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Everything the process printed so far. */
  output(): { stdout: string; stderr: string };
}

/** A spawned `edgetwin run` that may not be ready yet (external mode waits for its broker). */
export interface LaunchedEdge {
  readonly child: ChildProcess;
  /** Resolves once it prints its ready line; rejects if it exits first or `timeoutMs` passes (then it is killed). */
  ready(timeoutMs?: number): Promise<RunningEdge>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  output(): { stdout: string; stderr: string };
  /** Resolves with the exit code. */
  readonly exited: Promise<number | null>;
}

/** Spawns `edgetwin run ARGS` without waiting for anything. */
export function launchEdge(args: readonly string[]): LaunchedEdge {
  const child = spawn(process.execPath, [BIN, 'run', ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const output = (): { stdout: string; stderr: string } => ({ stdout, stderr });
  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };
  const ready = (timeoutMs = 15_000): Promise<RunningEdge> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`edgetwin did not get ready in ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
      }, timeoutMs);
      const onData = (): void => {
        // External and both modes add ` (external)` / ` (both: external <url>)` after the URL.
        const m = /^edgetwin ready: broker (mqtt:\/\/[^:\s]+:(\d+))(?: \([^)]*\))?,.*$/m.exec(stdout);
        if (!m) return;
        clearTimeout(timer);
        child.stdout.off('data', onData);
        resolve({ child, url: m[1]!, port: Number(m[2]), readyLine: m[0], output, stop });
      };
      child.stdout.on('data', onData);
      onData();
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`edgetwin exited (${code}) before it was ready\nstdout: ${stdout}\nstderr: ${stderr}`));
      });
    });
  return { child, ready, stop, output, exited };
}

/** Spawns `edgetwin run ARGS` and resolves once it prints its ready line. */
export function spawnEdge(args: readonly string[], timeoutMs = 15_000): Promise<RunningEdge> {
  return launchEdge(args).ready(timeoutMs);
}

/** Runs `edgetwin ARGS` to completion. */
export function runCli(args: readonly string[], timeoutMs = 15_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The flags of a test `edgetwin run` on `dir` (manifests in dir/devices, store in dir/data): no config file needed. */
export function edgeArgs(dir: string, devices = path.join(dir, 'devices')): string[] {
  return ['--node-name', 'edge-test', '--data-dir', path.join(dir, 'data'), '--devices', devices, '--mqtt-port', '0', '--log-level', 'warn'];
}

export interface RunningCli {
  readonly child: ChildProcess;
  /** The first match of the ready pattern. */
  readonly match: RegExpMatchArray;
  /** Everything the process printed so far. */
  output(): { stdout: string; stderr: string };
  /** SIGTERM and wait for exit; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Spawns a long-running `edgetwin ARGS` (a mapper, a simulator) and resolves once stdout matches `ready`. */
export function spawnCli(args: readonly string[], ready: RegExp, timeoutMs = 15_000): Promise<RunningCli> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`not ready in ${timeoutMs} ms: edgetwin ${args.join(' ')}\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    const onData = (): void => {
      const match = ready.exec(stdout);
      if (!match) return;
      clearTimeout(timer);
      child.stdout.off('data', onData);
      resolve({
        child,
        match,
        output: () => ({ stdout, stderr }),
        stop: async () => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          return exited;
        },
      });
    };
    child.stdout.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`exited (${code}) before it was ready: edgetwin ${args.join(' ')}\nstdout: ${stdout}\nstderr: ${stderr}`));
    });
  });
}
