-- Planned chunk schedules (issue 21): a deployment's chunking mode, and for chunking 'planned' the chunk-cost
-- calibration its schedules are optimised on (per stage t(prefix, n) = c0 + c1·n + c2·n·prefix + c3·n² ms and the
-- send d0 + d1·n ms; given in the request, or measured by a calibration run on the deployment's own workers).
alter table deployments add column chunking text not null default 'fixed'
    check (chunking in ('fixed', 'dynamic', 'planned'));
update deployments set chunking = 'dynamic' where dynamic_chunking;
alter table deployments add column calibration jsonb;    -- {source, stageCoefficients, send..., rms, runId, ...}
