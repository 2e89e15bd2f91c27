// pushMethod.http: one POST per value to `hostName:port/requestPath`, form-encoded as
// mapper-framework sends it (kubeedge/mapper-framework _template/mapper/data/publish/http/client.go):
// `<property>=<value>&time=<2006-01-02 15:04:05>`. edgetwin adds an `Idempotency-Key` header
// (the record's key) so a receiver can drop a value delivered twice after an outage. `timeout`
// is in ms (KubeEdge's cycles are ms; mapper-framework does not use it); 0 or absent: 5 s.

import { edgetwinError } from '../../errors.js';
import type { Sink, SinkRecord } from '../sink.js';
import { goTime, sinkError, wireValue, type Credentials, type SinkTarget } from './common.js';

export interface HttpPushConfig {
  readonly hostName: string;
  readonly port?: number;
  readonly requestPath?: string;
  readonly timeout?: number;
}

/** The URL mapper-framework builds: hostName + ":" + port + requestPath (a bare host gets http://). */
export function httpUrl(cfg: HttpPushConfig): string {
  const host = /^https?:\/\//u.test(cfg.hostName) ? cfg.hostName : `http://${cfg.hostName}`;
  return `${host}${cfg.port !== undefined && cfg.port > 0 ? `:${cfg.port}` : ''}${cfg.requestPath ?? ''}`;
}

export function httpBody(property: string, record: SinkRecord): string {
  return new URLSearchParams([
    [property, wireValue(record.value)],
    ['time', goTime(record.timestamp)],
  ]).toString();
}

export function httpSink(target: SinkTarget, cfg: HttpPushConfig, creds: Credentials): Sink {
  const name = `http:${target.namespace}/${target.name}/${target.property}`;
  const url = httpUrl(cfg);
  const timeoutMs = cfg.timeout !== undefined && cfg.timeout > 0 ? cfg.timeout : 5000;
  const auth = creds.token !== undefined ? `Bearer ${creds.token}` : creds.username !== undefined ? `Basic ${Buffer.from(`${creds.username}:${creds.password ?? ''}`).toString('base64')}` : undefined;
  return {
    name,
    async deliver(batch, signal) {
      for (const r of batch) {
        let res: Response;
        try {
          res = await fetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded', 'idempotency-key': r.key, ...(auth ? { authorization: auth } : {}) },
            body: httpBody(target.property, r),
            signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
          });
          await res.arrayBuffer();
        } catch (err) {
          throw sinkError(err, name);
        }
        if (res.status === 401 || res.status === 403) throw edgetwinError('EDGETWIN_ERR_SINK_AUTH', `${name}: ${url} answered ${res.status}`);
        if (res.status >= 300) throw edgetwinError('EDGETWIN_ERR_SINK_REFUSED', `${name}: ${url} answered ${res.status}`);
      }
    },
    close: async () => {},
  };
}
