// A history chart per numeric property (uPlot): reported values from the history API, ranges
// 1 h / 24 h / 7 d, drag to zoom (double-click resets), new values appended live.

import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError } from './api';

export const RANGES = [
  { label: '1 h', since: '1h', step: '10s' },
  { label: '24 h', since: '24h', step: '2m' },
  { label: '7 d', since: '7d', step: '15m' },
] as const;

function rangeSeconds(since: string): number {
  const n = Number(since.slice(0, -1));
  return since.endsWith('d') ? n * 86400 : n * 3600;
}

export function HistoryChart(props: { id: string; property: string; unit?: string; range: number; latest?: { t: number; v: number } }): preact.JSX.Element {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | undefined>(undefined);
  const data = useRef<[number[], number[]]>([[], []]);
  const [note, setNote] = useState<string | undefined>('loading…');

  useEffect(() => {
    let cancelled = false;
    const range = RANGES[props.range] ?? RANGES[0];
    api.history(props.id, props.property, range.since, range.step).then(
      ({ series }) => {
        if (cancelled || !box.current) return;
        const s = series[0];
        const xs: number[] = [];
        const ys: number[] = [];
        if (s) {
          const vals = s.mean ?? s.value ?? [];
          s.t.forEach((t, i) => {
            const v = vals[i];
            if (typeof v === 'number') {
              xs.push(t / 1000);
              ys.push(v);
            }
          });
        }
        data.current = [xs, ys];
        setNote(xs.length === 0 ? 'no values in this range yet' : undefined);
        plot.current?.destroy();
        const width = Math.max(260, box.current.clientWidth);
        // A canvas does not follow CSS colours: the theme's are read once, at creation.
        const css = getComputedStyle(document.documentElement);
        const fg = css.getPropertyValue('--muted').trim() || '#475569';
        const accent = css.getPropertyValue('--accent').trim() || '#0d9488';
        plot.current = new uPlot(
          {
            width,
            height: 180,
            cursor: { drag: { x: true, y: false } },
            // Fewer than two points: show the whole range asked, not uPlot's guess around one.
            scales: { x: { time: true, range: (_u, min, max) => (xs.length < 2 ? [Date.now() / 1000 - rangeSeconds(range.since), Date.now() / 1000] : [min, max]) } },
            axes: [{ stroke: fg, grid: { stroke: 'rgba(127,127,127,0.2)' } }, { stroke: fg, grid: { stroke: 'rgba(127,127,127,0.2)' }, label: props.unit ?? '' }],
            series: [{}, { label: props.property, stroke: accent, width: 2, points: { show: false } }],
          },
          data.current,
          box.current,
        );
      },
      (err: unknown) => !cancelled && setNote(err instanceof ApiError ? `${err.code}: ${err.message}` : String(err)),
    );
    return () => {
      cancelled = true;
      plot.current?.destroy();
      plot.current = undefined;
    };
  }, [props.id, props.property, props.range]);

  useEffect(() => {
    const p = plot.current;
    const l = props.latest;
    if (!p || !l) return;
    const [xs, ys] = data.current;
    const t = l.t / 1000;
    if (xs.length > 0 && t <= xs[xs.length - 1]!) return;
    xs.push(t);
    ys.push(l.v);
    if (note !== undefined) setNote(undefined);
    p.setData([xs, ys], true);
  }, [props.latest?.t]);

  useEffect(() => {
    const el = box.current;
    if (!el || typeof ResizeObserver === 'undefined') return;
    const ro = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(260, el.clientWidth), height: 180 }));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  return (
    <figure class="chart">
      <figcaption>
        {props.property}
        {props.unit ? ` (${props.unit})` : ''}
      </figcaption>
      <div ref={box} class="plot" aria-hidden="true" />
      {note !== undefined && <p class="hint">{note}</p>}
    </figure>
  );
}
