// Progress of `npm run bench` as it goes: one line per figure as it is measured, with the time
// elapsed and an estimate of the time left, on stderr (stdout keeps the report's tables, so
// `npm run bench > report.txt` still shows progress on the terminal).
//
// The estimate starts from each section's expected duration (a guess written beside the section
// in bench/run.ts) and is corrected by how long the finished sections really took against their
// guesses: on a slower machine every remaining guess grows by the same factor.

export interface PlannedSection {
  readonly id: string;
  /** Expected seconds for this section on the reference machine (2 cores). */
  readonly estimateS: number;
}

export interface ProgressOptions {
  readonly write?: (line: string) => void;
  readonly now?: () => number;
}

export class BenchProgress {
  private readonly write: (line: string) => void;
  private readonly now: () => number;
  private readonly started: number;
  private readonly pending: Map<string, number>;
  private current?: { readonly id: string; readonly estimateS: number; readonly started: number };
  private estimatedDone = 0;
  private actualDone = 0;
  private figures = 0;

  constructor(plan: readonly PlannedSection[], opts: ProgressOptions = {}) {
    this.write = opts.write ?? ((line) => process.stderr.write(`${line}\n`));
    this.now = opts.now ?? (() => performance.now());
    this.started = this.now();
    this.pending = new Map(plan.map((s) => [s.id, s.estimateS]));
  }

  startSection(id: string): void {
    const estimateS = this.pending.get(id) ?? 0;
    this.pending.delete(id);
    this.current = { id, estimateS, started: this.now() };
  }

  endSection(): void {
    if (!this.current) return;
    this.estimatedDone += this.current.estimateS;
    this.actualDone += (this.now() - this.current.started) / 1000;
    this.current = undefined;
  }

  /** One measured figure: `label` says what, `value` the number with its unit. */
  figure(label: string, value: string): void {
    this.figures += 1;
    const section = this.current ? `${this.current.id} ` : '';
    this.write(`[${section}#${this.figures} · ${clock(this.elapsedS())} elapsed · ${this.leftText()}] ${label}: ${value}`);
  }

  elapsedS(): number {
    return (this.now() - this.started) / 1000;
  }

  /** Seconds left by the plan, scaled by how the finished sections compared with their guesses. */
  leftS(): number {
    const scale = this.estimatedDone > 0 ? this.actualDone / this.estimatedDone : 1;
    let left = 0;
    for (const est of this.pending.values()) left += est * scale;
    if (this.current) left += Math.max(0, this.current.estimateS * scale - (this.now() - this.current.started) / 1000);
    return left;
  }

  private leftText(): string {
    const left = this.leftS();
    return left < 1 ? 'finishing' : `~${clock(left)} left`;
  }
}

function clock(seconds: number): string {
  const s = Math.round(seconds);
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

/** What a section reports through: the progress of the run, or nothing (a section run alone). */
export type FigureSink = (label: string, value: string) => void;
export const noProgress: FigureSink = () => undefined;
