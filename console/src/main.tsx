/**
 * The operator console: a single page that talks to the console's API. It asks who the
 * user is (GET /api/me), asks for credentials when the server answers 401, opens the live
 * stream, and shows the page the URL's hash names.
 */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, errorText, onUnauthorized, signOut } from './api';
import { JobsIndicator } from './components/jobs-indicator';
import { SignIn } from './components/sign-in';
import { loadJobs } from './jobs';
import { live, useConnected } from './live';
import { BatchesPage } from './pages/batches';
import { CommandPage } from './pages/command';
import { CommandsPage } from './pages/commands';
import { LoadPage } from './pages/load';
import { OverviewPage } from './pages/overview';
import { TroubleshootingPage } from './pages/troubleshooting';
import { WorkersPage } from './pages/workers';
import { useRoute, type Route } from './route';
import { SessionContext } from './session';
import type { Me } from './types';
import './styles.css';

const PAGES = [
  ['overview', 'Overview'],
  ['commands', 'Commands'],
  ['troubleshooting', 'Troubleshooting'],
  ['batches', 'Batches'],
  ['load', 'Load generator'],
  ['workers', 'Workers'],
] as const;

function Page({ route }: { route: Route }) {
  const [page, id] = route.parts;
  switch (page) {
    case 'commands':
      return id ? <CommandPage id={id} /> : <CommandsPage params={route.params} />;
    case 'troubleshooting':
      return <TroubleshootingPage params={route.params} />;
    case 'batches':
      return <BatchesPage />;
    case 'load':
      return <LoadPage />;
    case 'workers':
      return <WorkersPage />;
    default:
      return <OverviewPage />;
  }
}

function App() {
  const [me, setMe] = useState<Me | null>(null);
  const [signingIn, setSigningIn] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const route = useRoute();
  const connected = useConnected();

  const signedIn = (who: Me) => {
    setMe(who);
    setSigningIn(false);
    live.start();
    live.restart();
    loadJobs().catch(() => {});
  };

  useEffect(() => {
    const stop = onUnauthorized(() => {
      setMe(null);
      setSigningIn(true);
    });
    api
      .get<Me>('/me')
      .then(signedIn)
      .catch((caught) => {
        // A 401 has already turned the page into the sign-in form.
        if (!(caught instanceof ApiError && caught.status === 401)) setError(errorText(caught));
      });
    return stop;
  }, []);

  useEffect(() => {
    const name = PAGES.find(([path]) => path === route.parts[0])?.[1] ?? 'Overview';
    document.title = `${name} · Dispatchbox console`;
  }, [route]);

  if (signingIn) return <SignIn onSignedIn={signedIn} />;
  if (!me)
    return (
      <main>
        {error ? (
          <p class="error" role="alert">
            {error}
          </p>
        ) : (
          <p class="muted">Loading…</p>
        )}
      </main>
    );

  const current = route.parts[0] ?? 'overview';
  return (
    <SessionContext.Provider value={me}>
      <a
        class="skip"
        href="#main"
        onClick={(e) => (e.preventDefault(), document.getElementById('main')?.focus())}
      >
        Skip to the page
      </a>
      <header class="top">
        <strong class="brand">Dispatchbox</strong>
        <nav aria-label="Pages">
          {PAGES.map(([path, name]) => (
            <a key={path} href={`#/${path}`} aria-current={current === path ? 'page' : undefined}>
              {name}
            </a>
          ))}
        </nav>
        <span class="who">
          <span
            class={connected ? 'live on' : 'live'}
            title={connected ? 'Live updates on' : 'Live updates paused'}
          >
            {connected ? '● live' : '○ paused'}
          </span>{' '}
          {me.user.name} ({me.user.role})
          {me.authRequired && (
            <>
              {' '}
              <button type="button" class="link" onClick={signOut}>
                Sign out
              </button>
            </>
          )}
        </span>
      </header>
      <JobsIndicator />
      <main id="main" tabIndex={-1}>
        <Page route={route} />
      </main>
    </SessionContext.Provider>
  );
}

const root = document.getElementById('app');
if (root) render(<App />, root);
