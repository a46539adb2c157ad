// One model: aliases, versions compared, the selected version's curve, embedding map, lineage
// and files, the evaluations teams reported, and the card (sanitized by the hub).
import { useEffect, useMemo, useState } from 'react';
import { api, fileText, fileUrl, type EvalRow, type Model, type Version } from '../api.js';
import { LineChart, LineageGraph, type LineageNode } from '../charts.js';
import { pct, useLoad } from '../hooks.js';
import { SearchIt } from './SearchIt.js';
import { HistoryTryIt } from './HistoryTryIt.js';
import { TableTryIt } from './TableTryIt.js';
import { TextTryIt } from './TextTryIt.js';
import { TryIt } from './TryIt.js';

export function ModelPage({ team, name }: { team: string; name: string }) {
  const model = useLoad(() => api<Model>('GET', `/api/models/${team}/${name}`), [team, name]);
  const versions = useLoad(() => api<Version[]>('GET', `/api/models/${team}/${name}/versions`), [team, name]);
  const evals = useLoad(() => api<EvalRow[]>('GET', `/api/models/${team}/${name}/evals`), [team, name]);
  const [selected, setSelected] = useState<number | null>(null);
  const m = model.data;
  const vs = versions.data ?? [];
  const v = vs.find((x) => x.seq === (selected ?? m?.latest)) ?? vs[0];
  if (model.error) return <p className="error">{model.error}</p>;
  if (!m) return <p className="muted">Loading…</p>;
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
      {m.cardFront && <pre className="front">{m.cardFront}</pre>}
      {/* cardHtml is the hub's sanitize-html output (packages/hub/src/card.ts); nothing else is inserted as HTML. */}
      <article className="card" dangerouslySetInnerHTML={{ __html: m.cardHtml ?? '' }} />
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
    fetch(fileUrl(model, version, 'embedding-map.svg'), { credentials: 'same-origin' })
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
      {['model.onnx', 'gallery.json'].every((p) => version.files.some((f) => f.path === p)) &&
        (model.modality === 'text' ? (
          <TextTryIt model={model} version={version} />
        ) : model.modality === 'tabular' ? (
          <TableTryIt model={model} version={version} />
        ) : model.modality === 'sequence' ? (
          <HistoryTryIt model={model} version={version} />
        ) : (
          <TryIt model={model} version={version} />
        ))}
      {['text.onnx', 'gallery.json', 'image-text.json'].every((p) => version.files.some((f) => f.path === p)) && (
        <SearchIt model={model} version={version} />
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
