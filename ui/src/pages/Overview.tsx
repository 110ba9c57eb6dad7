import { Link } from 'react-router-dom';
import { get, type Deployment, type Node, type Run, type Worker } from '../lib/api';
import { bytes, ms, num, shortId, when } from '../lib/format';
import { usePoll } from '../lib/hooks';
import { Card, ErrorBox, StateBadge, StateCounts } from '../components';

export function OverviewPage() {
  // the cluster changes by itself (heartbeats, runs): polled every 3 s
  const nodes = usePoll(() => get<Node[]>('/api/v1/nodes'), 3000);
  const workers = usePoll(() => get<Worker[]>('/api/v1/workers'), 3000);
  const deployments = usePoll(() => get<Deployment[]>('/api/v1/deployments'), 3000);
  const runs = usePoll(() => get<Run[]>('/api/v1/runs?limit=10'), 3000);
  const names = new Map((deployments.data ?? []).map((d) => [d.id, d.name]));

  return (
    <>
      <h1>Overview</h1>
      <div className="grid2">
        <Card title="Workers by state">
          <ErrorBox error={workers.error} />
          <p className="counts" data-testid="worker-counts"><StateCounts states={(workers.data ?? []).map((w) => w.state)} /></p>
        </Card>
        <Card title="Deployments by state">
          <ErrorBox error={deployments.error} />
          <p className="counts"><StateCounts states={(deployments.data ?? []).map((d) => d.state)} /></p>
        </Card>
      </div>
      <Card title="Nodes">
        <ErrorBox error={nodes.error} />
        <table>
          <thead><tr><th>Name</th><th>Host</th><th>Health</th><th>GPUs</th><th>CPU cores</th><th>Memory</th><th>Workers</th><th>Last heartbeat</th></tr></thead>
          <tbody>
            {(nodes.data ?? []).map((n) => (
              <tr key={n.id}>
                <td>{n.name}</td>
                <td>{n.host}</td>
                <td><StateBadge state={n.health} /></td>
                <td>{n.gpus.length ? n.gpus.map((g) => `${g.count} × ${g.model} (${bytes(g.memoryBytes)})`).join(', ') : <span className="muted">CPU only</span>}</td>
                <td>{n.cpuCores}</td>
                <td>{bytes(n.memoryBytes)}</td>
                <td>{(workers.data ?? []).filter((w) => w.nodeId === n.id).map((w) => w.state).join(', ') || '–'}</td>
                <td>{when(n.lastHeartbeat)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {nodes.data && !nodes.data.length && <p className="muted">No nodes have registered yet.</p>}
      </Card>
      <Card title="Recent runs">
        <ErrorBox error={runs.error} />
        <table>
          <thead><tr><th>Run</th><th>Deployment</th><th>State</th><th>Prompt tokens</th><th>TTFT</th><th>Tokens/s</th><th>Submitted</th></tr></thead>
          <tbody>
            {(runs.data ?? []).map((r) => (
              <tr key={r.id}>
                <td><Link to={`/runs/${r.id}`}>{shortId(r.id)}</Link></td>
                <td>{names.get(r.deploymentId) ?? shortId(r.deploymentId)}</td>
                <td><StateBadge state={r.state} /></td>
                <td>{num(r.promptTokens)}</td>
                <td>{ms(r.ttftMs)}</td>
                <td>{num(r.tokensPerSecond)}</td>
                <td>{when(r.submittedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {runs.data && !runs.data.length && <p className="muted">No runs yet.</p>}
      </Card>
    </>
  );
}
