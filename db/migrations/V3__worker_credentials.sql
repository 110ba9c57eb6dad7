-- Per-worker credentials (issue 23): the join token only admits a registration.
--   credential_hash  SHA-256 of the secret the control plane issued to the worker at registration; the worker
--                    presents the secret for its heartbeats and reports. Only the hash is kept.
--   agent_token      the secret the worker generated and handed over at registration; the control plane presents
--                    it to that worker's agent API (the agent refuses the join token). Kept as is: the control plane
--                    must send it.
-- Rows registered before this migration have neither: they cannot authenticate and are replaced by their
-- worker's next registration.
alter table workers add column credential_hash bytea;
alter table workers add column agent_token text;
create unique index workers_credential_hash on workers (credential_hash) where credential_hash is not null;
create index workers_live_agent_url on workers (agent_url) where state <> 'LOST';
