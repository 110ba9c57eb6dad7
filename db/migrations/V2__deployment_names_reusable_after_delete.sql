-- A deleted deployment keeps its record (its runs refer to it) but no longer holds its name: the name is
-- unique among live deployments only, so `pipefill up` and users can deploy again under the same name.
alter table deployments drop constraint deployments_name_key;
create unique index deployments_live_name on deployments (name) where state <> 'DELETED';
