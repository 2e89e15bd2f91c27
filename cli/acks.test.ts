import { describe, expect, it } from 'vitest';
import type { MsgTwin } from '../devicetwin/index.js';
import { verdict } from './acks.js';

const want = { value: '21', since: 1000 };
const at = (value: string, ts = 1000): MsgTwin['expected'] => ({ value, metadata: { timestamp: ts } });

describe('twin set --wait: what a twin says of the value set', () => {
  it('pending while the ack is pending and the device reports another value', () => {
    expect(verdict('setpoint', want, { expected: at('21'), actual: { value: '20' }, ack: { state: 'pending' } })).toBeUndefined();
  });

  it('applied when acked, or when the device reports the value (a mapper without acks, or no write needed)', () => {
    expect(verdict('setpoint', want, { expected: at('21'), ack: { state: 'applied' } })).toEqual({ ok: true, line: 'setpoint=21 applied' });
    expect(verdict('setpoint', want, { expected: at('21'), actual: { value: '21' }, ack: { state: 'pending' } })).toMatchObject({ ok: true });
  });

  it("rejected or failed carries the ack's own code and reason", () => {
    const v = verdict('setpoint', want, { expected: at('21'), ack: { state: 'rejected', code: 'EDGETWIN_ERR_MODBUS_EXCEPTION', reason: 'illegal data value' } });
    expect(v).toMatchObject({ ok: false, error: { code: 'EDGETWIN_ERR_MODBUS_EXCEPTION', message: 'setpoint=21 rejected by the mapper: illegal data value' } });
  });

  it('an ack code edgetwin does not know is not trusted as one', () => {
    const v = verdict('setpoint', want, { expected: at('21'), ack: { state: 'failed', code: 'E42' } });
    expect(v).toMatchObject({ ok: false, error: { code: 'EDGETWIN_ERR_DESIRED_NOT_APPLIED', message: 'setpoint=21 failed by the mapper (E42): no reason given' } });
  });

  it('a state older than the value set (a document delivered late) is ignored; a newer value from someone else ends the wait', () => {
    expect(verdict('setpoint', want, { expected: at('20', 500), ack: { state: 'failed' } })).toBeUndefined();
    expect(verdict('setpoint', want, { expected: at('25', 2000), ack: { state: 'pending' } })).toMatchObject({ ok: false, error: { code: 'EDGETWIN_ERR_DESIRED_NOT_APPLIED' } });
    expect(verdict('setpoint', want, null)).toMatchObject({ ok: false, error: { code: 'EDGETWIN_ERR_DESIRED_NOT_APPLIED' } });
  });
});
