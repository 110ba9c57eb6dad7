-- The control plane's records. Every state change is one transaction; timestamps are UTC.

create table nodes (
    id               uuid primary key,
    name             text        not null unique,
    host             text        not null,
    cpu_cores        integer     not null check (cpu_cores >= 0),
    memory_bytes     bigint      not null check (memory_bytes >= 0),
    gpus             jsonb       not null default '[]',   -- [{model, memoryBytes, count}]
    labels           jsonb       not null default '{}',
    health           text        not null,                 -- HEALTHY, LOST, DRAINING
    last_heartbeat   timestamptz,
    created_at       timestamptz not null default now()
);

create table workers (
    id               uuid primary key,
    node_id          uuid        not null references nodes (id),
    backend          text        not null,
    agent_url        text        not null,
    pod_name         text,
    state            text        not null,                 -- IDLE, LOADING, READY, RUNNING, FAILED, LOST, DRAINED
    deployment_id    uuid,                                 -- the shard it holds, if any
    last_heartbeat   timestamptz not null,
    registered_at    timestamptz not null default now()
);
create index workers_node on workers (node_id);

create table models (
    id               uuid primary key,
    name             text        not null unique,
    location         text        not null,
    architecture     text        not null,
    layers           integer     not null,
    hidden_size      integer     not null,
    attention_heads  integer     not null,
    kv_heads         integer     not null,
    vocab_size       integer     not null,
    max_positions    integer     not null,
    parameters       bigint      not null,
    size_bytes       bigint      not null,
    config           jsonb       not null,                 -- the parsed config summary
    registered_at    timestamptz not null default now()
);

create table deployments (
    id               uuid primary key,
    name             text        not null unique,
    model_id         uuid        not null references models (id),
    pp               integer     not null check (pp >= 1),
    tp               integer     not null check (tp >= 1),
    layers_per_stage jsonb       not null,                 -- [int], one per stage
    chunk_size       integer     not null check (chunk_size >= 1),
    dynamic_chunking boolean     not null,
    sigma            double precision not null,
    max_tokens       integer     not null check (max_tokens >= 1),
    threads_per_rank integer     not null check (threads_per_rank >= 1),
    state            text        not null,                 -- LOADING, READY, DEGRADED, FAILED, DELETED
    state_reason     text,
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now()
);

-- where every stage and TP rank of a deployment runs
create table placements (
    deployment_id    uuid        not null references deployments (id) on delete cascade,
    rank             integer     not null,
    stage            integer     not null,
    tp_rank          integer     not null,
    worker_id        uuid        not null references workers (id),
    primary key (deployment_id, rank)
);
create index placements_worker on placements (worker_id);

create table runs (
    id               uuid primary key,
    deployment_id    uuid        not null references deployments (id),
    prompt_kind      text        not null,                 -- TEXT, TOKENS, RANDOM
    prompt_tokens    integer     not null,
    max_new_tokens   integer     not null,
    chunk_schedule   jsonb,                                -- [size, ...] as the ranks ran it
    state            text        not null,                 -- QUEUED, RUNNING, SUCCEEDED, FAILED
    ttft_ms          double precision,
    total_ms         double precision,
    tokens_per_s     double precision,
    bubble_ratio     double precision,
    timeline         jsonb,                                -- [StageEvent]
    first_token      integer,
    generated        jsonb,                                -- [token id]
    last_logits      bytea,                                -- float32 little-endian, vocab entries
    error            text,
    submitted_at     timestamptz not null default now(),
    started_at       timestamptz,
    finished_at      timestamptz
);
create index runs_deployment on runs (deployment_id, submitted_at desc);
create index runs_state on runs (state);

create table run_events (
    id               bigserial primary key,
    run_id           uuid        not null references runs (id) on delete cascade,
    at               timestamptz not null default now(),
    kind             text        not null,                 -- STATE, PROGRESS, STAGE, ERROR
    detail           jsonb       not null
);
create index run_events_run on run_events (run_id, id);
