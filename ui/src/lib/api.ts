import { storedToken } from './auth';
import { ApiError, problemMessage } from './errors';

/** Called when the API answers 401: the stored token is no longer good (the shell signs out). */
let onUnauthorized: () => void = () => {};
export function setUnauthorizedHandler(f: () => void): void {
  onUnauthorized = f;
}

export async function api<T>(method: string, path: string, body?: unknown, token = storedToken()): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (token) {
    headers.Authorization = `Bearer ${token}`;
  }
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
  }
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) {
    if (res.status === 401) {
      onUnauthorized();
    }
    throw new ApiError(res.status, problemMessage(res.status, res.statusText, text));
  }
  return (text ? JSON.parse(text) : undefined) as T;
}

export const get = <T>(path: string) => api<T>('GET', path);
export const post = <T>(path: string, body?: unknown) => api<T>('POST', path, body ?? {});
export const del = (path: string) => api<void>('DELETE', path);

// The JSON the control plane answers (see the control-plane's records of the same names).

export interface GpuInventory { model: string; memoryBytes: number; count: number }
export interface Node {
  id: string; name: string; host: string; cpuCores: number; memoryBytes: number; gpus: GpuInventory[];
  labels: Record<string, string>; health: string; lastHeartbeat: string | null; createdAt: string;
}
export interface Worker {
  id: string; nodeId: string; backend: string; agentUrl: string; podName: string | null; state: string;
  deploymentId: string | null; lastHeartbeat: string | null; registeredAt: string;
}
export interface Model {
  id: string; name: string; location: string; architecture: string; layers: number; hiddenSize: number;
  attentionHeads: number; kvHeads: number; vocabSize: number; maxPositions: number; parameters: number;
  sizeBytes: number; hasTokenizer: boolean; registeredAt: string;
}
export interface Placement { rank: number; stage: number; tpRank: number; workerId: string }
/** The chunk costs a planned deployment's schedules are optimised on (given, or measured by a calibration run). */
export interface ChunkCostCalibration {
  source: 'request' | 'measured'; stageCoefficients: number[][]; sendFixedMs: number; sendPerTokenMs: number;
  rmsRelativeError: number | null; runId: string | null; calibrationChunks: number[] | null; summary: string;
}
export interface Deployment {
  id: string; name: string; modelId: string; pp: number; tp: number; layersPerStage: number[]; chunkSize: number;
  dynamicChunking: boolean; sigma: number; chunking: 'fixed' | 'dynamic' | 'planned';
  calibration: ChunkCostCalibration | null; maxTokens: number; threadsPerRank: number; state: string;
  stateReason: string | null; placements: Placement[]; createdAt: string; updatedAt: string;
}

/** A deployment's chunking in words: fixed size, dynamic from a base (σ), or planned up to a largest chunk. */
export function chunkingText(d: Pick<Deployment, 'chunking' | 'chunkSize' | 'sigma'>, withSigma = false): string {
  if (d.chunking === 'planned') {
    return `planned, chunks of 64 to ${d.chunkSize}`;
  }
  if (d.chunking === 'dynamic') {
    return withSigma ? `dynamic from ${d.chunkSize} (σ ${d.sigma})` : `dynamic from ${d.chunkSize}`;
  }
  return String(d.chunkSize);
}
export interface StageEvent {
  request: number; rank: number; stage: number; tpRank: number; decode: boolean; chunk: number; offset: number;
  size: number; startMs: number; recvWaitMs: number; computeStartMs: number; computeMs: number;
  sendPostedMs: number; sendDoneMs: number;
}
export interface RunProgress { chunksDone: number; chunks: number; tokensDone: number; promptTokens: number }
export interface Run {
  id: string; deploymentId: string; promptKind: string; promptTokens: number; maxNewTokens: number;
  chunkSchedule: number[] | null; state: string; ttftMs: number | null; totalMs: number | null;
  tokensPerSecond: number | null; bubbleRatio: number | null; timeline: StageEvent[] | null;
  firstToken: number | null; generated: number[] | null; error: string | null; progress: RunProgress | null;
  submittedAt: string; startedAt: string | null; finishedAt: string | null;
}
export interface RunEvent { id: number; runId: string; at: string; kind: string; detail: Record<string, unknown> }

export interface PlanStep {
  stage: number; chunk: number; offset: number; size: number; ready_ms: number; start_ms: number; end_ms: number;
  compute_ms: number; send_start_ms?: number; send_end_ms?: number;
}
export interface PlanFigures {
  rank?: number; pp: number; tp: number; gpus: number; layer_partition: number[]; ttft_ms: number;
  prefill_tokens_per_s: number; prefill_tokens_per_s_per_gpu: number; bubble_ratio: number;
  stage_utilization: number[];
  chunking: {
    dynamic: boolean; base: number; sigma: number; count: number; fallback_reason?: string;
    planned?: boolean; schedule?: string; // planned: the optimised chunk sizes, as --chunk-schedule takes them
  };
  memory_per_gpu: { stage: number; weights_bytes: number; kv_cache_bytes: number; activation_bytes: number;
    total_bytes: number; usable_bytes: number };
  reason: string; timeline?: PlanStep[];
}
export interface PlanReport extends Partial<PlanFigures> {
  mode: 'predict' | 'recommend'; model: string; gpu: string; nodes: number; gpus_per_node: number;
  prompt_tokens: number; objective: string; plans?: PlanFigures[];
  rejected?: { pp: number; tp: number; reason: string }[]; notes: string[]; cluster_source: string;
}
