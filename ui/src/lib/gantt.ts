import type { PlanStep, StageEvent } from './api';

/** What a stretch of a lane's time was spent on. */
export type SegmentKind = 'wait' | 'compute' | 'send' | 'decode';

export interface Segment { kind: SegmentKind; startMs: number; endMs: number }

/** One chunk (or one decode step) on one lane: its receive wait, compute and send. */
export interface Bar { chunk: number; offset: number; size: number; decode: boolean; segments: Segment[] }

/** One stage/TP rank's row of the chart. */
export interface Lane { stage: number; tpRank: number; label: string; bars: Bar[] }

export interface Gantt {
  lanes: Lane[];
  startMs: number;
  endMs: number;
  /** Bars on every lane: prefill chunks and decode steps. */
  bars: number;
  /** Prefill bars only (chunks × lanes). */
  chunkBars: number;
}

function laneLabel(stage: number, tpRank: number, tp: number): string {
  return tp > 1 ? `stage ${stage} · tp ${tpRank}` : `stage ${stage}`;
}

function finish(byLane: Map<string, Lane>): Gantt {
  const lanes = [...byLane.values()].sort((a, b) => a.stage - b.stage || a.tpRank - b.tpRank);
  let startMs = Infinity;
  let endMs = -Infinity;
  let bars = 0;
  let chunkBars = 0;
  for (const lane of lanes) {
    lane.bars.sort((a, b) => (a.segments[0]?.startMs ?? 0) - (b.segments[0]?.startMs ?? 0));
    for (const bar of lane.bars) {
      bars++;
      if (!bar.decode) {
        chunkBars++;
      }
      for (const s of bar.segments) {
        startMs = Math.min(startMs, s.startMs);
        endMs = Math.max(endMs, s.endMs);
      }
    }
  }
  if (!Number.isFinite(startMs)) {
    startMs = 0;
    endMs = 0;
  }
  return { lanes, startMs, endMs, bars, chunkBars };
}

/**
 * A run's measured timeline (one event per rank per chunk or decode step) as lanes, one per stage/TP rank:
 * the receive wait ends where compute starts, the send runs from its posting to its completion (absent
 * on the last stage, which sends nothing on).
 */
export function measuredGantt(events: StageEvent[]): Gantt {
  const tp = events.reduce((m, e) => Math.max(m, e.tpRank + 1), 1);
  const byLane = new Map<string, Lane>();
  for (const e of events) {
    const key = `${e.stage}/${e.tpRank}`;
    let lane = byLane.get(key);
    if (!lane) {
      lane = { stage: e.stage, tpRank: e.tpRank, label: laneLabel(e.stage, e.tpRank, tp), bars: [] };
      byLane.set(key, lane);
    }
    const segments: Segment[] = [];
    if (e.recvWaitMs > 0) {
      segments.push({ kind: 'wait', startMs: e.computeStartMs - e.recvWaitMs, endMs: e.computeStartMs });
    }
    segments.push({ kind: e.decode ? 'decode' : 'compute', startMs: e.computeStartMs, endMs: e.computeStartMs + e.computeMs });
    if (e.sendDoneMs >= 0 && e.sendDoneMs > e.sendPostedMs) {
      segments.push({ kind: 'send', startMs: e.sendPostedMs, endMs: e.sendDoneMs });
    }
    lane.bars.push({ chunk: e.chunk, offset: e.offset, size: e.size, decode: e.decode, segments });
  }
  return finish(byLane);
}

/**
 * The planner's simulated timeline (one step per stage per chunk) as lanes: the idle time before a chunk
 * (its stage waiting for the previous stage's activations) is the wait, then compute, then the send to the
 * next stage. The simulator models TP inside a stage, so there is one lane per stage.
 */
export function planGantt(steps: PlanStep[]): Gantt {
  const byLane = new Map<string, Lane>();
  const ordered = [...steps].sort((a, b) => a.stage - b.stage || a.start_ms - b.start_ms);
  const laneEnd = new Map<number, number>();
  for (const s of ordered) {
    const key = `${s.stage}/0`;
    let lane = byLane.get(key);
    if (!lane) {
      lane = { stage: s.stage, tpRank: 0, label: laneLabel(s.stage, 0, 1), bars: [] };
      byLane.set(key, lane);
    }
    const segments: Segment[] = [];
    const idleFrom = laneEnd.get(s.stage) ?? 0;
    if (s.start_ms > idleFrom && s.ready_ms > idleFrom) {
      segments.push({ kind: 'wait', startMs: idleFrom, endMs: Math.min(s.ready_ms, s.start_ms) });
    }
    segments.push({ kind: 'compute', startMs: s.start_ms, endMs: s.end_ms });
    if (s.send_start_ms !== undefined && s.send_end_ms !== undefined && s.send_end_ms > s.send_start_ms) {
      segments.push({ kind: 'send', startMs: s.send_start_ms, endMs: s.send_end_ms });
    }
    laneEnd.set(s.stage, s.end_ms);
    lane.bars.push({ chunk: s.chunk, offset: s.offset, size: s.size, decode: false, segments });
  }
  return finish(byLane);
}

export interface RunFigures {
  /** The chunk sizes stage 0 ran, in order: the schedule as executed. */
  chunkSizes: number[];
  /** Per stage: compute time over the prefill's span (first chunk start to the last compute end). */
  stageUtilization: number[];
  /** 1 − mean utilisation. */
  bubbleRatio: number;
  decodeSteps: number;
}

/**
 * The figures the control plane derives from a timeline (io.pipefill.model.pipeline.Timeline), computed the
 * same way from TP rank 0's prefill events so that a run still in flight can show them too.
 */
export function runFigures(events: StageEvent[]): RunFigures {
  const prefill = events.filter((e) => !e.decode && e.tpRank === 0);
  const stages = events.reduce((m, e) => Math.max(m, e.stage + 1), 0);
  const chunkSizes = prefill.filter((e) => e.stage === 0).sort((a, b) => a.chunk - b.chunk).map((e) => e.size);
  // reduce, not Math.min(...): a long prompt's thousands of events would overflow the argument list
  const begin = prefill.length ? prefill.reduce((m, e) => Math.min(m, e.startMs), Infinity) : 0;
  const end = prefill.length ? prefill.reduce((m, e) => Math.max(m, e.computeStartMs + e.computeMs), -Infinity) : begin;
  const busy = new Array<number>(stages).fill(0);
  for (const e of prefill) {
    busy[e.stage] += e.computeMs;
  }
  const span = end - begin;
  const stageUtilization = busy.map((b) => (span > 0 ? b / span : 0));
  const bubbleRatio = stages ? 1 - stageUtilization.reduce((a, b) => a + b, 0) / stages : 0;
  const decodeSteps = events.filter((e) => e.decode && e.stage === 0 && e.tpRank === 0).length;
  return { chunkSizes, stageUtilization, bubbleRatio, decodeSteps };
}

/** The bar of a lane that covers ms (a binary search on the bars' start, for hover), if any. */
export function barAt(lane: Lane, ms: number): Bar | undefined {
  let lo = 0;
  let hi = lane.bars.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if ((lane.bars[mid].segments[0]?.startMs ?? 0) <= ms) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  for (let i = found; i >= 0 && i >= found - 2; i--) {
    const b = lane.bars[i];
    if (b.segments.some((s) => s.startMs <= ms && ms <= s.endMs)) {
      return b;
    }
  }
  return undefined;
}

/** Run-length form of a chunk-size sequence for display: "512 ×6, 384, 256 ×2". */
export function runLengths(sizes: number[]): string {
  const parts: string[] = [];
  let i = 0;
  while (i < sizes.length) {
    let j = i;
    while (j < sizes.length && sizes[j] === sizes[i]) {
      j++;
    }
    parts.push(j - i > 1 ? `${sizes[i]} ×${j - i}` : `${sizes[i]}`);
    i = j;
  }
  return parts.join(', ');
}

/** A rectangle to fill on the chart, in CSS pixels within the plot (x from the plot's left edge). */
export interface Rect { lane: number; kind: SegmentKind; x: number; width: number }

/**
 * The rectangles that draw a chart plotWidth pixels wide: one per segment, except that segments narrower
 * than a pixel are merged per lane, kind and pixel column, so a timeline of any length costs at most a few
 * rectangles per pixel and lane. A bar wider than 3 pixels leaves a 1-pixel gap before the next one so
 * that neighbouring chunks stay apart.
 */
export function layoutRects(g: Gantt, plotWidth: number): Rect[] {
  const span = Math.max(g.endMs - g.startMs, 1e-9);
  const x = (ms: number) => ((ms - g.startMs) / span) * plotWidth;
  const rects: Rect[] = [];
  g.lanes.forEach((lane, li) => {
    const lastColumn: Partial<Record<SegmentKind, number>> = {};
    for (const bar of lane.bars) {
      for (const s of bar.segments) {
        const x0 = x(s.startMs);
        const w = x(s.endMs) - x0;
        if (w < 1) {
          const column = Math.floor(x0);
          if (lastColumn[s.kind] === column) {
            continue;
          }
          lastColumn[s.kind] = column;
          rects.push({ lane: li, kind: s.kind, x: column, width: 1 });
        } else {
          rects.push({ lane: li, kind: s.kind, x: x0, width: w > 3 ? w - 1 : w });
        }
      }
    }
  });
  return rects;
}
