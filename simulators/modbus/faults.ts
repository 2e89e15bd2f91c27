// Faults a test (or a demo) can inject into one simulated unit. Plain state read by the
// simulator on every request; no timers: "dead for 500 ms" is a deadline checked against the
// clock, so there is nothing to release.

import type { RegisterTable } from '../../mappers/modbus/index.js';

export interface ExceptionFault {
  /** Only requests on this table (any table when absent). */
  readonly table?: RegisterTable;
  /** Any request whose range covers this address. */
  readonly address: number;
  /** Modbus exception code (§7): 2 illegal data address, 4 server device failure... */
  readonly code: number;
  /** Only this function code (any when absent). */
  readonly fc?: number;
}

export class UnitFaults {
  readonly #now: () => number;
  #exceptions: ExceptionFault[] = [];
  #silent = false;
  #deadUntil = 0;
  #delayMs = 0;
  #corruptCrc = 0;
  #drops = 0;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Answers requests covering `address` with exception `code`; returns the function that lifts it. */
  exceptionAt(address: number, code = 2, where: Omit<ExceptionFault, 'address' | 'code'> = {}): () => void {
    const fault: ExceptionFault = { ...where, address, code };
    this.#exceptions.push(fault);
    return () => {
      this.#exceptions = this.#exceptions.filter((f) => f !== fault);
    };
  }

  /** No response at all, until `silence(false)` (a unit that is off, or a wrong unit id). */
  silence(on = true): void {
    this.#silent = on;
  }

  /** Silent for `ms` from now, then answers again by itself. */
  deadFor(ms: number): void {
    this.#deadUntil = this.#now() + ms;
  }

  /** Every response waits `ms` before it is sent (0 = none). */
  delay(ms: number): void {
    this.#delayMs = Math.max(0, ms);
  }

  /** RTU only: the next `count` responses carry a wrong CRC. */
  corruptCrc(count = 1): void {
    this.#corruptCrc = count;
  }

  /** The next `count` requests are answered by closing the connection (TCP) instead of a reply. */
  dropNext(count = 1): void {
    this.#drops = count;
  }

  clear(): void {
    this.#exceptions = [];
    this.#silent = false;
    this.#deadUntil = 0;
    this.#delayMs = 0;
    this.#corruptCrc = 0;
    this.#drops = 0;
  }

  get isSilent(): boolean {
    return this.#silent || this.#now() < this.#deadUntil;
  }

  get delayMs(): number {
    return this.#delayMs;
  }

  /** The exception to answer for a request, if any. */
  exceptionFor(fc: number, table: RegisterTable, address: number, quantity: number): number | undefined {
    for (const f of this.#exceptions) {
      if (f.table !== undefined && f.table !== table) continue;
      if (f.fc !== undefined && f.fc !== fc) continue;
      if (f.address >= address && f.address < address + quantity) return f.code;
    }
    return undefined;
  }

  takeCorruptCrc(): boolean {
    if (this.#corruptCrc <= 0) return false;
    this.#corruptCrc--;
    return true;
  }

  takeDrop(): boolean {
    if (this.#drops <= 0) return false;
    this.#drops--;
    return true;
  }
}
