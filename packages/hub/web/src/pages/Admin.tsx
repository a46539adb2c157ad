// Teams, members and the signed-in user's API tokens.
import { useState, type FormEvent } from 'react';
import { api } from '../api.js';
import { useLoad } from '../hooks.js';

export function Admin({ who }: { who: string | null }) {
  const teams = useLoad(
    () => api<{ name: string; role: string | null; members?: { user: string; role: string }[] }[]>('GET', '/api/teams'),
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
              <td>
                {t.members ? (
                  t.members.map((m) => `${m.user} (${m.role})`).join(', ')
                ) : (
                  <span className="muted">members visible to members</span>
                )}
              </td>
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
