// The node: broker and its clients, the store, cloud sync and its outbox, push sinks and their
// queues, DMI mappers, the edgetwin version; links to /metrics and the health probes.

import { useEffect, useState } from 'preact/hooks';
import { api, ApiError } from '../api';
import { live } from '../live';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function Value(props: { v: Json }): preact.JSX.Element {
  const { v } = props;
  if (v === null) return <span class="sub">—</span>;
  if (Array.isArray(v)) {
    if (v.length === 0) return <span class="sub">none</span>;
    return (
      <ul class="plain">
        {v.map((x, i) => (
          <li key={i}>
            <Value v={x} />
          </li>
        ))}
      </ul>
    );
  }
  if (typeof v === 'object') return <KeyValues obj={v} />;
  return <span>{String(v)}</span>;
}

function KeyValues(props: { obj: { [k: string]: Json } }): preact.JSX.Element {
  return (
    <dl class="kv">
      {Object.entries(props.obj).map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>
            <Value v={v} />
          </dd>
        </div>
      ))}
    </dl>
  );
}

function Panel(props: { title: string; value: Json | undefined; empty?: string }): preact.JSX.Element {
  const id = `panel-${props.title.replace(/\W+/g, '-').toLowerCase()}`;
  const v = props.value;
  const empty = v === undefined || v === null || (Array.isArray(v) && v.length === 0);
  return (
    <section class="panel" aria-labelledby={id}>
      <h2 id={id}>{props.title}</h2>
      {empty ? <p class="sub">{props.empty ?? 'off'}</p> : <Value v={v} />}
    </section>
  );
}

function Readiness(props: { value: Json | undefined }): preact.JSX.Element {
  const r = (props.value ?? {}) as { ready?: boolean; checks?: Record<string, { ok: boolean; detail: string }> };
  return (
    <section class="panel" aria-labelledby="panel-readiness">
      <h2 id="panel-readiness">Readiness: {r.ready ? 'ready' : 'not ready'}</h2>
      <ul class="plain checks">
        {Object.entries(r.checks ?? {}).map(([name, c]) => (
          <li key={name} class={c.ok ? 'ok' : 'error'}>
            {c.ok ? '✓' : '✗'} {name}: <span class="sub">{c.detail}</span>
          </li>
        ))}
      </ul>
    </section>
  );
}

export function Node(): preact.JSX.Element {
  const [node, setNode] = useState<Record<string, Json> | undefined>();
  const [error, setError] = useState<string | undefined>();
  useEffect(() => {
    const load = (): void => {
      api.node().then(
        (n) => setNode(n as Record<string, Json>),
        (err: unknown) => setError(err instanceof ApiError ? `${err.code}: ${err.message}` : String(err)),
      );
    };
    load();
    // The node's figures change slowly; they are read again when the device summaries arrive
    // (every few seconds over the WebSocket), not on a timer of the page's own.
    let last = Date.now();
    const onDevices = (): void => {
      if (Date.now() - last < 5000) return;
      last = Date.now();
      load();
    };
    live.on('devices', onDevices);
    live.on('resync', load);
    return () => {
      live.off('devices', onDevices);
      live.off('resync', load);
    };
  }, []);
  if (!node) return <main aria-busy="true">{error ?? 'Loading…'}</main>;
  const links = (node.links ?? {}) as Record<string, string>;
  return (
    <main>
      <h1>Node {node.nodeName as string}</h1>
      <p class="sub">
        edgetwin {node.version as string} ·{' '}
        {Object.entries(links).map(([name, href]) => (
          <span key={name}>
            <a href={href}>{href}</a>{' '}
          </span>
        ))}
      </p>
      <div class="panels">
        <Panel title="Broker" value={node.broker} empty="external broker (no embedded one)" />
        <Panel title="Store" value={node.store} />
        <Panel title="Cloud sync" value={node.cloudSync} />
        <Panel title="Push sinks" value={node.sinks} empty="No push sinks configured." />
        <Panel title="DMI mappers" value={node.dmi} empty="DMI is off (dmi.socket)." />
        <Readiness value={node.readiness} />
      </div>
    </main>
  );
}
