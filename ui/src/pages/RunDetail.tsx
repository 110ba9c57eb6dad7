import { useEffect, useMemo, useState } from 'react';
import { Link, useParams } from 'react-router-dom';
import { get, post, type Deployment, type Node, type PlanReport, type Run, type RunEvent } from '../lib/api';
import { errorText } from '../lib/errors';
import { ms, num, pct, when } from '../lib/format';
import { measuredGantt, runFigures, runLengths } from '../lib/gantt';
import { usePoll } from '../lib/hooks';
import { readEvents } from '../lib/sse';
import { Card, ErrorBox, Stat, StateBadge } from '../components';
import { GanttChart } from '../GanttChart';

const FINISHED = ['SUCCEEDED', 'FAILED', 'CANCELLED'];

/** The latest progress a run's event stream reported: prompt tokens and chunks through the last stage. */
export interface LiveProgress { done: number; total: number; chunk: number; chunks: number }

export function progressOf(e: RunEvent): LiveProgress | null {
  if (e.kind !== 'PROGRESS') {
    return null;
  }
  const d = e.detail as Record<string, number>;
  return { done: d.done, total: d.total, chunk: d.chunk, chunks: d.chunks };
}

/** One line for the event log. */
export function describeEvent(e: RunEvent): string {
  const d = e.detail;
  switch (e.kind) {
    case 'STATE':
      return `state ${d.state}${d.reason ? `: ${d.reason}` : ''}`;
    case 'PROGRESS':
      return `chunk ${Number(d.chunk) + 1}/${d.chunks} through the last stage (${d.done}/${d.total} tokens)`;
    case 'ERROR':
      return `rank ${d.rank}: ${d.message}`;
    default:
      return `rank ${d.rank}: ${String(d.type ?? '').toLowerCase()}${d.base !== undefined ? `, chunk ${d.base}${d.dynamic ? ' (dynamic)' : ''}` : ''}${d.fallbackReason ? `, ${d.fallbackReason}` : ''}`;
  }
}

export function RunDetailPage() {
  const { id = '' } = useParams();
  const [finished, setFinished] = useState(false);
  const run = usePoll(() => get<Run>(`/api/v1/runs/${id}`), finished ? 0 : 2000, [id, finished]);
  const r = run.data;
  const deployment = usePoll(() => (r ? get<Deployment>(`/api/v1/deployments/${r.deploymentId}`) : Promise.resolve(undefined)),
    0, [r?.deploymentId]);
  const [events, setEvents] = useState<RunEvent[]>([]);
  const [live, setLive] = useState<LiveProgress | null>(null);
  const [streamError, setStreamError] = useState<string | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);

  useEffect(() => {
    setFinished(!!r && r.id === id && FINISHED.includes(r.state));
  }, [r, id]);

  // live progress from the event stream (fetch + reader: EventSource cannot send the token); a stream that
  // breaks before the run's final state is resumed after the last event seen (Last-Event-ID)
  useEffect(() => {
    const abort = new AbortController();
    let lastId: string | null = null;
    let final = false;
    setEvents([]);
    setLive(null);
    const follow = async () => {
      while (!final && !abort.signal.aborted) {
        try {
          await readEvents(`/api/v1/runs/${id}/events`, (m) => {
            lastId = m.id ?? lastId;
            const e = JSON.parse(m.data) as RunEvent;
            setEvents((list) => [...list.slice(-199), e]);
            setStreamError(null);
            const p = progressOf(e);
            if (p) {
              setLive(p);
            }
            if (e.kind === 'STATE') {
              final = FINISHED.includes(String(e.detail.state));
              run.reload();
            }
          }, abort.signal, lastId);
        } catch (e) {
          if (abort.signal.aborted) {
            return;
          }
          setStreamError(`event stream: ${errorText(e)}; retrying`);
        }
        if (!final) {
          await new Promise((resolve) => setTimeout(resolve, 2000));
        }
      }
    };
    void follow();
    return () => abort.abort();
  }, [id]);

  async function cancel() {
    setActionError(null);
    try {
      await post<Run>(`/api/v1/runs/${id}/cancel`);
      run.reload();
    } catch (e) {
      setActionError(errorText(e));
    }
  }

  if (!r) {
    return <><h1>Run</h1><ErrorBox error={run.error} />{!run.error && <p className="muted">Loading…</p>}</>;
  }
  const progress = live ?? (r.progress ? { done: r.progress.tokensDone, total: r.progress.promptTokens, chunk: r.progress.chunksDone - 1, chunks: r.progress.chunks } : null);
  const active = !FINISHED.includes(r.state);
  return (
    <>
      <h1>Run {r.id.slice(0, 8)} <StateBadge state={r.state} /></h1>
      <ErrorBox error={run.error ?? actionError} />
      {r.error && <p className="error" role="alert">{r.error}</p>}
      <Card title="Progress" actions={active ? <button type="button" className="danger" onClick={cancel}>Cancel run</button> : undefined}>
        <div className="progress">
          <progress max={progress?.total || r.promptTokens} value={r.state === 'SUCCEEDED' ? r.promptTokens : progress?.done ?? 0}
                    aria-label="Prompt tokens through the last stage" />
          <span data-testid="progress-text">{r.state === 'SUCCEEDED' ? `${num(r.promptTokens)} / ${num(r.promptTokens)} prompt tokens`
            : progress ? `${num(progress.done)} / ${num(progress.total)} prompt tokens, chunk ${progress.chunk + 1} of ${progress.chunks}` : 'waiting for the first chunk'}</span>
        </div>
        <div className="stats">
          <Stat label="Prompt" value={`${num(r.promptTokens)} tokens (${r.promptKind.toLowerCase()})`} />
          <Stat label="TTFT" value={ms(r.ttftMs)} testId="ttft" />
          <Stat label="Prefill tokens/s" value={num(r.tokensPerSecond)} />
          <Stat label="Total" value={ms(r.totalMs)} />
          <Stat label="Bubble" value={pct(r.bubbleRatio)} testId="bubble" />
          <Stat label="Submitted" value={when(r.submittedAt)} />
        </div>
        <p>Deployment <Link to={`/deployments/${r.deploymentId}`}>{deployment.data?.name ?? r.deploymentId}</Link></p>
      </Card>
      {r.timeline && r.timeline.length > 0 && <Measured run={r} deployment={deployment.data} />}
      {(r.firstToken !== null || (r.generated && r.generated.length > 0)) && (
        <Card title="Tokens">
          <p>First token: <code data-testid="first-token">{r.firstToken ?? '–'}</code></p>
          <p>Generated ({r.generated?.length ?? 0}): <code data-testid="generated">{(r.generated ?? []).join(' ')}</code></p>
        </Card>
      )}
      <Card title="Events">
        <ErrorBox error={streamError} />
        <ol className="events" data-testid="events">
          {events.map((e) => <li key={e.id}><time>{new Date(e.at).toLocaleTimeString()}</time> {describeEvent(e)}</li>)}
        </ol>
      </Card>
    </>
  );
}

function Measured({ run, deployment: d }: { run: Run; deployment: Deployment | undefined }) {
  const gantt = useMemo(() => measuredGantt(run.timeline ?? []), [run.timeline]);
  const figures = useMemo(() => runFigures(run.timeline ?? []), [run.timeline]);
  const [predicted, setPredicted] = useState<{ ttft?: number; why?: string } | null>(null);

  useEffect(() => {
    if (!d) {
      return;
    }
    if (d.chunking === 'planned') {
      setPredicted({ why: "a planned schedule is chosen on the deployment's own chunk costs, not the planner's GPU model" });
      return;
    }
    // the planner's prediction for this very layout on the registered GPU nodes; the planner models GPUs only
    get<Node[]>('/api/v1/nodes').then((nodes) => {
      if (!nodes.some((n) => n.health === 'HEALTHY' && n.gpus.length > 0)) {
        setPredicted({ why: 'no healthy registered node has GPUs, and the planner models GPUs only' });
        return;
      }
      return post<PlanReport>('/api/v1/plans', {
        model: d.modelId, promptTokens: run.promptTokens, pp: d.pp, tp: d.tp, layerPartition: d.layersPerStage.join(','),
        chunk: d.chunkSize, dynamicChunking: d.dynamicChunking,
      }).then((p) => setPredicted({ ttft: p.ttft_ms }));
    }).catch((e) => setPredicted({ why: errorText(e) }));
  }, [d, run.promptTokens]);

  return (
    <Card title="Measured Gantt">
      <GanttChart gantt={gantt} label="Measured Gantt" />
      <div className="stats">
        <Stat label="Chunks" value={`${figures.chunkSizes.length}: ${runLengths(figures.chunkSizes)}`} testId="chunk-sizes" />
        <Stat label="Decode steps" value={figures.decodeSteps} />
        <Stat label="Bubble (from the timeline)" value={pct(figures.bubbleRatio)} />
        <Stat label="Stage utilisation" value={figures.stageUtilization.map((u, i) => `${i}: ${pct(u)}`).join(' · ')} testId="utilisation" />
        <Stat label="Predicted TTFT" value={predicted?.ttft !== undefined ? ms(predicted.ttft) : '–'} testId="predicted-ttft" />
        <Stat label="Measured TTFT" value={ms(run.ttftMs)} />
      </div>
      {predicted?.why && <p className="muted" data-testid="no-prediction">No prediction for this layout: {predicted.why}</p>}
    </Card>
  );
}
