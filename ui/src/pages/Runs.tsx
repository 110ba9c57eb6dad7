import { useState, type FormEvent } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router-dom';
import { get, post, type Deployment, type Run } from '../lib/api';
import { errorText } from '../lib/errors';
import { ms, num, pct, shortId, when } from '../lib/format';
import { usePoll } from '../lib/hooks';
import { Card, ErrorBox, StateBadge } from '../components';

const STATES = ['QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'];

/** The run list's query string for the filters (empty ones left out). */
export function runsQuery(deployment: string, state: string, limit: number): string {
  const q = new URLSearchParams();
  if (deployment) {
    q.set('deployment', deployment);
  }
  if (state) {
    q.set('state', state);
  }
  q.set('limit', String(limit));
  return q.toString();
}

export function RunsPage() {
  const [params, setParams] = useSearchParams();
  const deployment = params.get('deployment') ?? '';
  const state = params.get('state') ?? '';
  const limit = Number(params.get('limit') ?? 50);
  const deployments = usePoll(() => get<Deployment[]>('/api/v1/deployments'), 5000);
  const runs = usePoll(() => get<Run[]>(`/api/v1/runs?${runsQuery(deployment, state, limit)}`), 2000, [deployment, state, limit]);
  const names = new Map((deployments.data ?? []).map((d) => [d.id, d.name]));
  const setFilter = (k: string, v: string) => {
    const next = new URLSearchParams(params);
    if (v) {
      next.set(k, v);
    } else {
      next.delete(k);
    }
    setParams(next, { replace: true });
  };

  return (
    <>
      <h1>Runs</h1>
      <SubmitRun deployments={deployments.data ?? []} preselected={deployment} />
      <Card title="Runs">
        <form className="inline filters" aria-label="Filters" onSubmit={(e) => e.preventDefault()}>
          <label>Deployment
            <select name="filterDeployment" value={deployment} onChange={(e) => setFilter('deployment', e.target.value)}>
              <option value="">all</option>
              {(deployments.data ?? []).map((d) => <option key={d.id} value={d.name}>{d.name}</option>)}
            </select>
          </label>
          <label>State
            <select name="filterState" value={state} onChange={(e) => setFilter('state', e.target.value)}>
              <option value="">all</option>
              {STATES.map((s) => <option key={s}>{s}</option>)}
            </select>
          </label>
          <label>Show <select name="limit" value={limit} onChange={(e) => setFilter('limit', e.target.value)}>
            {[20, 50, 200, 1000].map((n) => <option key={n}>{n}</option>)}
          </select></label>
        </form>
        <ErrorBox error={runs.error} />
        <table data-testid="runs">
          <thead><tr><th>Run</th><th>Deployment</th><th>State</th><th>Prompt</th><th>Progress</th><th>TTFT</th><th>Tokens/s</th><th>Bubble</th><th>Submitted</th></tr></thead>
          <tbody>
            {(runs.data ?? []).map((r) => (
              <tr key={r.id}>
                <td><Link to={`/runs/${r.id}`}>{shortId(r.id)}</Link></td>
                <td>{names.get(r.deploymentId) ?? shortId(r.deploymentId)}</td>
                <td><StateBadge state={r.state} /></td>
                <td>{num(r.promptTokens)} {r.promptKind.toLowerCase()}</td>
                <td>{r.progress ? `${r.progress.chunksDone}/${r.progress.chunks} chunks` : '–'}</td>
                <td>{ms(r.ttftMs)}</td>
                <td>{num(r.tokensPerSecond)}</td>
                <td>{pct(r.bubbleRatio)}</td>
                <td>{when(r.submittedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {runs.data && !runs.data.length && <p className="muted">No runs match.</p>}
      </Card>
    </>
  );
}

function SubmitRun({ deployments, preselected }: { deployments: Deployment[]; preselected: string }) {
  const [deployment, setDeployment] = useState(preselected);
  const [kind, setKind] = useState<'text' | 'random'>('random');
  const [text, setText] = useState('');
  const [randomTokens, setRandomTokens] = useState(1024);
  const [seed, setSeed] = useState('');
  const [maxNewTokens, setMaxNewTokens] = useState(4);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const navigate = useNavigate();
  const ready = deployments.filter((d) => d.state === 'READY');

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body: Record<string, unknown> = { deployment: deployment || ready[0]?.name, maxNewTokens };
      if (kind === 'text') {
        body.text = text;
      } else {
        body.randomTokens = randomTokens;
        if (seed.trim()) {
          body.seed = Number(seed);
        }
      }
      const r = await post<Run>('/api/v1/runs', body);
      navigate(`/runs/${r.id}`);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <Card title="Submit a run">
      <form className="inline" onSubmit={submit} aria-label="Submit a run">
        <label>Deployment
          <select name="deployment" value={deployment || ready[0]?.name || ''} onChange={(e) => setDeployment(e.target.value)} required>
            {!deployments.length && <option value="">no deployments</option>}
            {deployments.map((d) => <option key={d.id} value={d.name}>{d.name} ({d.state})</option>)}
          </select>
        </label>
        <fieldset>
          <legend>Prompt</legend>
          <label className="check"><input type="radio" name="kind" checked={kind === 'random'} onChange={() => setKind('random')} /> random tokens</label>
          <label className="check"><input type="radio" name="kind" checked={kind === 'text'} onChange={() => setKind('text')} /> text</label>
        </fieldset>
        {kind === 'random' ? <>
          <label>Tokens <input name="randomTokens" type="number" min={1} value={randomTokens} onChange={(e) => setRandomTokens(Number(e.target.value))} /></label>
          <label>Seed <input name="seed" type="number" value={seed} onChange={(e) => setSeed(e.target.value)} placeholder="random" /></label>
        </> : (
          <label className="wide">Text <textarea name="text" rows={3} value={text} onChange={(e) => setText(e.target.value)} required /></label>
        )}
        <label>Max new tokens <input name="maxNewTokens" type="number" min={1} value={maxNewTokens} onChange={(e) => setMaxNewTokens(Number(e.target.value))} /></label>
        <button type="submit" disabled={busy}>Submit</button>
      </form>
      <ErrorBox error={error} />
    </Card>
  );
}
