-- API keys for the OpenAI-compatible routes (/v1/**, issue 19): an admin creates, lists and revokes them under
-- /api/v1/api-keys. The key itself is shown once, at creation; only its SHA-256 is kept, with its first characters
-- so that a listing can tell keys apart.
create table api_keys (
    id          uuid primary key,
    name        text not null,
    key_hash    bytea not null unique,
    key_prefix  text not null,
    created_at  timestamptz not null default now(),
    revoked_at  timestamptz
);
