// The edgetwin console: log in, then the devices, one device, and the node, live over one
// WebSocket. Served by `edgetwin run` from this package (edgecore/http/static.ts).

import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, setCsrf } from './api';
import { live, type LinkState } from './live';
import { Device } from './pages/device';
import { Devices } from './pages/devices';
import { Login } from './pages/login';
import { Node } from './pages/node';
import type { Session } from './types';
import { Link, navigate, usePath } from './ui';
import './style.css';

type Theme = 'light' | 'dark';

function initialTheme(): Theme {
  const saved = localStorage.getItem('edgetwin-theme');
  if (saved === 'light' || saved === 'dark') return saved;
  return matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

function App(): preact.JSX.Element {
  const [session, setSession] = useState<Session | undefined>();
  const [link, setLink] = useState<LinkState>(live.link);
  const [theme, setTheme] = useState<Theme>(initialTheme);
  const path = usePath();

  useEffect(() => {
    document.documentElement.dataset.theme = theme;
  }, [theme]);

  useEffect(() => {
    api.session().then(setSession, () => setSession({ authenticated: false }));
    live.sessionValid = () => api.session().then((s) => s.authenticated);
    const onExpired = (): void => setSession({ authenticated: false });
    live.on('link', setLink);
    live.on('expired', onExpired);
    return () => {
      live.off('link', setLink);
      live.off('expired', onExpired);
    };
  }, []);

  useEffect(() => {
    setCsrf(session?.csrf);
    if (session?.authenticated) live.start();
    else live.stop();
  }, [session]);

  if (!session) return <main aria-busy="true">Loading…</main>;
  if (!session.authenticated) return <Login anonymous={session.anonymous === true} onLogin={setSession} />;

  const m = /^\/devices\/([^/]+)\/([^/]+)$/.exec(path);
  const page = m ? <Device id={`${decodeURIComponent(m[1]!)}/${decodeURIComponent(m[2]!)}`} /> : path === '/node' ? <Node /> : <Devices />;
  return (
    <>
      <a class="skip" href="#content">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">edgetwin</span>
        <nav aria-label="Main">
          <Link href="/" aria-current={path === '/' || m ? 'page' : undefined}>
            Devices
          </Link>
          <Link href="/node" aria-current={path === '/node' ? 'page' : undefined}>
            Node
          </Link>
        </nav>
        <span class={`link link-${link}`} role="status" data-link={link}>
          {link === 'live' ? 'live' : link === 'connecting' ? 'connecting…' : 'reconnecting…'}
        </span>
        <span class="who">
          {session.user ?? 'anonymous'} ({session.role})
        </span>
        <button type="button" class="secondary" aria-pressed={theme === 'dark'} onClick={() => {
          const next = theme === 'dark' ? 'light' : 'dark';
          localStorage.setItem('edgetwin-theme', next);
          setTheme(next);
        }}>
          Dark theme
        </button>
        <button
          type="button"
          class="secondary"
          onClick={() => {
            void api.logout().catch(() => undefined).finally(() => {
              live.stop();
              setSession({ authenticated: false, anonymous: session.anonymous === true });
              navigate('/');
              void api.session().then(setSession);
            });
          }}
        >
          Log out
        </button>
      </header>
      <div id="content">{page}</div>
    </>
  );
}

render(<App />, document.getElementById('app')!);
