// Small shared pieces: navigation without reloads, a clock for "3 s ago", formatting.

import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';

type PathListener = (path: string) => void;
const pathListeners = new Set<PathListener>();

export function navigate(to: string): void {
  if (to === location.pathname) return;
  history.pushState(null, '', to);
  for (const l of pathListeners) l(to);
}

export function usePath(): string {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const onPop = (): void => setPath(location.pathname);
    pathListeners.add(setPath);
    window.addEventListener('popstate', onPop);
    return () => {
      pathListeners.delete(setPath);
      window.removeEventListener('popstate', onPop);
    };
  }, []);
  return path;
}

export function Link(props: { href: string; children: ComponentChildren; class?: string; 'aria-current'?: 'page' | undefined }): preact.JSX.Element {
  return (
    <a
      href={props.href}
      class={props.class}
      aria-current={props['aria-current']}
      onClick={(e) => {
        if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
        e.preventDefault();
        navigate(props.href);
      }}
    >
      {props.children}
    </a>
  );
}

/** Re-renders every second, for ages ("5 s ago"); no network involved. */
export function useNow(): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);
  return now;
}

export function age(t: number | undefined, now: number): string {
  if (t === undefined) return 'never';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

export function StateBadge(props: { state: string }): preact.JSX.Element {
  return <span class={`badge state-${props.state}`}>{props.state}</span>;
}

export function time(t: number): string {
  return new Date(t).toLocaleTimeString();
}
