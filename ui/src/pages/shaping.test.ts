import { describe, expect, it } from 'vitest';
import { layerRanges } from './Deployments';
import { runsQuery } from './Runs';
import { describeEvent, progressOf } from './RunDetail';
import { deploymentChunking, planBody, plannedMinMaxTokens } from './Planner';
import type { PlanFigures } from '../lib/api';

describe('page data shaping', () => {
  it('turns layers per stage into inclusive ranges', () => {
    expect(layerRanges([3, 3, 2])).toEqual([[0, 2], [3, 5], [6, 7]]);
  });

  it('builds the run filter query without empty filters', () => {
    expect(runsQuery('', '', 50)).toBe('limit=50');
    expect(runsQuery('tiny pp2', 'RUNNING', 20)).toBe('deployment=tiny+pp2&state=RUNNING&limit=20');
  });

  it('asks for a layout\'s planned schedule and deploys a plan with its chunking', () => {
    const form = { model: 'tiny', clusterSource: 'described' as const, gpu: 'h100', nodes: 1, gpusPerNode: 2, promptTokens: 1024,
      objective: 'ttft', chunk: '', dynamicChunking: false, smooth: '', allowInterNodeTp: false };
    const plan = { pp: 2, tp: 1, layer_partition: [1, 1],
      chunking: { dynamic: false, base: 128, sigma: 0, count: 8 } } as unknown as PlanFigures;
    expect(planBody(form, plan)).toMatchObject({ pp: 2, tp: 1, layerPartition: '1,1', chunk: 128 });
    const planned = planBody(form, plan, true);
    expect(planned).toMatchObject({ pp: 2, tp: 1, layerPartition: '1,1', chunking: 'planned' });
    expect(planned.chunk).toBeUndefined(); // the optimiser chooses the chunks: the planner refuses a size with them
    const fromAForm = planBody({ ...form, chunk: '256', dynamicChunking: true, smooth: '0.5' }, plan, true);
    expect([fromAForm.chunk, fromAForm.dynamicChunking, fromAForm.smooth]).toEqual([undefined, undefined, 0.5]);
    expect(deploymentChunking(plan)).toEqual({ chunkSize: 128, dynamicChunking: false });
    expect(deploymentChunking({ ...plan, chunking: { dynamic: true, base: 512, sigma: 0.6, count: 4 } }))
      .toEqual({ chunkSize: 512, dynamicChunking: true, sigma: 0.6 });
    expect(deploymentChunking({ ...plan, chunking: { dynamic: false, base: 128, sigma: 0, count: 3, planned: true, schedule: '448,384,192' } }))
      .toEqual({ chunking: 'planned', chunkSize: 448 });
    // the server's rules for a planned deployment without a calibration: chunkSize a multiple of 64 and at least 256
    expect(deploymentChunking({ ...plan, chunking: { dynamic: false, base: 1000, sigma: 0, count: 1, planned: true, schedule: '1000' } }))
      .toEqual({ chunking: 'planned', chunkSize: 1024 });
    expect(deploymentChunking({ ...plan, chunking: { dynamic: false, base: 200, sigma: 0, count: 1, planned: true, schedule: '200' } }))
      .toEqual({ chunking: 'planned', chunkSize: 256 });
    // and a calibration prompt of maxTokens − 1 tokens holding 8 chunks of 64, 128, … chunkSize: 64+128+256+512+576
    // +64+128 = 1728 for chunks up to 576, so 1730 is the least maxTokens (1729 leaves 7 chunks and 0 tokens)
    expect(plannedMinMaxTokens(576)).toBe(1730);
    expect(plannedMinMaxTokens(256)).toBe(64 + 128 + 256 + 64 + 128 + 256 + 64 + 2);
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
