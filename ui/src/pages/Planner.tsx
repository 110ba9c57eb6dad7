import { useMemo, useRef, useState, type FormEvent } from 'react';
import { useNavigate } from 'react-router-dom';
import { get, post, type Deployment, type Model, type PlanFigures, type PlanReport, type Worker } from '../lib/api';
import { errorText } from '../lib/errors';
import { bytes, ms, num, pct } from '../lib/format';
import { planGantt } from '../lib/gantt';
import { usePoll } from '../lib/hooks';
import { Card, ErrorBox } from '../components';
import { GanttChart } from '../GanttChart';

const GPUS = ['h100', 'h200', 'h20', 'h20-141g', 'a100', 'b200'];
const PRESETS = ['llama-3.1-8b', 'llama-3.1-70b', 'tiny'];
/** The control plane's bound on a planned schedule's prompt (PlanLimits.MAX_PLANNED_PROMPT_TOKENS). */
const MAX_PLANNED_PROMPT_TOKENS = 262_144;

interface Form {
  model: string; clusterSource: 'described' | 'registered'; gpu: string; nodes: number; gpusPerNode: number;
  promptTokens: number; objective: string; chunk: string; dynamicChunking: boolean; smooth: string; allowInterNodeTp: boolean;
}

/**
 * The request body for the form; with a layout (pp, tp, partition, chunk) it asks for that plan's prediction, and
 * with planned for that layout's optimised chunk schedule (the optimiser's own chunks: no chunk size; σ kept for the
 * σ-rule baseline it starts from).
 */
export function planBody(f: Form, layout?: PlanFigures, planned = false): Record<string, unknown> {
  const body: Record<string, unknown> = { model: f.model.trim(), promptTokens: f.promptTokens, objective: f.objective, timeline: true };
  if (f.clusterSource === 'described') {
    body.cluster = { gpu: f.gpu, nodes: f.nodes, gpusPerNode: f.gpusPerNode };
  }
  if (f.chunk.trim()) {
    body.chunk = Number(f.chunk);
  }
  if (f.dynamicChunking) {
    body.dynamicChunking = true;
  }
  if (f.smooth.trim()) {
    body.smooth = Number(f.smooth);
  }
  if (f.allowInterNodeTp) {
    body.allowInterNodeTp = true;
  }
  if (layout) {
    body.pp = layout.pp;
    body.tp = layout.tp;
    body.layerPartition = layout.layer_partition.join(',');
    if (planned) { // the optimiser chooses the chunks: the planner refuses a chunk size or dynamic chunking with it
      body.chunking = 'planned';
      delete body.chunk;
      delete body.dynamicChunking;
    } else {
      body.chunk = layout.chunking.base;
    }
  }
  return body;
}

export function PlannerPage() {
  const models = usePoll(() => get<Model[]>('/api/v1/models'), 0);
  const workers = usePoll(() => get<Worker[]>('/api/v1/workers'), 5000);
  const [form, setForm] = useState<Form>({
    model: '', clusterSource: 'described', gpu: 'h100', nodes: 1, gpusPerNode: 2, promptTokens: 4096,
    objective: 'ttft', chunk: '', dynamicChunking: false, smooth: '', allowInterNodeTp: false,
  });
  const [report, setReport] = useState<PlanReport | null>(null);
  const [chosen, setChosen] = useState<PlanFigures | null>(null);
  const [swept, setSwept] = useState<PlanFigures | null>(null); // the chosen layout's swept plan, once it is optimised
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // every plan, choose and optimise request takes a number; an answer that is not the latest one's is dropped, so a
  // slow optimisation cannot replace a layout chosen (or a plan made) after it was asked for
  const latest = useRef(0);
  const set = <K extends keyof Form>(k: K, v: Form[K]) => setForm((f) => ({ ...f, [k]: v }));

  async function plan(e: FormEvent) {
    e.preventDefault();
    const ticket = ++latest.current;
    setBusy(true);
    setError(null);
    setReport(null);
    setChosen(null);
    setSwept(null);
    try {
      const r = await post<PlanReport>('/api/v1/plans', planBody(form));
      if (ticket !== latest.current) {
        return;
      }
      setReport(r);
      if (r.pp !== undefined) {
        setChosen(r as PlanFigures);
      }
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  }

  async function choose(p: PlanFigures) {
    const ticket = ++latest.current;
    setError(null);
    setSwept(null);
    if (p.rank === 1 && report?.timeline) {
      setChosen(report as PlanFigures);
      return;
    }
    try {
      // the report carries the best plan's timeline only: predict the chosen layout to draw its own
      const r = await post<PlanReport>('/api/v1/plans', planBody(form, p));
      if (ticket !== latest.current) {
        return;
      }
      setChosen({ ...(r as PlanFigures), rank: p.rank });
    } catch (err) {
      setError(errorText(err));
    }
  }

  async function optimise(p: PlanFigures) {
    const ticket = ++latest.current;
    setError(null);
    try {
      const r = await post<PlanReport>('/api/v1/plans', planBody(form, p, true));
      if (ticket !== latest.current) {
        return;
      }
      setSwept(p);
      setChosen({ ...(r as PlanFigures), rank: p.rank });
    } catch (err) {
      setError(errorText(err));
    }
  }

  const registered = (models.data ?? []).find((m) => m.name === form.model.trim() || m.id === form.model.trim());
  return (
    <>
      <h1>Planner</h1>
      <Card title="Plan a layout">
        <form className="planform" onSubmit={plan} aria-label="Plan form">
          <label>Model
            <input list="models" name="model" value={form.model} onChange={(e) => set('model', e.target.value)} required
                   placeholder="a registered model or a preset" />
            <datalist id="models">
              {(models.data ?? []).map((m) => <option key={m.id} value={m.name}>{m.architecture}</option>)}
              {PRESETS.map((p) => <option key={p} value={p}>preset</option>)}
            </datalist>
          </label>
          <label>Cluster
            <select name="clusterSource" value={form.clusterSource} onChange={(e) => set('clusterSource', e.target.value as Form['clusterSource'])}>
              <option value="described">described below</option>
              <option value="registered">the registered GPU nodes</option>
            </select>
          </label>
          {form.clusterSource === 'described' && <>
            <label>GPU type
              <select name="gpu" value={form.gpu} onChange={(e) => set('gpu', e.target.value)}>
                {GPUS.map((g) => <option key={g}>{g}</option>)}
              </select>
            </label>
            <label>Nodes <input name="nodes" type="number" min={1} value={form.nodes} onChange={(e) => set('nodes', Number(e.target.value))} /></label>
            <label>GPUs per node <input name="gpusPerNode" type="number" min={1} value={form.gpusPerNode} onChange={(e) => set('gpusPerNode', Number(e.target.value))} /></label>
          </>}
          <label>Prompt tokens <input name="promptTokens" type="number" min={1} value={form.promptTokens} onChange={(e) => set('promptTokens', Number(e.target.value))} /></label>
          <label>Objective
            <select name="objective" value={form.objective} onChange={(e) => set('objective', e.target.value)}>
              <option value="ttft">lowest TTFT</option>
              <option value="throughput-per-gpu">throughput per GPU</option>
            </select>
          </label>
          <label>Chunk size <input name="chunk" type="number" min={1} value={form.chunk} onChange={(e) => set('chunk', e.target.value)} placeholder="planner's choice" /></label>
          <label>Smoothing σ <input name="smooth" type="number" min={0} max={1} step={0.05} value={form.smooth} onChange={(e) => set('smooth', e.target.value)} placeholder="default" /></label>
          <label className="check"><input type="checkbox" checked={form.dynamicChunking} onChange={(e) => set('dynamicChunking', e.target.checked)} /> dynamic chunking</label>
          <label className="check"><input type="checkbox" checked={form.allowInterNodeTp} onChange={(e) => set('allowInterNodeTp', e.target.checked)} /> allow TP across nodes</label>
          <button type="submit" disabled={busy}>{busy ? 'Planning…' : 'Plan'}</button>
        </form>
        <ErrorBox error={error} />
      </Card>
      {report && <PlanResults report={report} chosen={chosen} onChoose={choose} />}
      {chosen && report && <ChosenPlan key={`${chosen.pp}x${chosen.tp}${chosen.chunking.planned ? ' planned' : ''}`}
                                       plan={chosen} swept={swept} report={report} model={registered}
                                       workers={workers.data ?? []} onOptimise={optimise} />}
    </>
  );
}

function PlanResults({ report, chosen, onChoose }: { report: PlanReport; chosen: PlanFigures | null; onChoose: (p: PlanFigures) => void }) {
  const plans = report.plans ?? (report.pp !== undefined ? [{ ...(report as PlanFigures), rank: 1 }] : []);
  return (
    <Card title={`Ranked plans: ${report.model} on ${report.nodes} × ${report.gpus_per_node} ${report.gpu}, ${num(report.prompt_tokens)} tokens`}>
      {report.notes.length > 0 && <ul className="notes">{report.notes.map((n, i) => <li key={i}>{n}</li>)}</ul>}
      <table data-testid="plans">
        <thead><tr><th>#</th><th>PP × TP</th><th>Layers per stage</th><th>Chunking</th><th>TTFT</th><th>Tokens/s</th><th>Bubble</th><th>Memory per GPU</th><th>Reason</th><th /></tr></thead>
        <tbody>
          {plans.map((p) => (
            <tr key={`${p.pp}x${p.tp}`} className={chosen && chosen.pp === p.pp && chosen.tp === p.tp ? 'selected' : ''}>
              <td>{p.rank}</td>
              <td>{p.pp} × {p.tp}</td>
              <td>{p.layer_partition.join(', ')}</td>
              <td>{p.chunking.dynamic ? `dynamic from ${p.chunking.base}` : p.chunking.base} ({p.chunking.count} chunks)</td>
              <td>{ms(p.ttft_ms)}</td>
              <td>{num(p.prefill_tokens_per_s)}</td>
              <td>{pct(p.bubble_ratio)}</td>
              <td>{bytes(p.memory_per_gpu.total_bytes)} of {bytes(p.memory_per_gpu.usable_bytes)}</td>
              <td className="reason">{p.reason}</td>
              <td><button type="button" onClick={() => onChoose(p)}>Show</button></td>
            </tr>
          ))}
        </tbody>
      </table>
      {!plans.length && <p className="muted">No layout fits: see the rejected layouts.</p>}
      {report.rejected && report.rejected.length > 0 && <>
        <h3>Rejected layouts</h3>
        <table data-testid="rejected">
          <thead><tr><th>PP × TP</th><th>Why</th></tr></thead>
          <tbody>{report.rejected.map((r) => <tr key={`${r.pp}x${r.tp}`}><td>{r.pp} × {r.tp}</td><td>{r.reason}</td></tr>)}</tbody>
        </table>
      </>}
    </Card>
  );
}

/**
 * A plan's chunking as a deployment takes it. Planned: the deployment optimises each prompt's schedule on chunk costs
 * measured on its own workers (the plan's figures are the catalog GPU's), with chunks up to the largest of the plan's
 * rounded up to the 64-token alignment, and at least 256 (the measured calibration fits three chunk sizes or more).
 */
export function deploymentChunking(plan: PlanFigures): Record<string, unknown> {
  const c = plan.chunking;
  if (c.planned) {
    const largest = Math.max(...(c.schedule ?? String(c.base)).split(',').map(Number));
    return { chunking: 'planned', chunkSize: Math.max(256, Math.ceil(largest / 64) * 64) };
  }
  return { chunkSize: c.base, dynamicChunking: c.dynamic, ...(c.dynamic ? { sigma: c.sigma } : {}) };
}

/**
 * The least maxTokens a planned deployment with chunks up to {@code chunkSize} takes without a calibration: its
 * calibration prompt, maxTokens − 1 tokens (the server's default caps it at 8192), in chunks of 64, 128, … chunkSize
 * over and over, must hold 8 chunks (MeasuredChunkCosts.MIN_CALIBRATION_CHUNKS: the fit leaves out the warm-up
 * chunk and the lm_head's).
 */
export function plannedMinMaxTokens(chunkSize: number): number {
  const cycle: number[] = [];
  for (let c = 64; c < chunkSize; c *= 2) {
    cycle.push(c);
  }
  cycle.push(chunkSize);
  let seven = 0;
  for (let i = 0; i < 7; i++) {
    seven += cycle[i % cycle.length];
  }
  return seven + 2; // the prompt is maxTokens − 1 tokens: seven whole chunks and at least one token of an eighth
}

function ChosenPlan({ plan, swept, report, model, workers, onOptimise }: {
  plan: PlanFigures; swept: PlanFigures | null; report: PlanReport; model: Model | undefined; workers: Worker[];
  onOptimise: (p: PlanFigures) => Promise<void>;
}) {
  const planned = plan.chunking.planned === true;
  const [optimising, setOptimising] = useState(false);
  const plannedChunkSize = planned ? Number(deploymentChunking(plan).chunkSize) : 0;
  const tooLong = report.prompt_tokens > MAX_PLANNED_PROMPT_TOKENS;
  const gantt = useMemo(() => planGantt(plan.timeline ?? []), [plan]);
  const idle = workers.filter((w) => w.state === 'IDLE');
  const [name, setName] = useState(`${report.model}-pp${plan.pp}tp${plan.tp}`.toLowerCase().replace(/[^a-z0-9._-]/g, '-').slice(0, 63));
  const [maxTokens, setMaxTokens] = useState(() => Math.min(model?.maxPositions ?? Number.MAX_SAFE_INTEGER,
    Math.max(report.prompt_tokens + 256, planned ? plannedMinMaxTokens(plannedChunkSize) : 0)));
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const navigate = useNavigate();
  // the registered cluster can hold the plan when the model is registered and enough workers are idle
  const why = !model ? `${report.model} is not a registered model: register its directory to deploy it`
    : idle.length < plan.gpus ? `this plan needs ${plan.gpus} idle workers; ${idle.length} are idle` : null;

  async function deploy(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const d = await post<Deployment>('/api/v1/deployments', {
        name, model: model!.name, pp: plan.pp, tp: plan.tp, layersPerStage: plan.layer_partition, ...deploymentChunking(plan),
        maxTokens, backend: idle[0]?.backend ?? 'cpu',
      });
      navigate(`/deployments/${d.name}`);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <Card title={`Plan #${plan.rank ?? 1}: PP ${plan.pp} × TP ${plan.tp}, predicted TTFT ${ms(plan.ttft_ms)}`}>
      <p className="muted">Stage utilisation: {plan.stage_utilization.map((u, i) => `stage ${i} ${pct(u)}`).join(' · ')}</p>
      {planned ? <>
        <p data-testid="planned-schedule" role="status">Planned chunk schedule ({plan.chunking.count} chunks): <code>{plan.chunking.schedule}</code>
          {swept && <> — predicted TTFT {ms(plan.ttft_ms)} against {ms(swept.ttft_ms)} with {swept.chunking.dynamic
            ? `dynamic chunking from ${swept.chunking.base}` : `fixed chunks of ${swept.chunking.base}`} ({
            pct(Math.abs(1 - plan.ttft_ms / swept.ttft_ms))} {plan.ttft_ms <= swept.ttft_ms ? 'lower' : 'higher'})</>}</p>
        <p className="reason" data-testid="planned-reason">{plan.reason}</p>
      </> : (
        <p>
          <button type="button" disabled={optimising || tooLong} aria-describedby="optimise-hint"
                  onClick={async () => { setOptimising(true); try { await onOptimise(plan); } finally { setOptimising(false); } }}>
            {optimising ? 'Optimising…' : 'Optimise the chunk schedule'}</button>
          <span id="optimise-hint" className="muted"> {tooLong
            ? `the planner optimises schedules of at most ${num(MAX_PLANNED_PROMPT_TOKENS)} tokens over the API; use pipefill plan --chunking planned`
            : 'chooses every chunk length by optimisation on this layout\'s simulated pipeline'}</span>
        </p>
      )}
      <h3>Predicted Gantt</h3>
      {plan.timeline ? <GanttChart gantt={gantt} label="Predicted Gantt" /> : <p className="muted">The planner sent no timeline.</p>}
      <h3>Deploy this plan</h3>
      {why ? <p className="muted" data-testid="deploy-unavailable">{why}</p> : (
        <form className="inline" onSubmit={deploy} aria-label="Deploy this plan">
          <label>Deployment name <input name="deploymentName" value={name} onChange={(e) => setName(e.target.value)} required /></label>
          <label>Max tokens <input name="maxTokens" type="number" min={1} value={maxTokens} onChange={(e) => setMaxTokens(Number(e.target.value))} /></label>
          <button type="submit" disabled={busy}>Deploy this plan</button>
          {planned && <span className="muted"> with chunking planned: the deployment measures its chunk costs with a calibration run before it turns READY</span>}
        </form>
      )}
      <ErrorBox error={error} />
    </Card>
  );
}
