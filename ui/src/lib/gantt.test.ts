import { describe, expect, it } from 'vitest';
import type { PlanStep, StageEvent } from './api';
import { barAt, layoutRects, measuredGantt, planGantt, runFigures, runLengths } from './gantt';

function ev(p: Partial<StageEvent>): StageEvent {
  return { request: 0, rank: 0, stage: 0, tpRank: 0, decode: false, chunk: 0, offset: 0, size: 64, startMs: 0,
    recvWaitMs: 0, computeStartMs: 0, computeMs: 1, sendPostedMs: 0, sendDoneMs: -1, ...p };
}

// PP 2 × TP 2, two chunks of 64 and one decode step, with hand-chosen times
const timeline: StageEvent[] = [
  ev({ rank: 0, stage: 0, tpRank: 0, chunk: 0, startMs: 0, computeStartMs: 0, computeMs: 10, sendPostedMs: 10, sendDoneMs: 12 }),
  ev({ rank: 0, stage: 0, tpRank: 0, chunk: 1, offset: 64, startMs: 10, computeStartMs: 10, computeMs: 10, sendPostedMs: 20, sendDoneMs: 22 }),
  ev({ rank: 1, stage: 0, tpRank: 1, chunk: 0, startMs: 0, computeStartMs: 0, computeMs: 10, sendPostedMs: 10, sendDoneMs: 12 }),
  ev({ rank: 1, stage: 0, tpRank: 1, chunk: 1, offset: 64, startMs: 10, computeStartMs: 10, computeMs: 10, sendPostedMs: 20, sendDoneMs: 22 }),
  ev({ rank: 2, stage: 1, tpRank: 0, chunk: 0, startMs: 0, recvWaitMs: 12, computeStartMs: 12, computeMs: 8 }),
  ev({ rank: 2, stage: 1, tpRank: 0, chunk: 1, offset: 64, startMs: 20, recvWaitMs: 2, computeStartMs: 22, computeMs: 8 }),
  ev({ rank: 3, stage: 1, tpRank: 1, chunk: 0, startMs: 0, recvWaitMs: 12, computeStartMs: 12, computeMs: 8 }),
  ev({ rank: 3, stage: 1, tpRank: 1, chunk: 1, offset: 64, startMs: 20, recvWaitMs: 2, computeStartMs: 22, computeMs: 8 }),
  ev({ rank: 0, stage: 0, tpRank: 0, decode: true, chunk: 0, offset: 128, size: 1, startMs: 31, computeStartMs: 31, computeMs: 1, sendPostedMs: 32, sendDoneMs: 33 }),
  ev({ rank: 2, stage: 1, tpRank: 0, decode: true, chunk: 0, offset: 128, size: 1, startMs: 30, recvWaitMs: 3, computeStartMs: 33, computeMs: 1 }),
];

describe('measuredGantt', () => {
  const g = measuredGantt(timeline);

  it('makes one lane per stage and TP rank, in stage then rank order', () => {
    expect(g.lanes.map((l) => l.label)).toEqual(['stage 0 · tp 0', 'stage 0 · tp 1', 'stage 1 · tp 0', 'stage 1 · tp 1']);
  });

  it('makes one bar per event: chunks on every lane plus decode steps', () => {
    expect(g.bars).toBe(10);
    expect(g.chunkBars).toBe(8);
    expect(g.lanes.map((l) => l.bars.length)).toEqual([3, 2, 3, 2]);
  });

  it('splits a bar into receive wait, compute and send', () => {
    const second = g.lanes[2].bars[1];
    expect(second.segments).toEqual([
      { kind: 'wait', startMs: 20, endMs: 22 },
      { kind: 'compute', startMs: 22, endMs: 30 },
    ]);
    expect(g.lanes[0].bars[0].segments).toEqual([
      { kind: 'compute', startMs: 0, endMs: 10 },
      { kind: 'send', startMs: 10, endMs: 12 },
    ]);
    expect(g.lanes[0].bars[2].segments[0]).toEqual({ kind: 'decode', startMs: 31, endMs: 32 });
  });

  it('spans the first to the last segment', () => {
    expect(g.startMs).toBe(0);
    expect(g.endMs).toBe(34);
  });

  it('finds the bar under a time', () => {
    expect(barAt(g.lanes[2], 25)?.chunk).toBe(1);
    expect(barAt(g.lanes[2], 5)?.chunk).toBe(0);
    expect(barAt(g.lanes[3], 31)).toBeUndefined();
    expect(barAt(g.lanes[2], 31)?.decode).toBe(true);
  });

  it('is empty for no events', () => {
    expect(measuredGantt([])).toEqual({ lanes: [], startMs: 0, endMs: 0, bars: 0, chunkBars: 0 });
  });
});

describe('runFigures', () => {
  it('derives chunk sizes, utilisation and bubble as the control plane does', () => {
    const f = runFigures(timeline);
    expect(f.chunkSizes).toEqual([64, 64]);
    // span 0..30 ms; stage 0 computes 20 ms, stage 1 16 ms (TP rank 0, prefill only)
    expect(f.stageUtilization[0]).toBeCloseTo(20 / 30, 12);
    expect(f.stageUtilization[1]).toBeCloseTo(16 / 30, 12);
    expect(f.bubbleRatio).toBeCloseTo(1 - (20 / 30 + 16 / 30) / 2, 12);
    expect(f.decodeSteps).toBe(1);
  });
});

describe('planGantt', () => {
  const steps: PlanStep[] = [
    { stage: 0, chunk: 0, offset: 0, size: 512, ready_ms: 0, start_ms: 0, end_ms: 4, compute_ms: 4, send_start_ms: 4, send_end_ms: 5 },
    { stage: 0, chunk: 1, offset: 512, size: 512, ready_ms: 0, start_ms: 4, end_ms: 9, compute_ms: 5, send_start_ms: 9, send_end_ms: 10 },
    { stage: 1, chunk: 0, offset: 0, size: 512, ready_ms: 5, start_ms: 5, end_ms: 9, compute_ms: 4 },
    { stage: 1, chunk: 1, offset: 512, size: 512, ready_ms: 10, start_ms: 10, end_ms: 15, compute_ms: 5 },
  ];
  const g = planGantt(steps);

  it('makes one lane per stage and one bar per chunk', () => {
    expect(g.lanes.map((l) => l.label)).toEqual(['stage 0', 'stage 1']);
    expect(g.bars).toBe(4);
    expect(g.endMs).toBe(15);
  });

  it('shows the idle time before a chunk waiting for its input as the wait', () => {
    expect(g.lanes[1].bars[0].segments).toEqual([
      { kind: 'wait', startMs: 0, endMs: 5 },
      { kind: 'compute', startMs: 5, endMs: 9 },
    ]);
    expect(g.lanes[1].bars[1].segments[0]).toEqual({ kind: 'wait', startMs: 9, endMs: 10 });
    expect(g.lanes[0].bars[1].segments).toEqual([
      { kind: 'compute', startMs: 4, endMs: 9 },
      { kind: 'send', startMs: 9, endMs: 10 },
    ]);
  });
});

describe('runLengths', () => {
  it('collapses repeats', () => {
    expect(runLengths([512, 512, 512, 384, 256, 256])).toBe('512 ×3, 384, 256 ×2');
    expect(runLengths([])).toBe('');
  });
});

describe('layoutRects', () => {
  it('draws every segment of a short timeline, a gap between wide bars', () => {
    const g = measuredGantt(timeline);
    const rects = layoutRects(g, 340); // 10 px per ms
    expect(rects.length).toBe(g.lanes.flatMap((l) => l.bars).flatMap((b) => b.segments).length);
    const firstCompute = rects.find((r) => r.lane === 0 && r.kind === 'compute')!;
    expect(firstCompute.x).toBe(0);
    expect(firstCompute.width).toBe(99); // 10 ms = 100 px, less the 1-px gap
  });

  it('keeps a million-token prompt to a few rectangles per pixel and lane', () => {
    // 4096 chunks of 256 tokens on 8 stages: 32768 bars, ~90000 segments
    const events: StageEvent[] = [];
    for (let stage = 0; stage < 8; stage++) {
      for (let c = 0; c < 4096; c++) {
        const t = c * 1.0 + stage * 1.0;
        events.push(ev({ rank: stage, stage, chunk: c, offset: c * 256, size: 256, startMs: t, recvWaitMs: 0.1,
          computeStartMs: t + 0.1, computeMs: 0.8, sendPostedMs: t + 0.9, sendDoneMs: stage < 7 ? t + 0.95 : -1 }));
      }
    }
    const g = measuredGantt(events);
    expect(g.bars).toBe(32768);
    const rects = layoutRects(g, 1000);
    // at most one rectangle per lane, kind and pixel column
    expect(rects.length).toBeLessThanOrEqual(8 * 3 * 1001);
    expect(new Set(rects.map((r) => `${r.lane}/${r.kind}/${r.x}`)).size).toBe(rects.length);
  });
});
