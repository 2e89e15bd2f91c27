// Who reports for each device, to catch two mappers serving one device (an in-process mapper
// left enabled beside an outside one, two `edgetwin mapper` processes given the same manifests):
// their reports interleave, and their availability fights (one says offline while the other's
// readings arrive). Pure bookkeeping with the clock passed in, tested without sockets.

/** The reporter name of in-process publishes (the mappers edgetwin runs itself). */
export const IN_PROCESS_REPORTER = 'in-process';

/**
 * One device's reporters. Nearly every device has one, so that case is two fields and no Map
 * (100k devices cost a few MB, not tens); `others` exists only while a second one is around.
 */
interface DeviceReporters {
  who: string;
  at: number;
  /** Reporter → time of its latest report, when more than one reported within the window. */
  others?: Map<string, number>;
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
    const seen = this.devices.get(id);
    if (seen === undefined) {
      this.devices.set(id, { who: reporter, at: now, warnedAt: -Infinity });
      return undefined;
    }
    if (seen.others === undefined) {
      if (seen.who !== reporter && now - seen.at <= this.windowMs) seen.others = new Map([[seen.who, seen.at]]);
      seen.who = reporter;
      seen.at = now;
      if (seen.others) seen.others.set(reporter, now);
      return undefined; // a newcomer has no earlier report to interleave with
    }
    const last = seen.others;
    const before = last.get(reporter);
    const previous = before !== undefined && now - before <= this.windowMs ? before : undefined;
    const others: string[] = [];
    for (const [who, at] of last) {
      if (now - at > this.windowMs) last.delete(who);
      else if (who !== reporter && previous !== undefined && at >= previous) others.push(who);
    }
    last.set(reporter, now);
    seen.who = reporter;
    seen.at = now;
    if (last.size === 1) delete seen.others; // back to one reporter
    if (others.length === 0 || now - seen.warnedAt < this.windowMs) return undefined;
    seen.warnedAt = now;
    return { reporter, others };
  }

  /** Forgets a device (it was unbound). */
  forget(id: string): void {
    this.devices.delete(id);
  }
}
