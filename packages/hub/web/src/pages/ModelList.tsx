// The model list: search and filters over every model the viewer may read.
import { useState } from 'react';
import { api, type Model } from '../api.js';
import { useLoad } from '../hooks.js';

export function ModelList() {
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
