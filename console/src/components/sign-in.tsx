/**
 * Asked for when the server answers 401: a token (bearer) or a user and password (basic).
 * The credentials stay in this tab's sessionStorage, never in a cookie.
 */
import { useState } from 'preact/hooks';
import { api, basic, bearer, errorText, signIn } from '../api';
import type { Me } from '../types';

export function SignIn({ onSignedIn }: { onSignedIn: (me: Me) => void }) {
  const [method, setMethod] = useState<'token' | 'password'>('token');
  const [token, setToken] = useState('');
  const [user, setUser] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);

  const submit = async (event: Event) => {
    event.preventDefault();
    setError(null);
    if (method === 'token' && !token.trim()) return setError('Enter the console token.');
    if (method === 'password' && !user.trim()) return setError('Enter your user name.');
    signIn(method === 'token' ? bearer(token) : basic(user.trim(), password));
    try {
      onSignedIn(await api.get<Me>('/me'));
    } catch (caught) {
      setError(errorText(caught));
    }
  };

  return (
    <main class="sign-in">
      <h1>Sign in to the Dispatchbox console</h1>
      <form onSubmit={(e) => void submit(e)}>
        <fieldset>
          <legend>Sign in with</legend>
          <label class="inline">
            <input
              type="radio"
              name="method"
              checked={method === 'token'}
              onChange={() => setMethod('token')}
            />
            a token
          </label>
          <label class="inline">
            <input
              type="radio"
              name="method"
              checked={method === 'password'}
              onChange={() => setMethod('password')}
            />
            a user name and password
          </label>
        </fieldset>
        {method === 'token' ? (
          <label>
            Token
            <input
              type="password"
              name="token"
              autocomplete="off"
              value={token}
              onInput={(e) => setToken(e.currentTarget.value)}
            />
          </label>
        ) : (
          <>
            <label>
              User
              <input
                name="user"
                autocomplete="username"
                value={user}
                onInput={(e) => setUser(e.currentTarget.value)}
              />
            </label>
            <label>
              Password
              <input
                type="password"
                name="password"
                autocomplete="current-password"
                value={password}
                onInput={(e) => setPassword(e.currentTarget.value)}
              />
            </label>
          </>
        )}
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit">Sign in</button>
      </form>
    </main>
  );
}
