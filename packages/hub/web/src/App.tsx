// The hub's shell: header, sign-in and routing by the URL hash (#/, #/m/team/name,
// #/leaderboards/task, #/f, #/f/team/name, #/admin). The pages live in pages/.
import { useEffect, useState, type FormEvent, type ReactNode } from 'react';
import { session, type Session } from './api.js';
import { useHash } from './hooks.js';
import { Admin } from './pages/Admin.js';
import { FederationList, FederationPage } from './pages/Federations.js';
import { Leaderboards } from './pages/Leaderboards.js';
import { ModelList } from './pages/ModelList.js';
import { ModelPage } from './pages/ModelPage.js';

export function App() {
  const hash = useHash();
  const [who, setWho] = useState<Session | null>(null);
  const [ready, setReady] = useState(false);
  useEffect(() => {
    void session.current().then((s) => {
      setWho(s);
      setReady(true);
    });
  }, []);
  let page: ReactNode;
  const parts = hash.slice(2).split('/').map(decodeURIComponent);
  if (!ready) page = <p className="muted">Loading…</p>;
  else if (parts[0] === 'm' && parts[1] && parts[2]) page = <ModelPage team={parts[1]} name={parts[2]} />;
  else if (parts[0] === 'f' && parts[1] && parts[2]) page = <FederationPage team={parts[1]} name={parts[2]} />;
  else if (parts[0] === 'f') page = <FederationList />;
  else if (parts[0] === 'leaderboards') page = <Leaderboards task={parts[1] ?? null} />;
  else if (parts[0] === 'admin') page = <Admin who={who?.user ?? null} />;
  else page = <ModelList />;
  return (
    <>
      <header>
        <a href="#/" className="brand">
          Pretext hub
        </a>
        <nav>
          <a href="#/">Models</a>
          <a href="#/leaderboards">Leaderboards</a>
          <a href="#/f">Federations</a>
          <a href="#/admin">Teams &amp; tokens</a>
        </nav>
        <SignIn who={who} />
      </header>
      <main key={who?.user ?? ''}>{page}</main>
    </>
  );
}

function SignIn({ who }: { who: Session | null }) {
  const [value, setValue] = useState('');
  const [error, setError] = useState<string | null>(null);
  if (who)
    return (
      <span className="signin">
        signed in as <b data-testid="whoami">{who.user}</b>{' '}
        <button onClick={() => void session.signOut().then(() => location.reload())}>sign out</button>
      </span>
    );
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    try {
      await session.signIn(value.trim());
      setValue('');
      location.reload();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <form className="signin" onSubmit={submit}>
      <input aria-label="API token" placeholder="ptx_... token" value={value} onChange={(e) => setValue(e.target.value)} type="password" />
      <button type="submit">Sign in</button>
      {error && <span className="error">{error}</span>}
    </form>
  );
}
