// Every device: protocol, state, last seen, open deltas, failed acks, mapper health; filtered
// and searched in the page; live from the WebSocket.

import { useEffect, useMemo, useState } from 'preact/hooks';
import { api } from '../api';
import { live } from '../live';
import type { DeviceSummary } from '../types';
import { age, Link, StateBadge, useNow } from '../ui';

function useDevices(): DeviceSummary[] {
  const [list, setList] = useState<DeviceSummary[]>([...live.devices.values()]);
  useEffect(() => {
    const update = (): void => setList([...live.devices.values()].sort((a, b) => a.id.localeCompare(b.id)));
    const load = (): void => {
      api.devices().then(
        ({ devices }) => {
          for (const d of devices) live.devices.set(d.id, d);
          update();
        },
        () => undefined,
      );
    };
    load();
    live.on('devices', update);
    live.on('resync', load);
    return () => {
      live.off('devices', update);
      live.off('resync', load);
    };
  }, []);
  return list;
}

export function Devices(): preact.JSX.Element {
  const devices = useDevices();
  const now = useNow();
  const [query, setQuery] = useState('');
  const [state, setState] = useState('');
  const [protocol, setProtocol] = useState('');
  const protocols = useMemo(() => [...new Set(devices.map((d) => d.protocol))].sort(), [devices]);
  const states = useMemo(() => [...new Set(devices.map((d) => d.state))].sort(), [devices]);
  const q = query.trim().toLowerCase();
  const shown = devices.filter(
    (d) => (state === '' || d.state === state) && (protocol === '' || d.protocol === protocol) && (q === '' || `${d.id} ${d.model} ${d.description ?? ''}`.toLowerCase().includes(q)),
  );
  return (
    <main>
      <h1>Devices</h1>
      <div class="filters" role="search">
        <label>
          Search
          <input type="search" value={query} onInput={(e) => setQuery(e.currentTarget.value)} placeholder="name, model, description" />
        </label>
        <label>
          State
          <select value={state} onChange={(e) => setState(e.currentTarget.value)}>
            <option value="">all</option>
            {states.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          Protocol
          <select value={protocol} onChange={(e) => setProtocol(e.currentTarget.value)}>
            <option value="">all</option>
            {protocols.map((p) => (
              <option key={p} value={p}>
                {p}
              </option>
            ))}
          </select>
        </label>
      </div>
      <p class="count" aria-live="polite">
        {shown.length} of {devices.length} devices
      </p>
      <table class="cards">
        <thead>
          <tr>
            <th scope="col">Device</th>
            <th scope="col">Protocol</th>
            <th scope="col">State</th>
            <th scope="col">Last seen</th>
            <th scope="col">Open deltas</th>
            <th scope="col">Failed acks</th>
            <th scope="col">Poll latency</th>
            <th scope="col">Timeouts</th>
            <th scope="col">Reconnects</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((d) => (
            <tr key={d.id} data-device={d.id}>
              <th scope="row" data-label="Device">
                <Link href={`/devices/${d.id}`}>{d.id}</Link>
                <span class="sub">{d.model}</span>
              </th>
              <td data-label="Protocol">{d.protocol}</td>
              <td data-label="State">
                <StateBadge state={d.state} />
                {d.mapper && d.mapper.availability !== d.state && <span class="sub">mapper: {d.mapper.availability}</span>}
              </td>
              <td data-label="Last seen">{age(d.lastSeen, now)}</td>
              <td data-label="Open deltas" class={d.openDeltas > 0 ? 'warn' : ''}>
                {d.openDeltas}
              </td>
              <td data-label="Failed acks" class={d.failedAcks > 0 ? 'bad' : ''}>
                {d.failedAcks}
              </td>
              <td data-label="Poll latency">{d.mapper?.lastPollMs !== undefined ? `${d.mapper.lastPollMs} ms` : '—'}</td>
              <td data-label="Timeouts">{d.mapper ? d.mapper.timeouts : '—'}</td>
              <td data-label="Reconnects">{d.mapper ? d.mapper.reconnects : '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {devices.length > 0 && shown.length === 0 && <p>No device matches.</p>}
    </main>
  );
}
