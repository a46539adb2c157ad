// Federations the signed-in user takes part in (#/f), and one federation's page (#/f/team/name):
// its plan, who is in for the open round, and by round the owner's validation kNN of the global
// encoder and the bytes that moved, each site's training loss, and under DP-SGD (instead of the
// loss) the privacy each site reports it has spent.
import { api } from '../api.js';
import { LineChart } from '../charts.js';
import { pct, useLoad } from '../hooks.js';

interface Round {
  round: number;
  sites: string[];
  examples: number;
  bytesIn: number;
  bytesOut: number;
  closedBy: string;
  seconds: number;
}

export interface Federation {
  team: string;
  name: string;
  status: string;
  sites: string[];
  rounds: number;
  localEpochs: number;
  minSites: number;
  roundTimeoutS: number;
  strategy: { name: string; share: string };
  secureAggregation: { clip: number } | null;
  dp: { noise: number; clip: number; delta: number } | null;
  /** The preprocessing is merged from the sites' summaries (absent from hubs before it). */
  siteSummaries?: { minCount: number } | null;
  summarized?: string[];
  features?: Record<string, unknown> | null;
  privacy: Record<string, Record<string, number>>;
  /** Each site's mean training loss by round (none under DP-SGD, where it would escape the account). */
  losses: Record<string, Record<string, number>>;
  recipe: string;
  round: number;
  submitted: string[];
  history: Round[];
  metrics: Record<string, Record<string, number>>;
}

const mb = (b: number): string => (b / 1e6).toFixed(1);

/** The validation scores `pretext federate watch` records, as the page shows them. */
const SCORES = [
  { key: 'valKnn', label: 'kNN', unit: 'kNN %', scale: 100, show: (v?: number) => pct(v) },
  { key: 'valAuroc', label: 'AUROC', unit: 'AUROC', scale: 1, show: (v?: number) => (v === undefined ? '-' : v.toFixed(3)) },
  { key: 'valAccuracy', label: 'accuracy', unit: 'accuracy %', scale: 100, show: (v?: number) => pct(v) },
] as const;

export function FederationList() {
  const list = useLoad(() => api<Federation[]>('GET', '/api/federations'), []);
  if (list.error) return <p className="error">{list.error}</p>;
  if (!list.data) return <p className="muted">Loading…</p>;
  return (
    <section>
      <h1>Federations</h1>
      {list.data.length === 0 && <p className="muted">You take part in no federation (sign in to see yours).</p>}
      <ul data-testid="federations">
        {list.data.map((f) => (
          <li key={`${f.team}/${f.name}`}>
            <a href={`#/f/${f.team}/${f.name}`}>
              {f.team}/{f.name}
            </a>{' '}
            <span className="muted">
              {f.status}, {f.round} of {f.rounds} rounds, sites {f.sites.join(', ')}
            </span>
          </li>
        ))}
      </ul>
    </section>
  );
}

export function FederationPage({ team, name }: { team: string; name: string }) {
  const fed = useLoad(
    () => api<Federation>('GET', `/api/federations/${encodeURIComponent(team)}/${encodeURIComponent(name)}`),
    [team, name],
  );
  if (fed.error) return <p className="error">{fed.error}</p>;
  const f = fed.data;
  if (!f) return <p className="muted">Loading…</p>;
  // The owner's validation score by round: kNN for images, AUROC or accuracy for tables.
  const measured = Object.values(f.metrics).flatMap((m) => Object.keys(m));
  const metric = SCORES.find((m) => measured.includes(m.key)) ?? SCORES[0]!;
  const curve = Object.entries(f.metrics)
    .filter(([, m]) => typeof m[metric.key] === 'number')
    .map(([r, m]) => [Number(r), metric.scale * m[metric.key]!] as [number, number])
    .sort((a, b) => a[0] - b[0]);
  return (
    <section>
      <h1>
        {f.team}/{f.name}
      </h1>
      <p data-testid="federation-status">
        {f.status}: {f.round} of {f.rounds} rounds done; {f.strategy.name}, sharing {f.strategy.share}; {f.localEpochs} local epoch(s) per
        round; {f.secureAggregation ? `secure aggregation (clip ${f.secureAggregation.clip})` : 'plain updates'};{' '}
        {f.dp ? `record-level DP-SGD at every site (clip ${f.dp.clip}, noise multiplier ${f.dp.noise})` : 'no DP-SGD'}
      </p>
      <p>
        Sites: {f.sites.join(', ')}. A round closes when all are in, or after {f.roundTimeoutS} s with {f.minSites}.
        {f.status === 'running' && ` In for round ${f.round + 1}: ${f.submitted.length ? f.submitted.join(', ') : 'none yet'}.`}
      </p>
      <p data-testid="federation-preprocessing">
        {f.siteSummaries
          ? `Preprocessing merged from the sites' summaries of their rows (no level or extreme seen fewer than ${f.siteSummaries.minCount} times is named); ${
              f.features ? 'fixed' : 'not fixed yet'
            }, summaries in from ${f.summarized?.length ? f.summarized.join(', ') : 'no site yet'}.`
          : "Preprocessing fitted by the owner on its copy of the recipe's data; every site applies it."}
      </p>
      <h2>Validation {metric.label} of the global encoder</h2>
      {curve.length > 0 ? (
        <LineChart lines={[{ name: `validation ${metric.unit}`, points: curve }]} xLabel="round" yLabel={`validation ${metric.unit}`} />
      ) : (
        <p className="muted">No measurements yet: the owner records them with pretext federate watch.</p>
      )}
      <h2>Bytes per round</h2>
      <LineChart
        lines={[
          { name: 'MB in (updates)', points: f.history.map((r) => [r.round, r.bytesIn / 1e6] as [number, number]) },
          { name: 'MB out (global weights)', points: f.history.map((r) => [r.round, r.bytesOut / 1e6] as [number, number]) },
        ]}
        xLabel="round"
        yLabel="MB"
      />
      <table className="board" data-testid="federation-rounds">
        <thead>
          <tr>
            <th>round</th>
            <th>sites</th>
            <th>closed by</th>
            <th>MB in</th>
            <th>MB out</th>
            <th>validation {metric.label}</th>
          </tr>
        </thead>
        <tbody>
          {f.history.map((r) => (
            <tr key={r.round}>
              <td>{r.round}</td>
              <td>{r.sites.join(', ')}</td>
              <td>{r.closedBy}</td>
              <td>{mb(r.bytesIn)}</td>
              <td>{mb(r.bytesOut)}</td>
              <td>{metric.show(f.metrics[String(r.round)]?.[metric.key])}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {f.dp ? (
        <BySite
          f={f}
          figures={f.privacy}
          title={`Privacy spent (epsilon at delta ${f.dp.delta})`}
          yLabel="epsilon"
          column="epsilon so far"
          digits={2}
          empty="No site has reported yet: each reports after training a round."
          testId="federation-privacy"
        />
      ) : (
        <BySite
          f={f}
          figures={f.losses}
          title="Training loss at each site"
          yLabel="mean training loss"
          column="latest training loss"
          digits={3}
          empty="No site has reported a training loss yet: each reports after training a round."
          testId="federation-losses"
        />
      )}
      <h2>Recipe</h2>
      <pre className="recipe">{f.recipe}</pre>
    </section>
  );
}

/**
 * A figure each site reports after each round (epsilon spent, training loss), as a curve per site
 * and as each site's latest value.
 */
function BySite(props: {
  f: Federation;
  figures: Record<string, Record<string, number>>;
  title: string;
  yLabel: string;
  column: string;
  digits: number;
  empty: string;
  testId: string;
}) {
  const { f, figures } = props;
  const rounds = Object.keys(figures)
    .map(Number)
    .sort((a, b) => a - b);
  const points = (site: string): [number, number][] =>
    rounds.filter((r) => figures[String(r)]![site] !== undefined).map((r) => [r, figures[String(r)]![site]!] as [number, number]);
  const lines = f.sites.map((site) => ({ name: site, points: points(site) }));
  return (
    <>
      <h2>{props.title}</h2>
      {rounds.length > 0 ? (
        <LineChart lines={lines.filter((l) => l.points.length > 0)} xLabel="round" yLabel={props.yLabel} />
      ) : (
        <p className="muted">{props.empty}</p>
      )}
      <table className="board" data-testid={props.testId}>
        <thead>
          <tr>
            <th>site</th>
            <th>{props.column}</th>
          </tr>
        </thead>
        <tbody>
          {lines.map((l) => (
            <tr key={l.name}>
              <td>{l.name}</td>
              <td>{l.points.at(-1)?.[1].toFixed(props.digits) ?? '-'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
