-- Retention that runs by itself, files kept only as long as the
-- organization says, and a ceiling on the documents an organization stores.

alter table organizations
  -- uploaded documents and generated reports older than this are removed by
  -- the cleanup job
  add column file_retention_days integer not null default 90
    check (file_retention_days between 1 and 3650),
  -- uploads beyond this many bytes of stored files are refused
  add column storage_quota_bytes bigint not null default 1073741824
    check (storage_quota_bytes between 1 and 1099511627776);

-- One row per organization and UTC day whose cleanup has been enqueued. Every
-- worker process offers the day's rows; the primary key lets exactly one
-- offer per organization and day succeed, so the schedule runs once a day
-- however many processes there are (and catches up after downtime).
create table retention_runs (
  organization_id uuid not null references organizations (id) on delete cascade,
  run_on date not null,
  -- the cleanup job enqueued (set in the same transaction as the row)
  job_id uuid,
  created_at timestamptz not null default now(),
  primary key (organization_id, run_on)
);

grant select on retention_runs to veriphy_app;
grant select, insert, update, delete on retention_runs to veriphy_worker;
alter table retention_runs enable row level security;
alter table retention_runs force row level security;
create policy retention_runs_tenant on retention_runs to veriphy_app
  using (app_can_access(organization_id));
create policy retention_runs_worker on retention_runs to veriphy_worker
  using (true) with check (true);

