-- The queue: batches, jobs and failed-job records (seed tables), with the
-- triggers that keep batch counters and failure records consistent with jobs.

create table job_batches (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references organizations (id),
  batch_name varchar(255) not null check (length(trim(batch_name)) > 0),
  total_jobs integer not null default 0 check (total_jobs >= 0),
  -- jobs not yet finished (pending or running)
  pending_jobs integer not null default 0 check (pending_jobs >= 0),
  processed_jobs integer not null default 0 check (processed_jobs >= 0),
  failed_jobs integer not null default 0 check (failed_jobs >= 0),
  running_jobs integer not null default 0 check (running_jobs >= 0),
  cancelled_jobs integer not null default 0 check (cancelled_jobs >= 0),
  status varchar(20) not null default 'pending'
    check (status in ('pending', 'running', 'completed', 'failed', 'cancelled')),
  progress decimal(5, 2) not null default 0.00 check (progress between 0 and 100),
  started_at timestamptz,
  completed_at timestamptz,
  cancelled_at timestamptz,
  created_by uuid references users (id),
  metadata jsonb default '{}',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (id, organization_id),
  constraint job_batches_counters_add_up
    check (total_jobs = pending_jobs + processed_jobs + failed_jobs + cancelled_jobs)
);
create index job_batches_organization_idx on job_batches (organization_id, created_at desc, id desc);
create index job_batches_created_idx on job_batches (created_at desc, id desc);

create table jobs (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references organizations (id),
  job_type varchar(50) not null check (job_type in (
    'email', 'sms', 'whatsapp', 'document_processing', 'report_generation',
    'data_sync', 'webhook', 'cleanup', 'other')),
  job_name varchar(255) not null check (length(trim(job_name)) > 0),
  payload jsonb not null,
  status varchar(20) not null default 'pending'
    check (status in ('pending', 'running', 'completed', 'failed', 'cancelled')),
  priority varchar(10) not null default 'normal'
    check (priority in ('low', 'normal', 'high', 'urgent')),
  -- claim order: urgent (0) before high, normal and low (3)
  priority_rank smallint generated always as (
    case priority when 'urgent' then 0 when 'high' then 1 when 'normal' then 2 else 3 end
  ) stored,
  queue varchar(100) not null default 'default' check (queue ~ '^[a-z0-9_-]{1,100}$'),
  attempts integer not null default 0 check (attempts >= 0),
  max_attempts integer not null default 3 check (max_attempts between 1 and 100),
  available_at timestamptz not null default now(),
  started_at timestamptz,
  completed_at timestamptz,
  failed_at timestamptz,
  error_message text,
  error_details jsonb,
  result jsonb,
  batch_id uuid,
  created_by uuid references users (id),
  metadata jsonb default '{}',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (id, organization_id),
  -- a job's batch always belongs to the job's organization
  foreign key (batch_id, organization_id) references job_batches (id, organization_id)
);
create index jobs_organization_idx on jobs (organization_id, created_at desc, id desc);
create index jobs_created_idx on jobs (created_at desc, id desc);
create index jobs_batch_idx on jobs (batch_id) where batch_id is not null;

create table failed_jobs (
  id uuid primary key default gen_random_uuid(),
  job_id uuid not null unique,
  organization_id uuid not null references organizations (id),
  job_type varchar(50) not null,
  job_name varchar(255) not null,
  payload jsonb not null,
  error_message text not null,
  error_details jsonb,
  stack_trace text,
  failed_at timestamptz not null default now(),
  retry_count integer not null default 0 check (retry_count >= 0),
  max_retries integer not null default 3 check (max_retries >= 0),
  is_resolved boolean not null default false,
  resolved_at timestamptz,
  resolved_by uuid references users (id),
  resolution text,
  metadata jsonb default '{}',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  foreign key (job_id, organization_id) references jobs (id, organization_id) on delete cascade,
  constraint failed_jobs_resolution_complete
    check (not is_resolved or (resolved_at is not null and resolution is not null))
);
create index failed_jobs_organization_idx
  on failed_jobs (organization_id, is_resolved, created_at desc, id desc);
create index failed_jobs_created_idx on failed_jobs (created_at desc, id desc);

create trigger job_batches_updated_at before update on job_batches
  for each row execute function set_updated_at();
create trigger jobs_updated_at before update on jobs
  for each row execute function set_updated_at();
create trigger failed_jobs_updated_at before update on failed_jobs
  for each row execute function set_updated_at();

-- Batch counters. Statement-level triggers with transition tables: one UPDATE
-- per touched batch per statement, however many jobs the statement changed.
create function job_batches_apply_job_changes() returns trigger
language plpgsql
as $$
declare
  batch_ids uuid[];
  signs integer[];
  statuses text[];
  touched uuid[];
begin
  -- Each transition table exists only for its own event, so each branch names
  -- only the tables it has; they all reduce to (batch, +1/-1, status) triples.
  if tg_op = 'INSERT' then
    select array_agg(batch_id), array_agg(1), array_agg(status)
      into batch_ids, signs, statuses
      from new_jobs where batch_id is not null;
  elsif tg_op = 'DELETE' then
    select array_agg(batch_id), array_agg(-1), array_agg(status)
      into batch_ids, signs, statuses
      from old_jobs where batch_id is not null;
  else
    select array_agg(c.batch_id), array_agg(c.sign), array_agg(c.status)
      into batch_ids, signs, statuses
      from (
        select batch_id, -1 as sign, status from old_jobs where batch_id is not null
        union all
        select batch_id, 1, status from new_jobs where batch_id is not null
      ) c;
  end if;

  if batch_ids is null then
    return null;
  end if;

  select array_agg(distinct b order by b) into touched from unnest(batch_ids) b;
  -- lock in id order so concurrent statements cannot deadlock on batch rows
  perform 1 from job_batches where id = any (touched) order by id for update;

  update job_batches b set
    total_jobs     = b.total_jobs + d.total,
    pending_jobs   = b.pending_jobs + d.unfinished,
    running_jobs   = b.running_jobs + d.running,
    processed_jobs = b.processed_jobs + d.completed,
    failed_jobs    = b.failed_jobs + d.failed,
    cancelled_jobs = b.cancelled_jobs + d.cancelled
  from (
    select c.batch_id,
           sum(c.sign) as total,
           coalesce(sum(c.sign) filter (where c.status in ('pending', 'running')), 0) as unfinished,
           coalesce(sum(c.sign) filter (where c.status = 'running'), 0) as running,
           coalesce(sum(c.sign) filter (where c.status = 'completed'), 0) as completed,
           coalesce(sum(c.sign) filter (where c.status = 'failed'), 0) as failed,
           coalesce(sum(c.sign) filter (where c.status = 'cancelled'), 0) as cancelled
    from unnest(batch_ids, signs, statuses) as c (batch_id, sign, status)
    group by c.batch_id
  ) d
  where b.id = d.batch_id
    and (d.total, d.unfinished, d.running, d.completed, d.failed, d.cancelled)
        is distinct from (0::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint);

  perform job_batches_refresh_status(touched);
  return null;
end
$$;

-- Derives status, progress and timestamps of batches from their counters.
create function job_batches_refresh_status(batch_ids uuid[]) returns void
language sql
as $$
  update job_batches set
    progress = case when total_jobs = 0 then 0
                    else round(100.0 * (total_jobs - pending_jobs) / total_jobs, 2) end,
    status = case
      when cancelled_at is not null then 'cancelled'
      when total_jobs = 0 then 'pending'
      when pending_jobs = 0 and failed_jobs > 0 then 'failed'
      when pending_jobs = 0 and processed_jobs = 0 and cancelled_jobs > 0 then 'cancelled'
      when pending_jobs = 0 then 'completed'
      when running_jobs > 0 or pending_jobs < total_jobs then 'running'
      else 'pending' end,
    started_at = case
      when started_at is null and (running_jobs > 0 or pending_jobs < total_jobs) then now()
      else started_at end,
    completed_at = case
      when pending_jobs = 0 and total_jobs > 0 then coalesce(completed_at, now())
      else null end
  where id = any (batch_ids)
$$;

create trigger jobs_batch_counters_insert after insert on jobs
  referencing new table as new_jobs
  for each statement execute function job_batches_apply_job_changes();
create trigger jobs_batch_counters_update after update on jobs
  referencing old table as old_jobs new table as new_jobs
  for each statement execute function job_batches_apply_job_changes();
create trigger jobs_batch_counters_delete after delete on jobs
  referencing old table as old_jobs
  for each statement execute function job_batches_apply_job_changes();

-- A job that reaches `failed` gets its failed_jobs record in the same
-- transaction. A job that fails again after a retry reopens its record.
create function jobs_record_failure() returns trigger
language plpgsql
as $$
begin
  insert into failed_jobs (
    job_id, organization_id, job_type, job_name, payload, error_message,
    error_details, stack_trace, failed_at, max_retries
  ) values (
    new.id, new.organization_id, new.job_type, new.job_name, new.payload,
    coalesce(new.error_message, 'failed without an error message'),
    new.error_details, new.error_details ->> 'stack_trace',
    coalesce(new.failed_at, now()), new.max_attempts
  )
  on conflict (job_id) do update set
    error_message = excluded.error_message,
    error_details = excluded.error_details,
    stack_trace = excluded.stack_trace,
    failed_at = excluded.failed_at,
    max_retries = excluded.max_retries,
    payload = excluded.payload,
    is_resolved = false,
    resolved_at = null,
    resolved_by = null,
    resolution = null;
  return null;
end
$$;

create trigger jobs_failure_on_insert after insert on jobs
  for each row when (new.status = 'failed')
  execute function jobs_record_failure();
create trigger jobs_failure_on_update after update of status on jobs
  for each row when (new.status = 'failed' and old.status is distinct from 'failed')
  execute function jobs_record_failure();
