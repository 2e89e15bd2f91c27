import { describe, expect, it } from 'vitest';
import type { DeviceTwinResult, MsgTwin } from '../devicetwin/index.js';
import { cell, formatAge, formatDeviceTable, formatTable, formatTwinTable, formatWatchLine, summarizeDevice, wantsJson } from './format.js';

const T0 = 1_718_000_000_000;

describe('formatAge', () => {
  it.each([
    [undefined, '-'],
    [Number.NaN, '-'],
    [-5000, '0s'], // a clock a little ahead
    [0, '0s'],
    [999, '0s'],
    [3_400, '3s'],
    [59_999, '59s'],
    [60_000, '1m'],
    [125_000, '2m'],
    [3_600_000, '1h'],
    [86_399_999, '23h'],
    [86_400_000 * 4 + 5, '4d'],
  ])('%s ms → %s', (ms, text) => {
    expect(formatAge(ms)).toBe(text);
  });
});

describe('formatTable', () => {
  it('pads every column to its widest cell, two spaces apart, with no trailing spaces', () => {
    expect(formatTable(['A', 'LONG HEADER', 'C'], [['xxxx', 'y', 'z'], ['q', 'r', '']])).toBe('A     LONG HEADER  C\nxxxx  y            z\nq     r\n');
  });
});

describe('cell', () => {
  it('escapes control characters, so a value cannot drive the terminal', () => {
    expect(cell('a\u001b[31mred\nb')).toBe('a\\u001b[31mred\\u000ab');
  });
  it('cuts long values', () => {
    const c = cell('x'.repeat(100));
    expect(c).toHaveLength(48);
    expect(c.endsWith('…')).toBe(true);
  });
});

describe('wantsJson', () => {
  it('is text on a terminal, JSON when piped, and the flag wins', () => {
    expect(wantsJson(undefined, { isTTY: true })).toBe(false);
    expect(wantsJson(undefined, {})).toBe(true);
    expect(wantsJson(true, { isTTY: true })).toBe(true);
    expect(wantsJson(false, {})).toBe(false);
  });
});

const twin = (t: MsgTwin): MsgTwin => ({ optional: true, ...t });

describe('formatTwinTable', () => {
  const result: DeviceTwinResult = {
    event_id: 'e',
    timestamp: T0 + 125_000,
    version: 7,
    units: { temperature: 'Celsius', setpoint: 'Celsius' },
    twin: {
      temperature: twin({ actual: { value: '19.5', metadata: { timestamp: T0 + 122_000 } } }),
      setpoint: twin({
        expected: { value: '21', metadata: { timestamp: T0 } },
        actual: { value: '20', metadata: { timestamp: T0 } },
        ack: { state: 'failed', code: 'EDGETWIN_ERR_MAPPER_TIMEOUT', timestamp: T0 + 5_000 },
      }),
      mode: twin({ expected: { value: 'heat', metadata: { timestamp: T0 } }, ack: { state: 'pending', timestamp: T0 } }),
      gone: null,
    },
  };

  it('prints one aligned row per property: reported with its unit, desired, ack state and code, age', () => {
    expect(formatTwinTable(result)).toBe(
      [
        'PROPERTY     REPORTED      DESIRED  ACK                                 AGE',
        'mode         -             heat     pending                             2m',
        'setpoint     20 Celsius    21       failed EDGETWIN_ERR_MAPPER_TIMEOUT  2m',
        'temperature  19.5 Celsius  -        -                                   3s',
        '',
      ].join('\n'),
    );
  });

  it('prints values without units when the node sent none', () => {
    expect(formatTwinTable({ ...result, units: undefined })).toContain('temperature  19.5  ');
  });

  it('says so when there is nothing yet', () => {
    expect(formatTwinTable({ event_id: 'e', timestamp: T0, twin: {} })).toBe('no twins yet: no value reported or desired\n');
  });
});

describe('summarizeDevice and formatDeviceTable', () => {
  const twins: DeviceTwinResult = {
    event_id: 'e',
    timestamp: T0,
    twin: {
      a: twin({ expected: { value: '1' }, actual: { value: '1', metadata: { timestamp: T0 - 2_000 } }, ack: { state: 'applied' } }),
      b: twin({ expected: { value: '2' }, actual: { value: '1' }, ack: { state: 'rejected', code: 'EDGETWIN_ERR_MODBUS_EXCEPTION' } }),
      c: twin({ expected: { value: '3' }, ack: { state: 'failed' } }),
      d: twin({ expected: { value: '' } }), // no desired value
    },
  };

  it('counts open deltas (desired ≠ reported) and failed acks (failed or rejected); last seen is the newer of last online and the newest reading', () => {
    const s = summarizeDevice({ id: 'default/x', name: 'x', state: 'online', last_online: new Date(T0 - 60_000).toISOString(), protocol: 'modbus', model: 'm' }, twins);
    expect(s).toEqual({ id: 'default/x', protocol: 'modbus', model: 'm', state: 'online', lastSeen: T0 - 2_000, openDeltas: 2, failedAcks: 2 });
  });

  it('a device never reported is unknown, never seen; one whose twins could not be read shows why', () => {
    expect(summarizeDevice({ id: 'default/y', name: 'y' }, { event_id: 'e', timestamp: T0, twin: {} })).toEqual({ id: 'default/y', state: 'unknown', openDeltas: 0, failedAcks: 0 });
    expect(summarizeDevice({ id: 'default/z', name: 'z' }, { code: 'EDGETWIN_ERR_TIMEOUT' })).toEqual({ id: 'default/z', state: 'unknown', error: 'EDGETWIN_ERR_TIMEOUT' });
  });

  it('prints one aligned line per device', () => {
    const table = formatDeviceTable(
      [
        { id: 'default/thermostat', protocol: 'modbus', state: 'online', lastSeen: T0 - 3_000, openDeltas: 0, failedAcks: 1 },
        { id: 'default/m', state: 'unknown', error: 'EDGETWIN_ERR_TIMEOUT' },
      ],
      T0,
    );
    expect(table).toBe(
      [
        'DEVICE              PROTOCOL  STATE    LAST SEEN  OPEN DELTAS  FAILED ACKS',
        'default/thermostat  modbus    online   3s ago     0            1',
        'default/m           -         unknown  never      ?            ?',
        '',
      ].join('\n'),
    );
    expect(formatDeviceTable([], T0)).toBe('no devices bound to this node\n');
  });
});

describe('formatWatchLine', () => {
  const at = new Date(2024, 5, 10, 9, 5, 7, 42).getTime();

  it('prints what changed in a document: reported values, desired values, acks', () => {
    const line = formatWatchLine({
      kind: 'document',
      message: {
        event_id: 'e',
        timestamp: at,
        twin: {
          temperature: { last: twin({ actual: { value: '19' } }), current: twin({ actual: { value: '19.5' } }) },
          setpoint: {
            last: twin({ expected: { value: '20', metadata: { timestamp: 1 } }, ack: { state: 'applied', timestamp: 1 } }),
            current: twin({ expected: { value: '21', metadata: { timestamp: 2 } }, ack: { state: 'pending', timestamp: 2 } }),
          },
          mode: { last: twin({ expected: { value: 'heat', metadata: { timestamp: 1 } }, ack: { state: 'pending', timestamp: 1 } }), current: twin({ expected: { value: 'heat', metadata: { timestamp: 1 } }, ack: { state: 'rejected', code: 'EDGETWIN_ERR_MODBUS_EXCEPTION', timestamp: 3 } }) },
          old: { last: twin({ actual: { value: '1' } }), current: null },
        },
      },
    });
    expect(line).toBe('09:05:07.042 temperature=19.5, setpoint desired=21, setpoint ack=pending, mode ack=rejected EDGETWIN_ERR_MODBUS_EXCEPTION, old deleted');
  });

  it('prints a refused update, and nothing for what repeats a change (results, deltas)', () => {
    expect(
      formatWatchLine({ kind: 'result', message: { event_id: 'e', timestamp: at, code: 400, reason: 'update rejected: "setpoint": expected: must be <= 35', error_code: 'EDGETWIN_ERR_MODEL_VALIDATION' } }),
    ).toBe('09:05:07.042 refused EDGETWIN_ERR_MODEL_VALIDATION: update rejected: "setpoint": expected: must be <= 35');
    expect(formatWatchLine({ kind: 'result', message: { event_id: 'e', timestamp: at, twin: {} } })).toBeUndefined();
    expect(formatWatchLine({ kind: 'delta', message: { event_id: 'e', timestamp: at, twin: {}, delta: { setpoint: '21' } } })).toBeUndefined();
  });
});
