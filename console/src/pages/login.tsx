// The login form: a user of the broker's users file, or anonymous when this machine may.

import { useState } from 'preact/hooks';
import { api, ApiError } from '../api';
import type { Session } from '../types';

export function Login(props: { anonymous: boolean; onLogin: (s: Session) => void }): preact.JSX.Element {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const submit = async (user: string, pass: string): Promise<void> => {
    setBusy(true);
    setError(undefined);
    try {
      props.onLogin(await api.login(user, pass));
    } catch (err) {
      setError(err instanceof ApiError ? `${err.message} (${err.code})` : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="login">
      <h1>edgetwin console</h1>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void submit(username, password);
        }}
      >
        <label for="login-user">User name</label>
        <input id="login-user" name="username" autocomplete="username" value={username} onInput={(e) => setUsername(e.currentTarget.value)} required />
        <label for="login-password">Password</label>
        <input id="login-password" name="password" type="password" autocomplete="current-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} required />
        <button type="submit" disabled={busy}>
          Log in
        </button>
        {props.anonymous && (
          <button type="button" class="secondary" disabled={busy} onClick={() => void submit('', '')}>
            Continue without a password (this machine)
          </button>
        )}
        {error !== undefined && (
          <p role="alert" class="error">
            {error}
          </p>
        )}
      </form>
      <p class="hint">Users are those of the broker's users file (edgetwin user add); mapper accounts cannot log in.</p>
    </main>
  );
}
