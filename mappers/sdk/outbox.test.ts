import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { edgetwinError } from '../../errors.js';
import { deferred, within } from '../../test/async.js';
import { ReportOutbox, type TwinEntry } from './outbox.js';

type Twin = Readonly<Record<string, TwinEntry>>;
interface Attempt<T> { readonly what: T; ack(): void; refuse(): void }

/** An outbox whose every send waits for the test to acknowledge or refuse it. */
function rig(): { outbox: ReportOutbox; twin: () => Promise<Attempt<Twin>>; state: () => Promise<Attempt<string>> } {
  const queue = <T>(): { push: (a: Attempt<T>) => void; next: () => Promise<Attempt<T>> } => {
    const waiting: Attempt<T>[] = [];
    let wake = deferred();
    return {
      push: (a) => {
        waiting.push(a);
        wake.resolve();
      },
      next: async () => {
        while (waiting.length === 0) {
          wake = deferred();
          await within(wake.promise, 5_000, 'a send');
        }
        return waiting.shift()!;
      },
    };
  };
  const twins = queue<Twin>();
  const states = queue<string>();
  const attempt = <T>(q: { push: (a: Attempt<T>) => void }, what: T): Promise<void> =>
    new Promise((resolve, reject) => q.push({ what, ack: resolve, refuse: () => reject(edgetwinError('EDGETWIN_ERR_PUBLISH_UNACKNOWLEDGED', 'refused')) }));
  const outbox = new ReportOutbox({
    backoff: { baseMs: 1, maxMs: 5, jitter: 0 },
    logger: pino({ level: 'silent' }),
    sendTwin: (twin) => attempt(twins, twin),
    sendState: (state) => attempt(states, state),
  });
  return { outbox, twin: twins.next, state: states.next };
}

describe('ReportOutbox', () => {
  it('keeps what was not acknowledged, the latest per property with its ack, and sends it again until it is', async () => {
    const { outbox, twin, state } = rig();
    outbox.putState('offline');
    outbox.putTwin({ t: { actual: { value: '1' } }, h: { actual: { value: '40' } } });
    (await state()).refuse();
    const first = await twin();
    expect(first.what).toEqual({ t: { actual: { value: '1' } }, h: { actual: { value: '40' } } });
    // While that send is out: a newer reading of t, an ack of s, the device back online.
    outbox.putTwin({ t: { actual: { value: '2' } } });
    outbox.putTwin({ s: { ack: { state: 'applied', value: '21' }, actual: { value: '21' } } });
    outbox.putState('online');
    first.refuse();
    // The next round: the latest state, and every property with its newest entry, in one message.
    (await state()).ack();
    const second = await twin();
    expect(second.what).toEqual({ t: { actual: { value: '2' } }, h: { actual: { value: '40' } }, s: { ack: { state: 'applied', value: '21' }, actual: { value: '21' } } });
    second.ack();
    await within((async () => { while (outbox.pending > 0) await new Promise((r) => setImmediate(r)); })(), 5_000, 'the outbox to empty');
    outbox.close();
  });

  it('sends nothing once closed', async () => {
    const { outbox, twin } = rig();
    outbox.putTwin({ t: { actual: { value: '1' } } });
    const first = await twin();
    outbox.close();
    first.refuse(); // no retry is scheduled after close
    outbox.putTwin({ t: { actual: { value: '2' } } });
    expect(outbox.pending).toBe(1);
  });
});
