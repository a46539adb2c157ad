// Task leaderboards: readable versions ranked by the results teams reported.
import { api, type BoardRow } from '../api.js';
import { pct, useLoad } from '../hooks.js';

export function Leaderboards({ task }: { task: string | null }) {
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
