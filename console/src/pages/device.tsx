// One device: its twin as a table (reported value with unit and age, desired value, ack state),
// the desired-value form (writer and admin), history charts per numeric property, and the
// device's recent events — all updated live from the WebSocket.

import { useEffect, useState } from 'preact/hooks';
import { api, ApiError } from '../api';
import { HistoryChart, RANGES } from '../chart';
import { DesiredForm, writable } from '../form';
import { live } from '../live';
import type { DeviceDetail, DeviceTwinState, TwinState } from '../types';
import { age, Link, StateBadge, time, useNow } from '../ui';

function AckCell(props: { twin: TwinState | undefined }): preact.JSX.Element {
  const ack = props.twin?.ack;
  if (!props.twin?.expected) return <span class="sub">—</span>;
  if (!ack) return <span class="sub">no ack</span>;
  return (
    <span class={`ack ack-${ack.state}`} data-ack={ack.state}>
      {ack.state}
      {ack.code !== undefined && (
        <span class="sub">
          {' '}
          {ack.code}
          {ack.reason ? `: ${ack.reason}` : ''}
        </span>
      )}
    </span>
  );
}

export function Device(props: { id: string }): preact.JSX.Element {
  const { id } = props;
  const now = useNow();
  const [detail, setDetail] = useState<DeviceDetail | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [twin, setTwin] = useState<DeviceTwinState | undefined>();
  const [events, setEvents] = useState(live.events.get(id) ?? []);
  const [summary, setSummary] = useState(live.devices.get(id));
  const [range, setRange] = useState(0);

  useEffect(() => {
    const load = (): void => {
      api.device(id).then(
        (d) => {
          setDetail(d);
          setTwin(d.twin);
          setSummary(d.device);
          live.addEvents(id, d.events, true);
          setEvents([...(live.events.get(id) ?? [])]);
          setError(undefined);
        },
        (err: unknown) => setError(err instanceof ApiError ? `${err.code}: ${err.message}` : String(err)),
      );
    };
    const onChange = (changed: string): void => {
      if (changed !== id) return;
      const t = live.twins.get(id);
      if (t) setTwin(t);
      setSummary(live.devices.get(id));
      setEvents([...(live.events.get(id) ?? [])]);
    };
    const onDevices = (): void => setSummary(live.devices.get(id));
    load();
    live.on('change', onChange);
    live.on('devices', onDevices);
    live.on('resync', load);
    return () => {
      live.off('change', onChange);
      live.off('devices', onDevices);
      live.off('resync', load);
    };
  }, [id]);

  if (error !== undefined && !detail) {
    return (
      <main>
        <p role="alert" class="error">
          {error}
        </p>
        <Link href="/">All devices</Link>
      </main>
    );
  }
  if (!detail || !twin) return <main aria-busy="true">Loading {id}…</main>;
  const props_ = detail.model.schema.properties ?? {};
  const names = [...new Set([...Object.keys(props_), ...Object.keys(twin.twins)])];
  const numeric = Object.entries(props_).filter(([, p]) => p.type === 'number' || p.type === 'integer');
  const d = summary ?? detail.device;
  return (
    <main>
      <nav aria-label="Breadcrumb" class="crumbs">
        <Link href="/">Devices</Link> / <span aria-current="page">{id}</span>
      </nav>
      <h1>
        {id} <StateBadge state={twin.state} />
      </h1>
      <p class="sub">
        model {detail.model.name} · protocol {d.protocol} · last seen {age(d.lastSeen, now)} · version {twin.version}
        {d.mapper && (
          <>
            {' '}
            · mapper {d.mapper.availability}
            {d.mapper.lastPollMs !== undefined ? `, poll ${d.mapper.lastPollMs} ms` : ''}, {d.mapper.timeouts} timeouts, {d.mapper.reconnects} reconnects
          </>
        )}
      </p>
      {d.description !== undefined && <p>{d.description}</p>}
      <section aria-labelledby="twin-heading">
        <h2 id="twin-heading">Twin</h2>
        <table class="twin cards">
          <thead>
            <tr>
              <th scope="col">Property</th>
              <th scope="col">Reported</th>
              <th scope="col">Age</th>
              <th scope="col">Desired</th>
              <th scope="col">Ack</th>
            </tr>
          </thead>
          <tbody>
            {names.map((name) => {
              const t = twin.twins[name];
              const unit = props_[name]?.unit;
              return (
                <tr key={name} data-property={name}>
                  <th scope="row" data-label="Property">
                    {name}
                    {props_[name]?.readOnly && <span class="sub"> read-only</span>}
                  </th>
                  <td data-label="Reported" class="reported">
                    {t?.actual ? `${t.actual.value}${unit ? ` ${unit}` : ''}` : '—'}
                  </td>
                  <td data-label="Age">{age(t?.actual?.timestamp, now)}</td>
                  <td data-label="Desired" class="desired-value">
                    {t?.expected ? `${t.expected.value}${unit ? ` ${unit}` : ''}` : '—'}
                  </td>
                  <td data-label="Ack">
                    <AckCell twin={t} />
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </section>
      {detail.canWrite && writable(detail.model.schema).length > 0 ? (
        <DesiredForm id={id} schema={detail.model.schema} twin={twin} />
      ) : (
        <p class="hint">Read-only: your role may not set desired values of this device.</p>
      )}
      {numeric.length > 0 && (
        <section aria-labelledby="history-heading">
          <h2 id="history-heading">History</h2>
          <div class="ranges" role="group" aria-label="Time range">
            {RANGES.map((r, i) => (
              <button key={r.label} type="button" aria-pressed={range === i} onClick={() => setRange(i)}>
                {r.label}
              </button>
            ))}
          </div>
          <p class="hint">Drag across a chart to zoom; double-click to reset.</p>
          <div class="charts">
            {numeric.map(([name, p]) => {
              const a = twin.twins[name]?.actual;
              const v = a ? Number(a.value) : NaN;
              return <HistoryChart key={`${name}-${range}`} id={id} property={name} {...(p.unit ? { unit: p.unit } : {})} range={range} {...(a && Number.isFinite(v) ? { latest: { t: a.timestamp, v } } : {})} />;
            })}
          </div>
        </section>
      )}
      <section aria-labelledby="events-heading">
        <h2 id="events-heading">Recent events</h2>
        <ol class="events">
          {[...events]
            .sort((a, b) => b.t - a.t)
            .slice(0, 30)
            .map((e, i) => (
              <li key={`${e.t}-${i}`} class={`event event-${e.kind}`}>
                <time>{time(e.t)}</time> <span class="kind">{e.kind}</span> {e.text}
                {e.code !== undefined && (
                  <>
                    {' '}
                    <code>{e.code}</code>
                  </>
                )}
              </li>
            ))}
          {events.length === 0 && <li class="sub">No events since edgetwin started.</li>}
        </ol>
      </section>
    </main>
  );
}
