import { describe, expect, it } from 'vitest';
import { layerRanges } from './Deployments';
import { runsQuery } from './Runs';
import { describeEvent, progressOf } from './RunDetail';

describe('page data shaping', () => {
  it('turns layers per stage into inclusive ranges', () => {
    expect(layerRanges([3, 3, 2])).toEqual([[0, 2], [3, 5], [6, 7]]);
  });

  it('builds the run filter query without empty filters', () => {
    expect(runsQuery('', '', 50)).toBe('limit=50');
    expect(runsQuery('tiny pp2', 'RUNNING', 20)).toBe('deployment=tiny+pp2&state=RUNNING&limit=20');
  });

  it('reads progress events and describes events in words', () => {
    const e = { id: 3, runId: 'r', at: '2026-01-01T00:00:00Z', kind: 'PROGRESS',
      detail: { rank: 1, type: 'PROGRESS', request: 0, chunk: 2, chunks: 5, done: 192, total: 300 } };
    expect(progressOf(e)).toEqual({ done: 192, total: 300, chunk: 2, chunks: 5 });
    expect(describeEvent(e)).toBe('chunk 3/5 through the last stage (192/300 tokens)');
    expect(progressOf({ ...e, kind: 'STATE', detail: { state: 'RUNNING' } })).toBeNull();
    expect(describeEvent({ ...e, kind: 'STATE', detail: { state: 'RUNNING' } })).toBe('state RUNNING');
  });
});
