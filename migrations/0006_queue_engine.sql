-- The queue engine: leases, attempt history, timeouts, cancellation requests,
-- the claim index, queue controls and stored files (reports, documents).

alter table jobs
  -- which claim holds the job; a stale worker's writes are fenced on it
  add column lease_token uuid,
  add column locked_by varchar(200),
  -- renewed by the holder's heartbeat; the rescuer returns expired leases
  add column locked_until timestamptz,
  add column timeout_seconds integer not null default 300
    check (timeout_seconds between 1 and 86400),
  add column cancel_requested_at timestamptz,
  -- one object per finished unsuccessful attempt: attempt, started_at,
  -- finished_at, outcome, error
  add column attempt_log jsonb not null default '[]'::jsonb,
  -- the engine's fencing relies on this: a token means the job is running
  add constraint jobs_lease_only_while_running check (lease_token is null or status = 'running');

-- Claim order: per queue, urgent first, then the longest waiting.
create index jobs_runnable_idx on jobs (queue, priority_rank, available_at, id)
  where status = 'pending';
-- The rescuer's scan of held jobs.
create index jobs_running_idx on jobs (locked_until) where status = 'running';

-- Jobs are mostly updated by the engine, which sets updated_at itself; the
-- trigger only fills it in for writers that did not (cheaper than plpgsql per row).
drop trigger jobs_updated_at on jobs;
create trigger jobs_updated_at before update on jobs
  for each row when (new.updated_at is not distinct from old.updated_at)
  execute function set_updated_at();

-- Queue controls shared by every organization (queues are infrastructure):
-- only bank admins change them; everyone may read them.
create table queues (
  name varchar(100) primary key check (name ~ '^[a-z0-9_-]{1,100}$'),
  paused boolean not null default false,
  -- jobs of this queue one worker process runs at once
  concurrency integer not null default 10 check (concurrency between 1 and 1000),
  updated_by uuid references users (id),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create trigger queues_updated_at before update on queues
  for each row execute function set_updated_at();
insert into queues (name) values ('default');
-- queues that jobs already name
insert into queues (name) select distinct queue from jobs on conflict do nothing;
grant select on queues to veriphy_app, veriphy_worker;
grant insert, update on queues to veriphy_app, veriphy_worker;

-- Files the console stores for an organization: uploaded documents and
-- generated reports.
create table stored_files (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references organizations (id),
  kind varchar(20) not null check (kind in ('document', 'report')),
  file_name varchar(255) not null check (length(trim(file_name)) > 0),
  content_type varchar(255) not null,
  size_bytes bigint not null check (size_bytes >= 0),
  sha256 char(64) not null,
  content bytea not null,
  job_id uuid,
  created_by uuid references users (id),
  created_at timestamptz not null default now(),
  unique (id, organization_id)
);
create index stored_files_organization_idx on stored_files (organization_id, created_at desc, id desc);
grant select, insert, delete on stored_files to veriphy_app, veriphy_worker;
alter table stored_files enable row level security;
alter table stored_files force row level security;
create policy stored_files_app on stored_files to veriphy_app
  using (app_can_access(organization_id)) with check (app_can_access(organization_id));
create policy stored_files_worker on stored_files to veriphy_worker
  using (true) with check (true);
