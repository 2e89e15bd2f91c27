// `edgetwin check [--config F] [--models P] [--devices P]`: would `edgetwin run` start cleanly?
// Every problem is printed once, with its code, on stdout; warnings too. Exit 0 when there is no
// problem (warnings alone do not fail), 1 otherwise. `run --strict` asks the same question.

import { edgetwinError, formatError, toEdgetwinError, type EdgetwinError } from '../errors.js';
import { checkNode, type CheckReport } from '../edgecore/index.js';
import { loadConfigFile, resolveConfig, type EdgetwinConfig, type RawConfig } from '../schemas/index.js';

export interface CheckOptions {
  readonly config?: string;
  readonly models?: readonly string[];
  readonly devices?: readonly string[];
  readonly json?: boolean;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** The report as lines: `problem CODE: …` (details indented), `warning CODE: where: …`. */
export function formatReport(report: CheckReport): string {
  const lines: string[] = [];
  for (const p of report.problems) lines.push(`problem ${formatError(p)}`);
  for (const w of report.warnings) lines.push(`warning ${w.code}: ${w.where}: ${w.message}`);
  return lines.length > 0 ? `${lines.join('\n')}\n` : '';
}

/**
 * The coded error a report with problems ends in: `check` fails, `run --strict` refuses to
 * start. It counts the problems, which are printed before it (`listed`: above, or in the JSON
 * report), so none is said twice.
 */
export function problemsError(report: CheckReport, what: 'check' | 'run --strict', listed: 'above' | 'json' = 'above'): EdgetwinError {
  const counts = `${plural(report.problems.length, 'problem')}${report.warnings.length > 0 ? `, ${plural(report.warnings.length, 'warning')}` : ''}`;
  const where = listed === 'above' ? 'listed above' : 'in the JSON report';
  const then = what === 'check' ? '`edgetwin run` would start without what they name' : 'nothing was started; fix them, or run without --strict to start without what they name';
  return edgetwinError('EDGETWIN_ERR_STARTUP_PROBLEMS', `${what}: ${counts} (${where}) in ${plural(report.models, 'model')} and ${plural(report.devices, 'device')}: ${then}`);
}

function toJson(report: CheckReport): string {
  const problems = report.problems.map((p) => ({ code: p.code, message: p.message, ...(p.details.length > 0 ? { details: p.details } : {}) }));
  return `${JSON.stringify({ ok: report.problems.length === 0, models: report.models, devices: report.devices, problems, warnings: report.warnings }, null, 2)}\n`;
}

export async function checkCommand(opts: CheckOptions): Promise<void> {
  let config: EdgetwinConfig;
  try {
    const raw = opts.config ? loadConfigFile(opts.config) : {};
    const overrides: RawConfig = {
      ...(opts.models !== undefined ? { models: [...(raw.models ?? []), ...opts.models] } : {}),
      ...(opts.devices !== undefined ? { devices: [...(raw.devices ?? []), ...opts.devices] } : {}),
    };
    config = resolveConfig(raw, overrides);
  } catch (err) {
    // A config that fails its schema (or cannot be read) is the one problem: run refuses it
    // outright, and nothing else can be checked without it. Printed once, as any CLI error.
    if (!opts.json) throw err;
    const problem = toEdgetwinError(err, 'EDGETWIN_ERR_CONFIG_INVALID');
    process.stdout.write(toJson({ models: 0, devices: 0, problems: [problem], warnings: [] }));
    throw edgetwinError(problem.code, 'check: the configuration cannot be used (in the JSON report)');
  }
  const report = await checkNode(config);
  if (opts.json) process.stdout.write(toJson(report));
  else {
    process.stdout.write(formatReport(report));
    if (report.problems.length === 0) {
      const warned = report.warnings.length > 0 ? `, ${plural(report.warnings.length, 'warning')}` : '';
      process.stdout.write(`edgetwin check: ok: ${plural(report.models, 'model')}, ${plural(report.devices, 'device')}, no problems${warned}\n`);
    }
  }
  if (report.problems.length > 0) throw problemsError(report, 'check', opts.json ? 'json' : 'above');
}
