// dbMethod.influxdb2: line protocol to InfluxDB, as mapper-framework writes it
// (kubeedge/mapper-framework _template/mapper/data/dbmethod/influxdb2/client.go: measurement and
// tags from influxdb2DataConfig, one field `fieldKey` = the value), with two differences: the
// point's time is the twin's timestamp (mapper-framework uses time.Now()), which makes a
// redelivered point overwrite itself — InfluxDB identifies a point by measurement, tag set and
// time (https://docs.influxdata.com/influxdb/v1/concepts/glossary/#point) — and numbers are
// written as float fields, booleans as booleans (mapper-framework writes every value as a string).
//
// Two write APIs: v2 `POST /api/v2/write?org=&bucket=&precision=ms` with `Authorization: Token`,
// and v1 `POST /write?db=<bucket>&precision=ms` with basic auth, for InfluxDB 1.x servers
// (Debian's influxdb 1.6 has no v2 endpoint). `auto` (the default) tries v2 and falls back to v1
// on a 404.

import { edgetwinError } from '../../errors.js';
import type { Sink, SinkRecord } from '../sink.js';
import { sinkError, type Credentials, type SinkTarget } from './common.js';

export interface InfluxPushConfig {
  readonly influxdb2ClientConfig: { readonly url: string; readonly org?: string; readonly bucket: string };
  readonly influxdb2DataConfig?: { readonly measurement?: string; readonly tag?: { readonly [k: string]: string }; readonly fieldKey?: string };
}

// Line protocol escaping (https://docs.influxdata.com/influxdb/v1/write_protocols/line_protocol_reference/#special-characters).
const escMeasurement = (s: string): string => s.replace(/[, \\]/gu, (c) => `\\${c}`);
const escKey = (s: string): string => s.replace(/[,= \\]/gu, (c) => `\\${c}`);
const escString = (s: string): string => s.replace(/["\\]/gu, (c) => `\\${c}`);

function fieldValue(v: SinkRecord['value']): string {
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : `"${String(v)}"`;
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return `"${escString(v)}"`;
}

/** One point per record, `precision=ms`. */
export function lineProtocol(target: SinkTarget, cfg: InfluxPushConfig, batch: readonly SinkRecord[]): string {
  const data = cfg.influxdb2DataConfig ?? {};
  const tags = Object.entries(data.tag ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `,${escKey(k)}=${escKey(v)}`)
    .join('');
  const head = `${escMeasurement(data.measurement ?? target.name)}${tags} ${escKey(data.fieldKey ?? target.property)}=`;
  return batch.map((r) => `${head}${fieldValue(r.value)} ${Math.trunc(r.timestamp)}`).join('\n');
}

export function influxSink(target: SinkTarget, cfg: InfluxPushConfig, creds: Credentials, api: 'auto' | 'v2' | 'v1' = 'auto'): Sink {
  const name = `influxdb2:${target.namespace}/${target.name}/${target.property}`;
  const url = cfg.influxdb2ClientConfig.url;
  const base = url.endsWith('/') ? url.slice(0, -1) : url;
  const { org, bucket } = cfg.influxdb2ClientConfig;
  let mode = api;
  const v2 = (): { url: string; headers: Record<string, string> } => ({
    url: `${base}/api/v2/write?${new URLSearchParams({ ...(org !== undefined ? { org } : {}), bucket, precision: 'ms' }).toString()}`,
    headers: creds.token !== undefined ? { authorization: `Token ${creds.token}` } : {},
  });
  const v1 = (): { url: string; headers: Record<string, string> } => ({
    url: `${base}/write?${new URLSearchParams({ db: bucket, precision: 'ms' }).toString()}`,
    headers: creds.username !== undefined ? { authorization: `Basic ${Buffer.from(`${creds.username}:${creds.password ?? ''}`).toString('base64')}` } : {},
  });
  const post = async (to: { url: string; headers: Record<string, string> }, body: string, signal: AbortSignal): Promise<{ status: number; text: string }> => {
    try {
      const res = await fetch(to.url, { method: 'POST', headers: { 'content-type': 'text/plain; charset=utf-8', ...to.headers }, body, signal });
      return { status: res.status, text: await res.text() };
    } catch (err) {
      throw sinkError(err, name);
    }
  };
  return {
    name,
    async deliver(batch, signal) {
      const body = lineProtocol(target, cfg, batch);
      let res = await post(mode === 'v1' ? v1() : v2(), body, signal);
      if (mode === 'auto') {
        if (res.status === 404 && !/database not found|bucket/iu.test(res.text)) {
          mode = 'v1';
          res = await post(v1(), body, signal);
        } else if (res.status < 300) mode = 'v2';
      }
      if (res.status < 300) return;
      const text = res.text.slice(0, 300);
      if (res.status === 401 || res.status === 403) throw edgetwinError('EDGETWIN_ERR_SINK_AUTH', `${name}: ${base} answered ${res.status}: ${text}`);
      throw edgetwinError('EDGETWIN_ERR_SINK_REFUSED', `${name}: ${base} answered ${res.status}: ${text}`);
    },
    close: async () => {},
  };
}
