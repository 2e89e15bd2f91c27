// `edgetwin history <ns/name> [property…]`: a device's history over MQTT (edgetwin's
// `history/get` extension, docs/mqtt-api.md), as a table on a terminal, CSV when piped or with
// --csv, the answer's JSON with --json. Times and the step go to edgetwin as written, so
// `--since 1h` means an hour before edgetwin's clock.

import { edgetwinError } from '../errors.js';
import { TwinClient, type HistoryResult } from '../devicetwin/index.js';
import { MqttBus } from '../eventbus/index.js';

export interface HistoryCommandOptions {
  readonly broker: string;
  readonly timeout: number;
  readonly since?: string;
  readonly until?: string;
  readonly step?: string;
  readonly kind?: string;
  readonly csv?: boolean;
  readonly json?: boolean;
}

type Cell = string | number | null;
type Series = HistoryResult['series'][number];

/** One row per point, in time order across series (ties: series order). */
function rows(result: HistoryResult): { header: string[]; rows: Cell[][] } {
  const stepped = result.step !== null;
  const header = stepped ? ['time', 'property', 'kind', 'count', 'min', 'max', 'mean', 'last'] : ['time', 'property', 'kind', 'value'];
  const out: Array<{ t: number; cells: Cell[] }> = [];
  for (const s of result.series) {
    for (let i = 0; i < s.t.length; i++) out.push({ t: s.t[i]!, cells: cellsOf(s, i) });
  }
  out.sort((a, b) => a.t - b.t);
  return { header, rows: out.map(({ t, cells }) => [new Date(t).toISOString(), ...cells]) };
}

function cellsOf(s: Series, i: number): Cell[] {
  if ('value' in s) return [s.property, s.kind, s.value[i] ?? null];
  return [s.property, s.kind, s.count[i] ?? null, s.min[i] ?? null, s.max[i] ?? null, s.mean[i] ?? null, s.last[i] ?? null];
}

/** RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled. */
function csvField(cell: Cell): string {
  const text = cell === null ? '' : String(cell);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function formatCsv(result: HistoryResult): string {
  const { header, rows: body } = rows(result);
  return [header, ...body].map((r) => r.map(csvField).join(',')).join('\n') + '\n';
}

export function formatTable(result: HistoryResult): string {
  const { header, rows: body } = rows(result);
  if (body.length === 0) {
    return `no history for ${result.device} from ${new Date(result.since).toISOString()} to ${new Date(result.until).toISOString()}\n`;
  }
  const text = body.map((r) => r.map((c) => (c === null ? '' : typeof c === 'number' ? String(Number(c.toPrecision(10))) : c)));
  const widths = header.map((h, i) => Math.max(h.length, ...text.map((r) => r[i]!.length)));
  // Numbers right-aligned, words left-aligned.
  const numeric = header.map((_, i) => body.every((r) => r[i] === null || typeof r[i] === 'number'));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...text.map(line)].join('\n') + '\n';
}

export async function historyCommand(id: string, properties: readonly string[], opts: HistoryCommandOptions): Promise<void> {
  if (opts.csv && opts.json) throw edgetwinError('EDGETWIN_ERR_CLI_USAGE', 'give --csv or --json, not both');
  const bus = new MqttBus({ url: opts.broker, clientId: `edgetwin-cli-${process.pid}`, connectTimeoutMs: opts.timeout });
  await bus.start();
  let result: HistoryResult;
  try {
    result = await new TwinClient(bus, { timeoutMs: opts.timeout }).history(id, {
      ...(properties.length > 0 ? { properties } : {}),
      ...(opts.kind !== undefined ? { kinds: opts.kind.split(',') } : {}),
      ...(opts.since !== undefined ? { since: opts.since } : {}),
      ...(opts.until !== undefined ? { until: opts.until } : {}),
      ...(opts.step !== undefined ? { step: opts.step } : {}),
    });
  } finally {
    await bus.close();
  }
  if (opts.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else if (opts.csv || !process.stdout.isTTY) process.stdout.write(formatCsv(result));
  else process.stdout.write(formatTable(result));
}
