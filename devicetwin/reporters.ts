// Who reports for each device, to catch two mappers serving one device (an in-process mapper
// left enabled beside an outside one, two `edgetwin mapper` processes given the same manifests):
// their reports interleave, and their availability fights (one says offline while the other's
// readings arrive). Pure bookkeeping with the clock passed in, tested without sockets.

/** The reporter name of in-process publishes (the mappers edgetwin runs itself). */
export const IN_PROCESS_REPORTER = 'in-process';

interface DeviceReporters {
  /** Reporter → time of its latest report, only those within the window. */
  readonly last: Map<string, number>;
  /** When a conflict was last reported for this device (once per window). */
  warnedAt: number;
}

export interface ReporterConflict {
  /** The reporter whose report showed the conflict. */
  readonly reporter: string;
  /** The other one(s) that reported in between. */
  readonly others: readonly string[];
}

export class ReporterWatch {
  private readonly devices = new Map<string, DeviceReporters>();

  constructor(private readonly windowMs: number) {}

  /**
   * Notes a report (a `state/update`, or a `twin/update` carrying actual values or acks) from
   * `reporter` for device `id` at `now`. A conflict is an interleaving: the reporter had reported
   * within the window and someone else has reported since. A mapper that reconnects under a new
   * client id is not one (the old id never reports again). Returns the conflict at most once
   * per window per device, so it is logged and counted once per episode, not per message.
   */
  note(id: string, reporter: string, now: number): ReporterConflict | undefined {
    let seen = this.devices.get(id);
    if (seen === undefined) {
      seen = { last: new Map(), warnedAt: -Infinity };
      this.devices.set(id, seen);
    }
    const before = seen.last.get(reporter);
    const previous = before !== undefined && now - before <= this.windowMs ? before : undefined;
    const others: string[] = [];
    for (const [who, at] of seen.last) {
      if (now - at > this.windowMs) seen.last.delete(who);
      else if (who !== reporter && previous !== undefined && at >= previous) others.push(who);
    }
    seen.last.set(reporter, now);
    if (others.length === 0 || now - seen.warnedAt < this.windowMs) return undefined;
    seen.warnedAt = now;
    return { reporter, others };
  }

  /** Forgets a device (it was unbound). */
  forget(id: string): void {
    this.devices.delete(id);
  }
}
