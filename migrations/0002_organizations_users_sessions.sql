-- Who uses the console: organizations (the tenants), their users, the
-- append-only audit log of what they did, and the session store.

create table organizations (
  id uuid primary key default gen_random_uuid(),
  name varchar(255) not null,
  slug varchar(100) not null unique check (slug ~ '^[a-z0-9][a-z0-9-]*$'),
  is_active boolean not null default true,
  -- retention settings used by the cleanup job
  job_retention_days integer not null default 30 check (job_retention_days between 1 and 3650),
  failed_job_retention_days integer not null default 90 check (failed_job_retention_days between 1 and 3650),
  api_log_retention_days integer not null default 90 check (api_log_retention_days between 1 and 3650),
  metadata jsonb not null default '{}',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
-- names differ by more than their case
create unique index organizations_name_key on organizations (lower(name));
create trigger organizations_updated_at before update on organizations
  for each row execute function set_updated_at();

create table users (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid references organizations (id),
  email varchar(320) not null check (email = lower(email) and position('@' in email) > 1),
  full_name varchar(255) not null,
  role varchar(20) not null check (role in ('bank_admin', 'org_admin', 'org_viewer')),
  password_hash text not null,
  is_active boolean not null default true,
  last_login_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  -- bank admins belong to the bank, everyone else to exactly one organization
  constraint users_role_matches_organization
    check ((role = 'bank_admin') = (organization_id is null))
);
create unique index users_email_key on users (email);
create index users_organization_idx on users (organization_id, created_at desc, id desc);
create trigger users_updated_at before update on users
  for each row execute function set_updated_at();

-- One row per state-changing action. Append-only: the application roles may
-- insert and read, and the trigger refuses every change or deletion, whoever
-- asks (the owner included).
create table audit_log (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid references organizations (id),
  actor_user_id uuid references users (id),
  actor_email varchar(320),
  action varchar(100) not null,
  target_type varchar(50),
  target_id text,
  summary jsonb not null default '{}',
  ip_address text,
  user_agent text,
  created_at timestamptz not null default now()
);
create index audit_log_organization_idx on audit_log (organization_id, created_at desc, id desc);
create index audit_log_created_idx on audit_log (created_at desc, id desc);

create function audit_log_is_append_only() returns trigger
language plpgsql
as $$
begin
  raise exception 'audit_log is append-only';
end
$$;
create trigger audit_log_append_only
  before update or delete on audit_log
  for each row execute function audit_log_is_append_only();

-- tower-sessions' table, created here so the application role needs no DDL
-- rights (`if not exists`: the store's own migration may have run first).
create schema if not exists tower_sessions;
create table if not exists tower_sessions.session (
  id text primary key not null,
  data bytea not null,
  expiry_date timestamptz not null
);
create index if not exists session_expiry_idx on tower_sessions.session (expiry_date);
