import { useState, type FormEvent } from 'react';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { chunkingText, del, get, post, type Deployment, type Model, type Node, type Worker } from '../lib/api';
import { errorText } from '../lib/errors';
import { num, shortId, when } from '../lib/format';
import { usePoll } from '../lib/hooks';
import { Card, ErrorBox, StateBadge } from '../components';

/** Layers each stage holds as [first, last] (inclusive), from the layers-per-stage counts. */
export function layerRanges(layersPerStage: number[]): [number, number][] {
  let first = 0;
  return layersPerStage.map((n) => {
    const r: [number, number] = [first, first + n - 1];
    first += n;
    return r;
  });
}

export function DeploymentsPage() {
  const deployments = usePoll(() => get<Deployment[]>('/api/v1/deployments'), 3000);
  const models = usePoll(() => get<Model[]>('/api/v1/models'), 0);
  const modelName = new Map((models.data ?? []).map((m) => [m.id, m.name]));
  const [form, setForm] = useState({ name: '', model: '', pp: 1, tp: 1, chunkSize: 512, maxTokens: 8192, chunking: 'fixed' });
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const navigate = useNavigate();

  async function create(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const d = await post<Deployment>('/api/v1/deployments', form);
      navigate(`/deployments/${d.name}`);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <>
      <h1>Deployments</h1>
      <Card title="Deployments">
        <ErrorBox error={deployments.error} />
        <table>
          <thead><tr><th>Name</th><th>Model</th><th>State</th><th>PP × TP</th><th>Layers per stage</th><th>Chunk</th><th>Max tokens</th><th>Created</th></tr></thead>
          <tbody>
            {(deployments.data ?? []).map((d) => (
              <tr key={d.id}>
                <td><Link to={`/deployments/${d.name}`}>{d.name}</Link></td>
                <td>{modelName.get(d.modelId) ?? shortId(d.modelId)}</td>
                <td><StateBadge state={d.state} /></td>
                <td>{d.pp} × {d.tp}</td>
                <td>{d.layersPerStage.join(', ')}</td>
                <td>{chunkingText(d)}</td>
                <td>{num(d.maxTokens)}</td>
                <td>{when(d.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {deployments.data && !deployments.data.length && <p className="muted">No deployments: create one below or from a plan.</p>}
      </Card>
      <Card title="Create a deployment">
        <form className="inline" onSubmit={create} aria-label="Create a deployment">
          <label>Name <input name="name" value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} required /></label>
          <label>Model
            <select name="model" value={form.model} onChange={(e) => setForm({ ...form, model: e.target.value })} required>
              <option value="">choose…</option>
              {(models.data ?? []).map((m) => <option key={m.id} value={m.name}>{m.name}</option>)}
            </select>
          </label>
          <label>PP <input name="pp" type="number" min={1} value={form.pp} onChange={(e) => setForm({ ...form, pp: Number(e.target.value) })} /></label>
          <label>TP <input name="tp" type="number" min={1} value={form.tp} onChange={(e) => setForm({ ...form, tp: Number(e.target.value) })} /></label>
          <label>Chunk size <input name="chunkSize" type="number" min={1} value={form.chunkSize} onChange={(e) => setForm({ ...form, chunkSize: Number(e.target.value) })} /></label>
          <label>Max tokens <input name="maxTokens" type="number" min={1} value={form.maxTokens} onChange={(e) => setForm({ ...form, maxTokens: Number(e.target.value) })} /></label>
          <label>Chunking
            <select name="chunking" value={form.chunking} onChange={(e) => setForm({ ...form, chunking: e.target.value })}
                    title="planned: each run's schedule optimised on chunk costs measured on the deployment's workers; chunk size is then the largest chunk">
              <option value="fixed">fixed</option>
              <option value="dynamic">dynamic</option>
              <option value="planned">planned</option>
            </select>
          </label>
          <button type="submit" disabled={busy}>Create</button>
        </form>
        <ErrorBox error={error} />
      </Card>
    </>
  );
}

export function DeploymentDetailPage() {
  const { ref = '' } = useParams();
  const deployment = usePoll(() => get<Deployment>(`/api/v1/deployments/${encodeURIComponent(ref)}`), 2000, [ref]);
  const workers = usePoll(() => get<Worker[]>('/api/v1/workers'), 5000);
  const nodes = usePoll(() => get<Node[]>('/api/v1/nodes'), 10000);
  const [error, setError] = useState<string | null>(null);
  const navigate = useNavigate();
  const d = deployment.data;

  async function remove() {
    if (!d || !window.confirm(`Delete deployment ${d.name}? Its workers are released.`)) {
      return;
    }
    try {
      await del(`/api/v1/deployments/${d.id}`);
      navigate('/deployments');
    } catch (err) {
      setError(errorText(err));
    }
  }

  if (!d) {
    return <><h1>Deployment {ref}</h1><ErrorBox error={deployment.error} />{!deployment.error && <p className="muted">Loading…</p>}</>;
  }
  const workerById = new Map((workers.data ?? []).map((w) => [w.id, w]));
  const nodeById = new Map((nodes.data ?? []).map((n) => [n.id, n]));
  const ranges = layerRanges(d.layersPerStage);
  return (
    <>
      <h1>Deployment {d.name} <StateBadge state={d.state} /></h1>
      <ErrorBox error={deployment.error ?? error} />
      {d.stateReason && <p className="muted">{d.stateReason}</p>}
      <Card title="Layout" actions={<div className="actions">
        <Link className="button" to={`/runs?deployment=${encodeURIComponent(d.name)}`}>Runs</Link>
        <button type="button" className="danger" onClick={remove}>Delete</button></div>}>
        <p>PP {d.pp} × TP {d.tp}; chunk {chunkingText(d, true)};
          max tokens {num(d.maxTokens)}; {d.threadsPerRank} thread(s) per rank.</p>
        {d.chunking === 'planned' && (
          <p data-testid="calibration">Chunk costs {d.calibration
            ? <>({d.calibration.source === 'measured'
              ? <>measured by <Link to={`/runs/${d.calibration.runId}`}>calibration run {shortId(d.calibration.runId ?? '')}</Link></>
              : 'given'}): {d.calibration.summary}</>
            : 'not measured yet'}</p>
        )}
        <h3>Placement map</h3>
        <div className="placement" role="table" aria-label="Placement map"
             style={{ gridTemplateColumns: `90px repeat(${d.pp}, minmax(140px, 1fr))` }}>
          <div role="columnheader" />
          {ranges.map(([a, b], s) => (
            <div role="columnheader" key={s} className="stagehead">stage {s}<br /><small>layers {a}–{b} ({b - a + 1})</small></div>
          ))}
          {Array.from({ length: d.tp }, (_, t) => (
            <PlacementRow key={t} tpRank={t} d={d} workerById={workerById} nodeById={nodeById} />
          ))}
        </div>
      </Card>
    </>
  );
}

function PlacementRow({ tpRank, d, workerById, nodeById }: {
  tpRank: number; d: Deployment; workerById: Map<string, Worker>; nodeById: Map<string, Node>;
}) {
  return (
    <>
      <div role="rowheader" className="tphead">TP rank {tpRank}</div>
      {Array.from({ length: d.pp }, (_, s) => {
        const p = d.placements.find((x) => x.stage === s && x.tpRank === tpRank);
        const w = p ? workerById.get(p.workerId) : undefined;
        const n = w ? nodeById.get(w.nodeId) : undefined;
        return (
          <div role="cell" key={s} className="slot" data-testid="placement">
            {p ? <>
              <strong>rank {p.rank}</strong><br />
              node {n?.name ?? shortId(w?.nodeId)}<br />
              worker {shortId(p.workerId)} {w && <StateBadge state={w.state} />}
            </> : <span className="muted">unplaced</span>}
          </div>
        );
      })}
    </>
  );
}
