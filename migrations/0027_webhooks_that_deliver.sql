-- Webhooks that deliver: each event a webhook is subscribed to becomes a
-- `webhook` job that posts it, signed (Standard Webhooks), and whose
-- attempts are API log rows.
--
-- The event vocabulary: the design note's case events as they were, and
-- the system's own events named `noun.verb` (the note's job_completed,
-- job_failed and batch_completed become job.completed, job.failed and
-- batch.completed).
update webhooks set event_type = 'job.completed' where event_type = 'job_completed';
update webhooks set event_type = 'job.failed' where event_type = 'job_failed';
update webhooks set event_type = 'batch.completed' where event_type = 'batch_completed';
alter table webhooks drop constraint webhooks_event_type_check;
alter table webhooks add constraint webhooks_event_type_check check (event_type in (
  'case_created', 'case_updated', 'case_approved', 'case_rejected', 'case_closed',
  'document_uploaded', 'document_verified',
  'job.completed', 'job.failed', 'batch.completed', 'batch.failed', 'failed_job.resolved',
  'webhook.test'));

-- The signing secret and the custom headers' values, sealed like an
-- integration's credentials (AES-256-GCM bound to the row, the key's id
-- beside them). A rotated-out secret keeps signing beside the new one
-- until `previous_secret_until`. `secret` (the note's column) stays
-- unused: nothing readable is stored. `headers` keeps each custom header's
-- name with a masked hint of its value, for the console.
alter table webhooks
  add column secret_encrypted bytea,
  add column secret_key_id varchar(64),
  add column secret_hint varchar(32),
  add column previous_secret_encrypted bytea,
  add column previous_secret_key_id varchar(64),
  add column previous_secret_until timestamptz,
  add column headers_encrypted bytea,
  add column headers_key_id varchar(64),
  -- consecutive failed deliveries after which the webhook stops receiving
  add column disable_after_failures integer not null default 10
    check (disable_after_failures between 1 and 1000);

-- The event outbox: written in the transaction of the change that raises
-- the event (or by the events API), then fanned out as `webhook` jobs.
create table webhook_events (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references organizations (id),
  event_type varchar(50) not null,
  payload jsonb not null,
  -- who raised it: the engine, the events API, a person in the console
  source varchar(20) not null check (source in ('system', 'api', 'console')),
  -- the events API's Idempotency-Key and the hash of the body it came with
  idempotency_key varchar(255),
  request_hash varchar(64),
  created_at timestamptz not null default now()
);
create unique index webhook_events_idempotency_key
  on webhook_events (organization_id, idempotency_key) where idempotency_key is not null;
create index webhook_events_organization_idx
  on webhook_events (organization_id, created_at desc, id desc);

grant select, insert on webhook_events to veriphy_app, veriphy_worker;
alter table webhook_events enable row level security;
alter table webhook_events force row level security;
create policy webhook_events_tenant on webhook_events to veriphy_app
  using ((select app_is_bank_admin()) or organization_id = (select app_current_org()))
  with check ((select app_is_bank_admin()) or organization_id = (select app_current_org()));
create policy webhook_events_worker on webhook_events to veriphy_worker
  using (true) with check (true);

-- an organization's events of one type, newest first
create index webhook_events_type_idx on webhook_events (organization_id, event_type, created_at desc);

-- A webhook's delivery history: its attempts are API log rows whose
-- metadata names it.
create index third_party_api_log_webhook_idx
  on third_party_api_log ((metadata ->> 'webhook_id'), created_at desc, id desc)
  where metadata ? 'webhook_id';
