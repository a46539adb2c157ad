// The hub's pages: models (search, filters), a model (card, versions compared, aliases,
// evaluations, training curve, embedding map, lineage), leaderboards, and teams/tokens.
// Routing is the URL hash: #/, #/m/team/name, #/leaderboards/task, #/admin.
import { useEffect, useMemo, useState, type FormEvent, type ReactNode } from 'react';
import { Marked } from 'marked';
import { api, ApiError, fileText, fileUrl, token, type BoardRow, type EvalRow, type Model, type Version } from './api.js';
import { LineChart, LineageGraph, type LineageNode } from './charts.js';

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
// Cards are written by users: raw HTML is shown as text and only http(s) links survive.
const markdown = new Marked({
  renderer: {
    html: (t) => esc(t.text),
    link: ({ href, text }) => (/^https?:\/\//.test(href) ? `<a href="${esc(href)}" rel="noopener noreferrer">${esc(text)}</a>` : esc(text)),
    image: ({ text }) => esc(text),
  },
});

function useHash(): string {
  const [hash, setHash] = useState(location.hash || '#/');
  useEffect(() => {
    const on = (): void => setHash(location.hash || '#/');
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

function useLoad<T>(fn: () => Promise<T>, deps: unknown[]): { data: T | null; error: string | null; reload: () => void } {
  const [state, setState] = useState<{ data: T | null; error: string | null }>({ data: null, error: null });
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    fn().then(
      (data) => live && setState({ data, error: null }),
      (e: Error) =>
        live &&
        setState({ data: null, error: e instanceof ApiError && e.status === 404 ? 'Not found (or not visible to you).' : e.message }),
    );
    return () => {
      live = false;
    };
  }, [...deps, n]);
  return { ...state, reload: () => setN((x) => x + 1) };
}

const pct = (v: unknown): string => (typeof v === 'number' ? `${(100 * v).toFixed(2)}%` : '-');

export function App() {
  const hash = useHash();
  const [who, setWho] = useState<string | null>(null);
  useEffect(() => {
    if (token.get())
      api<{ user: string }>('GET', '/api/whoami').then(
        (w) => setWho(w.user),
        () => setWho(null),
      );
  }, []);
  let page: ReactNode;
  const parts = hash.slice(2).split('/').map(decodeURIComponent);
  if (parts[0] === 'm' && parts[1] && parts[2]) page = <ModelPage team={parts[1]} name={parts[2]} />;
  else if (parts[0] === 'leaderboards') page = <Leaderboards task={parts[1] ?? null} />;
  else if (parts[0] === 'admin') page = <Admin who={who} />;
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
          <a href="#/admin">Teams &amp; tokens</a>
        </nav>
        <SignIn who={who} onChange={setWho} />
      </header>
      <main>{page}</main>
    </>
  );
}

function SignIn({ who, onChange }: { who: string | null; onChange: (w: string | null) => void }) {
  const [value, setValue] = useState('');
  const [error, setError] = useState<string | null>(null);
  if (who)
    return (
      <span className="signin">
        signed in as <b data-testid="whoami">{who}</b>{' '}
        <button
          onClick={() => {
            token.set(null);
            onChange(null);
            location.reload();
          }}
        >
          sign out
        </button>
      </span>
    );
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    token.set(value.trim());
    try {
      onChange((await api<{ user: string }>('GET', '/api/whoami')).user);
      location.reload();
    } catch (err) {
      token.set(null);
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

function ModelList() {
  const [q, setQ] = useState('');
  const [filters, setFilters] = useState({ team: '', tag: '', method: '', modality: '' });
  const query = new URLSearchParams(Object.entries({ q, ...filters }).filter(([, v]) => v)).toString();
  const { data, error } = useLoad(() => api<Model[]>('GET', `/api/models${query ? `?${query}` : ''}`), [query]);
  const all = useLoad(() => api<Model[]>('GET', '/api/models'), []);
  const options = (key: 'team' | 'method' | 'modality'): string[] =>
    [...new Set((all.data ?? []).map((m) => m[key]).filter((v): v is string => !!v))].sort();
  const tags = [...new Set((all.data ?? []).flatMap((m) => m.tags))].sort();
  const select = (key: keyof typeof filters, values: string[]) => (
    <label>
      {key}{' '}
      <select aria-label={`filter by ${key}`} value={filters[key]} onChange={(e) => setFilters({ ...filters, [key]: e.target.value })}>
        <option value="">any</option>
        {values.map((v) => (
          <option key={v}>{v}</option>
        ))}
      </select>
    </label>
  );
  return (
    <section>
      <h1>Encoders</h1>
      <div className="filters">
        <input aria-label="search" placeholder="Search models, cards, tags" value={q} onChange={(e) => setQ(e.target.value)} />
        {select('team', options('team'))}
        {select('tag', tags)}
        {select('method', options('method'))}
        {select('modality', options('modality'))}
      </div>
      {error && <p className="error">{error}</p>}
      <table className="models">
        <thead>
          <tr>
            <th>model</th>
            <th>latest</th>
            <th>method</th>
            <th>visibility</th>
            <th>tags</th>
            <th>updated</th>
          </tr>
        </thead>
        <tbody>
          {(data ?? []).map((m) => (
            <tr key={m.id}>
              <td>
                <a href={`#/m/${m.team}/${m.name}`}>
                  {m.team}/{m.name}
                </a>
              </td>
              <td>{m.latest ? `v${m.latest}` : '-'}</td>
              <td>{m.method ?? '-'}</td>
              <td>{m.visibility}</td>
              <td>{m.tags.join(', ')}</td>
              <td>{m.updatedAt.slice(0, 10)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {data && data.length === 0 && <p className="muted">No models match.</p>}
    </section>
  );
}

function splitCard(card: string): { front: string | null; body: string } {
  const m = /^---\n([\s\S]*?)\n---\n?/.exec(card);
  return m ? { front: m[1]!, body: card.slice(m[0].length) } : { front: null, body: card };
}

function ModelPage({ team, name }: { team: string; name: string }) {
  const model = useLoad(() => api<Model>('GET', `/api/models/${team}/${name}`), [team, name]);
  const versions = useLoad(() => api<Version[]>('GET', `/api/models/${team}/${name}/versions`), [team, name]);
  const evals = useLoad(() => api<EvalRow[]>('GET', `/api/models/${team}/${name}/evals`), [team, name]);
  const [selected, setSelected] = useState<number | null>(null);
  const m = model.data;
  const vs = versions.data ?? [];
  const v = vs.find((x) => x.seq === (selected ?? m?.latest)) ?? vs[0];
  if (model.error) return <p className="error">{model.error}</p>;
  if (!m) return <p className="muted">Loading…</p>;
  const card = splitCard(m.card);
  const metricKeys = [...new Set(vs.flatMap((x) => Object.keys(x.metrics)))].filter((k) => typeof vs[0]?.metrics[k] === 'number').sort();
  return (
    <section>
      <h1>
        {m.team}/{m.name} <span className={`badge ${m.visibility}`}>{m.visibility}</span>
      </h1>
      <p>
        {m.method && <span className="chip">{m.method}</span>}
        {m.modality && <span className="chip">{m.modality}</span>}
        {m.tags.map((t) => (
          <span className="chip" key={t}>
            #{t}
          </span>
        ))}
      </p>
      <h2>Aliases</h2>
      <p data-testid="aliases">
        {Object.entries(m.aliases).map(([a, s]) => (
          <span className="chip alias" key={a}>
            {a} → v{s}
          </span>
        ))}
      </p>
      <h2>Versions</h2>
      <table className="versions" data-testid="versions">
        <thead>
          <tr>
            <th>version</th>
            <th>digest</th>
            <th>created</th>
            <th>by</th>
            {metricKeys.map((k) => (
              <th key={k}>{k}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {vs.map((x, i) => {
            const prev = vs[i + 1];
            return (
              <tr key={x.seq} className={x.seq === v?.seq ? 'selected' : ''} onClick={() => setSelected(x.seq)}>
                <td>v{x.seq}</td>
                <td>
                  <code>{x.digest.slice(0, 12)}</code>
                </td>
                <td>{x.createdAt.slice(0, 16).replace('T', ' ')}</td>
                <td>{x.createdBy}</td>
                {metricKeys.map((k) => {
                  const val = x.metrics[k] as number | undefined;
                  const before = prev?.metrics[k] as number | undefined;
                  const delta = val !== undefined && before !== undefined ? val - before : null;
                  const isRate = val !== undefined && val <= 1 && k !== 'trainSteps';
                  return (
                    <td key={k}>
                      {val === undefined ? '-' : isRate ? pct(val) : Number(val.toFixed(1))}
                      {delta !== null && delta !== 0 && isRate && (
                        <span className={delta > 0 ? 'up' : 'down'}>
                          {' '}
                          ({delta > 0 ? '+' : ''}
                          {(100 * delta).toFixed(2)})
                        </span>
                      )}
                    </td>
                  );
                })}
              </tr>
            );
          })}
        </tbody>
      </table>
      {v && <VersionDetail model={m} version={v} />}
      <h2>Evaluations reported by teams</h2>
      {(evals.data ?? []).length === 0 ? (
        <p className="muted">
          None yet. Report one with pretext eval --encoder {m.team}/{m.name} --push.
        </p>
      ) : (
        <table data-testid="evals">
          <thead>
            <tr>
              <th>version</th>
              <th>task</th>
              <th>metric</th>
              <th>value</th>
              <th>labels</th>
              <th>protocol</th>
              <th>by</th>
            </tr>
          </thead>
          <tbody>
            {(evals.data ?? []).map((e, i) => (
              <tr key={i}>
                <td>v{e.version}</td>
                <td>
                  <a href={`#/leaderboards/${encodeURIComponent(e.task)}`}>{e.task}</a>
                </td>
                <td>{e.metric}</td>
                <td>{pct(e.value)}</td>
                <td>{e.labelBudget}</td>
                <td>{e.protocol}</td>
                <td>{e.by}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h2>Model card</h2>
      {card.front && <pre className="front">{card.front}</pre>}
      <article className="card" dangerouslySetInnerHTML={{ __html: markdown.parse(card.body) as string }} />
    </section>
  );
}

function VersionDetail({ model, version }: { model: Model; version: Version }) {
  const curve = useLoad(async () => {
    const text = await fileText(model, version, 'metrics.jsonl');
    if (!text) return null;
    const rows = text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, number>)
      .filter((r) => typeof r.loss === 'number' && typeof r.step === 'number' && r.final === undefined && r.samples_per_s === undefined);
    return rows.map((r) => [r.step, r.loss] as [number, number]);
  }, [model.id, version.seq]);
  const [mapUrl, setMapUrl] = useState<string | null>(null);
  useEffect(() => {
    setMapUrl(null);
    if (!version.files.some((f) => f.path === 'embedding-map.svg')) return;
    let url: string | null = null;
    const t = token.get();
    fetch(fileUrl(model, version, 'embedding-map.svg'), { headers: t ? { authorization: `Bearer ${t}` } : {} })
      .then((r) => r.blob())
      .then((b) => {
        // Shown through <img>: an SVG there cannot run scripts.
        url = URL.createObjectURL(new Blob([b], { type: 'image/svg+xml' }));
        setMapUrl(url);
      })
      .catch(() => undefined);
    return () => {
      if (url) URL.revokeObjectURL(url);
    };
  }, [model, version]);
  const lineage = useMemo(() => {
    const l = version.lineage as Record<string, string | undefined>;
    const sources: LineageNode[] = [];
    if (l.dataFingerprint) sources.push({ id: 'data', label: `data: ${l.dataset ?? '?'}`, detail: l.dataFingerprint });
    if (l.baseModel) sources.push({ id: 'base', label: `base: ${l.baseModel}` });
    const middle: LineageNode[] = [{ id: 'run', label: `run: ${l.parentRun ?? '?'}`, detail: `${l.method ?? ''} · ${l.recipe ?? ''}` }];
    const target: LineageNode[] = [{ id: 'v', label: `${model.team}/${model.name} v${version.seq}`, detail: l.codeVersion }];
    return {
      columns: [sources, middle, target].filter((c) => c.length > 0),
      edges: [...sources.map((s) => [s.id, 'run'] as [string, string]), ['run', 'v'] as [string, string]],
    };
  }, [model, version]);
  return (
    <div className="detail">
      <h2>v{version.seq}: training curve</h2>
      {curve.data ? (
        <LineChart lines={[{ name: 'loss', points: curve.data }]} xLabel="step" yLabel="loss" />
      ) : (
        <p className="muted">No metrics.jsonl in this version.</p>
      )}
      <h2>Embedding map</h2>
      {mapUrl ? (
        <img className="map" src={mapUrl} alt="embedding map" />
      ) : (
        <p className="muted">No embedding map in this version (pretext diagnose draws one).</p>
      )}
      <h2>Lineage</h2>
      <LineageGraph columns={lineage.columns} edges={lineage.edges} />
      <h2>Files</h2>
      <ul className="files">
        {version.files.map((f) => (
          <li key={f.path}>
            <code>{f.path}</code>{' '}
            <span className="muted">
              {(f.size / 1024).toFixed(1)} KiB · sha256 {f.sha256.slice(0, 12)}
            </span>
          </li>
        ))}
      </ul>
    </div>
  );
}

function Leaderboards({ task }: { task: string | null }) {
  const tasks = useLoad(() => api<{ task: string; entries: number }[]>('GET', '/api/tasks'), []);
  const board = useLoad(
    () => (task ? api<BoardRow[]>('GET', `/api/leaderboards/${encodeURIComponent(task)}`) : Promise.resolve([])),
    [task],
  );
  const metrics = [...new Set((board.data ?? []).map((r) => r.metric))];
  return (
    <section>
      <h1>Leaderboards</h1>
      <p>
        {(tasks.data ?? []).map((t) => (
          <a key={t.task} className={`chip ${t.task === task ? 'selected' : ''}`} href={`#/leaderboards/${encodeURIComponent(t.task)}`}>
            {t.task} ({t.entries})
          </a>
        ))}
      </p>
      {task &&
        metrics.map((metric) => (
          <div key={metric}>
            <h2>
              {task}: {metric}
            </h2>
            <table className="board" data-testid={`board-${metric}`}>
              <thead>
                <tr>
                  <th>#</th>
                  <th>encoder</th>
                  <th>value</th>
                  <th>labels</th>
                  <th>protocol</th>
                  <th>reported by</th>
                </tr>
              </thead>
              <tbody>
                {(board.data ?? [])
                  .filter((r) => r.metric === metric)
                  .map((r, i) => (
                    <tr key={`${r.team}/${r.model}@${r.version}/${r.labelBudget}`}>
                      <td>{i + 1}</td>
                      <td>
                        <a href={`#/m/${r.team}/${r.model}`}>
                          {r.team}/{r.model} v{r.version}
                        </a>
                      </td>
                      <td>{pct(r.value)}</td>
                      <td>{r.labelBudget}</td>
                      <td>{r.protocol}</td>
                      <td>{r.by}</td>
                    </tr>
                  ))}
              </tbody>
            </table>
          </div>
        ))}
    </section>
  );
}

function Admin({ who }: { who: string | null }) {
  const teams = useLoad(
    () => api<{ name: string; role: string | null; members: { user: string; role: string }[] }[]>('GET', '/api/teams'),
    [who],
  );
  const tokens = useLoad(
    () =>
      api<{ id: number; name: string; prefix: string; scope: string; expiresAt: string | null; revokedAt: string | null }[]>(
        'GET',
        '/api/tokens',
      ),
    [who],
  );
  const [message, setMessage] = useState<string | null>(null);
  const [created, setCreated] = useState<string | null>(null);
  const act = (fn: () => Promise<unknown>, ok: string) => async (e: FormEvent) => {
    e.preventDefault();
    try {
      await fn();
      setMessage(ok);
      teams.reload();
      tokens.reload();
    } catch (err) {
      setMessage((err as Error).message);
    }
  };
  const [team, setTeam] = useState('');
  const [member, setMember] = useState({ team: '', user: '', role: 'member' });
  const [tok, setTok] = useState({ name: '', scope: 'read', days: '' });
  if (!who) return <p className="muted">Sign in with a token to manage teams and tokens.</p>;
  return (
    <section>
      <h1>Teams &amp; tokens</h1>
      {message && <p className="message">{message}</p>}
      <h2>Teams</h2>
      <table data-testid="teams">
        <tbody>
          {(teams.data ?? []).map((t) => (
            <tr key={t.name}>
              <td>{t.name}</td>
              <td>{t.role ?? '-'}</td>
              <td>{t.members.map((m) => `${m.user} (${m.role})`).join(', ')}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <form onSubmit={act(() => api('POST', '/api/teams', { name: team }), `team ${team} created`)}>
        <input aria-label="new team" placeholder="team name" value={team} onChange={(e) => setTeam(e.target.value)} />
        <button type="submit">Create team</button>
      </form>
      <form
        onSubmit={act(
          () => api('PUT', `/api/teams/${member.team}/members/${member.user}`, { role: member.role }),
          `${member.user} added to ${member.team}`,
        )}
      >
        <input
          aria-label="member team"
          placeholder="team"
          value={member.team}
          onChange={(e) => setMember({ ...member, team: e.target.value })}
        />
        <input
          aria-label="member user"
          placeholder="user"
          value={member.user}
          onChange={(e) => setMember({ ...member, user: e.target.value })}
        />
        <select aria-label="member role" value={member.role} onChange={(e) => setMember({ ...member, role: e.target.value })}>
          <option>member</option>
          <option>admin</option>
        </select>
        <button type="submit">Add member</button>
      </form>
      <h2>Your tokens</h2>
      {created && (
        <p className="message" data-testid="new-token">
          New token (shown once): <code>{created}</code>
        </p>
      )}
      <table data-testid="tokens">
        <tbody>
          {(tokens.data ?? []).map((t) => (
            <tr key={t.id}>
              <td>{t.name}</td>
              <td>
                <code>{t.prefix}…</code>
              </td>
              <td>{t.scope}</td>
              <td>{t.revokedAt ? 'revoked' : t.expiresAt ? `expires ${t.expiresAt.slice(0, 10)}` : 'no expiry'}</td>
              <td>
                {!t.revokedAt && (
                  <button onClick={act(() => api('DELETE', `/api/tokens/${t.id}`), `token ${t.name} revoked`)}>Revoke</button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form
        onSubmit={act(async () => {
          const r = await api<{ token: string }>('POST', '/api/tokens', {
            name: tok.name,
            scope: tok.scope,
            ...(tok.days ? { expiresInDays: Number(tok.days) } : {}),
          });
          setCreated(r.token);
        }, 'token created')}
      >
        <input
          aria-label="token name"
          placeholder="token name"
          value={tok.name}
          onChange={(e) => setTok({ ...tok, name: e.target.value })}
        />
        <select aria-label="token scope" value={tok.scope} onChange={(e) => setTok({ ...tok, scope: e.target.value })}>
          <option>read</option>
          <option>write</option>
          <option>admin</option>
        </select>
        <input
          aria-label="token days"
          placeholder="expires in days"
          value={tok.days}
          onChange={(e) => setTok({ ...tok, days: e.target.value })}
        />
        <button type="submit">Create token</button>
      </form>
    </section>
  );
}
