-- What talks to the outside: an organization's system integrations (the
-- providers its jobs call), the log of every third-party API call, and the
-- outbound webhook configurations (the design note's tables).

create table system_integrations (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references organizations (id),
  name varchar(255) not null,
  integration_type varchar(50) not null
    check (integration_type in ('email', 'sms', 'whatsapp', 'data_sync', 'webhook', 'other')),
  provider varchar(100) not null,
  base_url varchar(500),
  is_active boolean not null default true,
  -- credentials are encrypted by the application before they reach this column
  credentials_encrypted bytea,
  config jsonb not null default '{}',
  last_tested_at timestamptz,
  last_test_ok boolean,
  metadata jsonb not null default '{}',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  -- lets a log row name its integration together with its organization
  unique (id, organization_id)
);
create index system_integrations_organization_idx
  on system_integrations (organization_id, created_at desc, id desc);
create trigger system_integrations_updated_at before update on system_integrations
  for each row execute function set_updated_at();

create table third_party_api_log (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references organizations (id),
  integration_id uuid,
  api_name varchar(255) not null,
  endpoint varchar(500) not null,
  method varchar(10) not null check (method in ('GET', 'POST', 'PUT', 'DELETE', 'PATCH')),
  request_payload jsonb,
  response_payload jsonb,
  status_code integer check (status_code between 100 and 599),
  -- milliseconds
  response_time integer check (response_time >= 0),
  status varchar(20) not null check (status in ('pending', 'success', 'failed', 'timeout')),
  error_message text,
  retry_count integer not null default 0 check (retry_count >= 0),
  is_success boolean not null default false,
  metadata jsonb default '{}',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  -- an integration referenced by a log row belongs to the same organization
  foreign key (integration_id, organization_id)
    references system_integrations (id, organization_id)
);
create index third_party_api_log_organization_idx
  on third_party_api_log (organization_id, created_at desc, id desc);
create index third_party_api_log_created_idx on third_party_api_log (created_at desc, id desc);
create index third_party_api_log_integration_idx
  on third_party_api_log (integration_id) where integration_id is not null;
create trigger third_party_api_log_updated_at before update on third_party_api_log
  for each row execute function set_updated_at();

create table webhooks (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references organizations (id),
  webhook_name varchar(255) not null check (length(trim(webhook_name)) > 0),
  webhook_url varchar(500) not null check (webhook_url ~ '^https?://'),
  event_type varchar(50) not null check (event_type in (
    'case_created', 'case_updated', 'case_approved', 'case_rejected', 'case_closed',
    'document_uploaded', 'document_verified', 'job_completed', 'job_failed',
    'batch_completed')),
  status varchar(20) not null default 'active' check (status in ('active', 'inactive', 'error')),
  is_active boolean not null default true,
  -- encrypted by the application; never returned to the browser
  secret varchar(255),
  headers jsonb default '{}',
  retry_count integer not null default 0 check (retry_count >= 0),
  max_retries integer not null default 3 check (max_retries between 0 and 20),
  -- seconds
  timeout integer not null default 30 check (timeout between 1 and 120),
  last_triggered_at timestamptz,
  last_success_at timestamptz,
  last_failure_at timestamptz,
  failure_count integer not null default 0 check (failure_count >= 0),
  metadata jsonb default '{}',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index webhooks_organization_idx on webhooks (organization_id, created_at desc, id desc);
create index webhooks_created_idx on webhooks (created_at desc, id desc);
create trigger webhooks_updated_at before update on webhooks
  for each row execute function set_updated_at();
