// What a mapper's reports mean to the twin: the pure translation (dmi/reports.ts).
import { describe, expect, it } from 'vitest';
import type { DeviceTwinState } from '../devicetwin/index.js';
import { BUNDLED_MODELS_DIR, loadModels } from '../schemas/index.js';
import { ACK_METADATA, stateOf, twinUpdateOf } from './reports.js';

const model = loadModels([BUNDLED_MODELS_DIR]).models.get('thermostat')!;
const v = { cloud: 0, edge: 0 };
const state: DeviceTwinState = {
  id: 'default/t',
  namespace: 'default',
  name: 't',
  version: 3,
  state: 'unknown',
  lastOnline: '',
  twins: {
    setpoint: { type: 'float', optional: true, expected: { value: '21.5', timestamp: 1 }, actual: { value: '19', timestamp: 1 }, expectedVersion: v, actualVersion: v, ack: { state: 'pending', timestamp: 1 } },
  },
};
const md = { type: '', timestamp: '' };
const twin = (p: string, reported: string, observed = '', metadata: Record<string, string> = md) => ({
  propertyName: p,
  reported: { value: reported, metadata },
  observedDesired: { value: observed, metadata: md },
});

describe('twinUpdateOf', () => {
  it('reported is the actual value; an empty observedDesired says nothing', () => {
    expect(twinUpdateOf([twin('temperature', '20.5')], state, model)).toEqual({ temperature: { actual: '20.5' } });
  });

  it('observedDesired becomes the desired value where the twin has none', () => {
    expect(twinUpdateOf([twin('mode', 'heat', 'heat')], state, model)).toEqual({ mode: { actual: 'heat', expected: 'heat' } });
  });

  it("naming the twin's desired value with a reading equal to it, it acks applied (float tolerance, canonical forms)", () => {
    expect(twinUpdateOf([twin('setpoint', '21.500000381', '21.50')], state, model)).toEqual({ setpoint: { actual: '21.500000381', ack: { state: 'applied', value: '21.5' } } });
    expect(twinUpdateOf([twin('setpoint', '20', '21.5')], state, model)).toEqual({ setpoint: { actual: '20' } });
  });

  it('an older desired value neither replaces the current one nor acks it', () => {
    expect(twinUpdateOf([twin('setpoint', '18', '18')], state, model)).toEqual({ setpoint: { actual: '18' } });
  });

  it("carries edgetwin's mapper ack from the metadata, code and reason included", () => {
    const metadata = { ...md, [ACK_METADATA.state]: 'failed', [ACK_METADATA.code]: 'EDGETWIN_ERR_MAPPER_READBACK', [ACK_METADATA.reason]: 'wrote 21.5 but read back 19' };
    expect(twinUpdateOf([twin('setpoint', '19', '21.5', metadata)], state, model)).toEqual({
      setpoint: { actual: '19', ack: { state: 'failed', value: '21.5', code: 'EDGETWIN_ERR_MAPPER_READBACK', reason: 'wrote 21.5 but read back 19' } },
    });
  });

  it('refuses what edgecore would crash on, and unknown ack words, with codes', () => {
    const code = (fn: () => unknown): string | undefined => {
      try {
        fn();
      } catch (e) {
        return (e as { code?: string }).code;
      }
      return undefined;
    };
    expect(code(() => twinUpdateOf([], state, model))).toBe('EDGETWIN_ERR_DMI_REQUEST');
    expect(code(() => twinUpdateOf([{ propertyName: 'temperature' }], state, model))).toBe('EDGETWIN_ERR_DMI_REQUEST');
    expect(code(() => twinUpdateOf([{ reported: { value: '1' } }], state, model))).toBe('EDGETWIN_ERR_DMI_REQUEST');
    expect(code(() => twinUpdateOf([twin('setpoint', '1', '21.5', { [ACK_METADATA.state]: 'maybe' })], state, model))).toBe('EDGETWIN_ERR_ACK_INVALID');
  });
});

describe('stateOf', () => {
  it("lower-cases KubeEdge's words, drops `disconnected`, refuses others with a code", () => {
    expect(stateOf('OK')).toBe('ok');
    expect(stateOf(' online ')).toBe('online');
    expect(stateOf('disconnected')).toBeUndefined();
    expect(() => stateOf('')).toThrow(expect.objectContaining({ code: 'EDGETWIN_ERR_DMI_REQUEST' }));
    expect(() => stateOf('sleepy')).toThrow(expect.objectContaining({ code: 'EDGETWIN_ERR_STATE_INVALID' }));
  });
});
