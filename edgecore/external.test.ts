import { describe, expect, it } from 'vitest';
import { isEdgetwinError } from '../errors.js';
import { externalCheck, parseBrokerUrl } from './external.js';

describe('parseBrokerUrl', () => {
  it('takes the credentials out of the URL, decoded', () => {
    expect(parseBrokerUrl('mqtt://twin:p%40ss%3Aw@broker.local:1884')).toEqual({ url: 'mqtt://broker.local:1884', username: 'twin', password: 'p@ss:w' });
  });

  it("accepts KubeEdge's tcp:// and ssl:// and fills the default port", () => {
    expect(parseBrokerUrl('tcp://127.0.0.1:1883')).toEqual({ url: 'mqtt://127.0.0.1:1883' });
    expect(parseBrokerUrl('ssl://edge-1')).toEqual({ url: 'mqtts://edge-1:8883' });
    expect(parseBrokerUrl('mqtt://[::1]')).toEqual({ url: 'mqtt://[::1]:1883' });
  });

  it('refuses anything else with EDGETWIN_ERR_CONFIG_INVALID', () => {
    for (const bad of ['http://x:1', 'not a url', 'mqtt://']) {
      let code: string | undefined;
      try {
        parseBrokerUrl(bad);
      } catch (err) {
        code = isEdgetwinError(err) ? err.code : 'other';
      }
      expect(code, bad).toBe('EDGETWIN_ERR_CONFIG_INVALID');
    }
  });
});

describe('externalCheck', () => {
  const base = { url: 'mqtt://127.0.0.1:1883', inflight: 0, acked: 0, ingested: 0, ingestFailures: 0 };
  it('is ready only while connected, and names the broker and the reason otherwise', () => {
    expect(externalCheck({ ...base, connected: true, attempts: 0 })).toEqual({ ok: true, detail: 'connected to mqtt://127.0.0.1:1883' });
    expect(externalCheck({ ...base, connected: false, attempts: 3, lastError: 'connect ECONNREFUSED 127.0.0.1:1883' })).toEqual({
      ok: false,
      detail: 'not connected to the MQTT broker mqtt://127.0.0.1:1883: connect ECONNREFUSED 127.0.0.1:1883 (3 attempts so far, retrying with backoff)',
    });
    expect(externalCheck(undefined)).toEqual({ ok: false, detail: 'not started' });
  });
});
