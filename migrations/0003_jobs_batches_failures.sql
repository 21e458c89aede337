-- Jobs, their batches and their failure records (the design note's tables),
-- with the triggers that keep batch counters and failure records consistent
-- with the jobs themselves.
--
-- A job row is written three times: at enqueue, at claim and at completion.
-- Everything below is shaped so that the last two are cheap "HOT" updates,
-- which PostgreSQL can do only when no indexed column changes:
--
-- * no index on `jobs` mentions `status`, the lease or `available_at`: the
--   claim finds runnable jobs in `job_queue`, the rescuer finds held ones in
--   `job_leases` (both in the queue engine migration);
-- * fillfactor 50 leaves room on each page for the claim's new version of
--   every row on it; the completion reuses the space the claim's old versions
--   leave once pruned;
-- * no foreign keys on `jobs`: each would cost a row-level trigger per
--   inserted job. The same rules are checked once per INSERT statement by
--   `jobs_after_insert` (queue engine migration), and the referenced side
--   below refuses what a foreign key would refuse.
-- Measurements behind each of these are in docs/benchmarks.md.

-- Batches ---------------------------------------------------------------------

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
  -- lets a job name its batch together with its organization
  unique (id, organization_id),
  constraint job_batches_counters_add_up
    check (total_jobs = pending_jobs + processed_jobs + failed_jobs + cancelled_jobs)
);
create index job_batches_organization_idx on job_batches (organization_id, created_at desc, id desc);
create index job_batches_created_idx on job_batches (created_at desc, id desc);
create trigger job_batches_updated_at before update on job_batches
  for each row execute function set_updated_at();

-- Jobs --------------------------------------------------------------------------

create table jobs (
  id uuid primary key default gen_random_uuid(),
  -- owners (organization, batch in that organization, creator): checked per
  -- statement, see jobs_after_insert; fixed for the job's life
  organization_id uuid not null,
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
  -- a registered queue (see `queues`): registering checks the name once per
  -- statement instead of a CHECK on every write of every row
  queue varchar(100) not null default 'default',
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
  created_by uuid,
  metadata jsonb default '{}',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  -- the claim that holds the job; a stale holder's writes are fenced on it
  lease_token uuid,
  locked_by varchar(200),
  timeout_seconds integer not null default 300 check (timeout_seconds between 1 and 86400),
  cancel_requested_at timestamptz,
  -- one object per finished unsuccessful attempt (attempt, started_at,
  -- finished_at, outcome, error): the job's history, kept on its row
  attempt_log jsonb not null default '[]'::jsonb,
  -- the engine's fencing relies on this: a token means the job is running
  constraint jobs_lease_only_while_running check (lease_token is null or status = 'running')
) with (fillfactor = 50);
-- The console's lists (newest first per organization; bank admins' list
-- merges each organization's newest page) and a batch's jobs.
create index jobs_organization_idx on jobs (organization_id, created_at desc, id desc);
create index jobs_batch_idx on jobs (batch_id) where batch_id is not null;

-- The engine sets updated_at itself on its writes; the trigger only fills it
-- in for writers that did not (cheaper than running plpgsql on every row).
create trigger jobs_updated_at before update on jobs
  for each row when (new.updated_at is not distinct from old.updated_at)
  execute function set_updated_at();

-- A job never changes hands: its organization, batch and creator are fixed.
create function jobs_owners_are_fixed() returns trigger
language plpgsql
as $$
begin
  raise exception 'a job''s organization, batch and creator cannot change'
    using errcode = '23514', constraint = 'jobs_owners_fixed';
end
$$;
create trigger jobs_owners_fixed before update of organization_id, batch_id, created_by on jobs
  for each row
  when (old.organization_id is distinct from new.organization_id
        or old.batch_id is distinct from new.batch_id
        or old.created_by is distinct from new.created_by)
  execute function jobs_owners_are_fixed();

-- The referenced side of the owners jobs have without foreign keys: deleting
-- an organization, user or batch that jobs still name, or changing its id, is
-- refused as a foreign key would refuse it (SQLSTATE 23503).
create function refuse_change_of_job_owner() returns trigger
language plpgsql
as $$
declare
  in_use boolean;
begin
  if tg_op = 'UPDATE' and old.id = new.id then
    return new;
  end if;
  in_use := case tg_table_name
    when 'organizations' then exists (select 1 from jobs where organization_id = old.id)
    when 'users' then exists (select 1 from jobs where created_by = old.id)
    else exists (select 1 from jobs where batch_id = old.id)
  end;
  if in_use then
    raise exception '% % is still referenced by jobs', tg_table_name, old.id
      using errcode = '23503', constraint = tg_table_name || '_referenced_by_jobs';
  end if;
  return case tg_op when 'DELETE' then old else new end;
end
$$;
create trigger organizations_referenced_by_jobs before delete or update of id on organizations
  for each row execute function refuse_change_of_job_owner();
create trigger users_referenced_by_jobs before delete or update of id on users
  for each row execute function refuse_change_of_job_owner();
create trigger job_batches_referenced_by_jobs before delete or update of id on job_batches
  for each row execute function refuse_change_of_job_owner();

-- Failure records -----------------------------------------------------------------

create table failed_jobs (
  id uuid primary key default gen_random_uuid(),
  job_id uuid not null unique references jobs (id) on delete cascade,
  -- always the job's organization (failed_jobs_same_organization)
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
  constraint failed_jobs_resolution_complete
    check (not is_resolved or (resolved_at is not null and resolution is not null))
);
create index failed_jobs_organization_idx
  on failed_jobs (organization_id, is_resolved, created_at desc, id desc);
create index failed_jobs_created_idx on failed_jobs (created_at desc, id desc);
create trigger failed_jobs_updated_at before update on failed_jobs
  for each row execute function set_updated_at();

-- A trigger rather than a (job_id, organization_id) foreign key: that key
-- would need a unique (id, organization_id) index on jobs, one more index
-- entry on every job insert for a table written far more often than this one.
create function failed_jobs_check_organization() returns trigger
language plpgsql
as $$
begin
  if not exists (
    select 1 from jobs where id = new.job_id and organization_id = new.organization_id
  ) then
    raise exception 'a failed job record belongs to its job''s organization'
      using errcode = '23514', constraint = 'failed_jobs_same_organization';
  end if;
  return new;
end
$$;
create trigger failed_jobs_same_organization
  before insert or update of job_id, organization_id on failed_jobs
  for each row execute function failed_jobs_check_organization();

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

-- Batch counters --------------------------------------------------------------------
--
-- A row trigger fires only for jobs of a batch whose status changes and notes
-- a delta; a statement trigger folds the transaction's deltas into the batch
-- rows, and returns at once when there are none. (Statement triggers with
-- transition tables captured every changed row of every statement on jobs,
-- batch or not: about a tenth of a claim's and a completion's cost.)

-- Deltas live only inside the transaction that wrote them (the fold deletes
-- them before the statement ends), so no other session ever sees a row and
-- nothing here needs to survive a crash: unlogged.
create unlogged table job_batch_deltas (
  xact xid8 not null default pg_current_xact_id(),
  batch_id uuid not null,
  sign integer not null,
  status varchar(20) not null
);
create index job_batch_deltas_xact_idx on job_batch_deltas (xact);

create function job_batches_note_job_change() returns trigger
language plpgsql
as $$
begin
  if tg_op in ('UPDATE', 'DELETE') and old.batch_id is not null then
    insert into job_batch_deltas (batch_id, sign, status) values (old.batch_id, -1, old.status);
  end if;
  if tg_op in ('INSERT', 'UPDATE') and new.batch_id is not null then
    insert into job_batch_deltas (batch_id, sign, status) values (new.batch_id, 1, new.status);
  end if;
  perform set_config('veriphy.batch_deltas', 'pending', true);
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

create function job_batches_fold_deltas() returns trigger
language plpgsql
as $$
declare
  batch_ids uuid[];
begin
  if current_setting('veriphy.batch_deltas', true) is distinct from 'pending' then
    return null;
  end if;
  perform set_config('veriphy.batch_deltas', 'none', true);

  select array_agg(distinct batch_id order by batch_id) into batch_ids
  from job_batch_deltas
  where xact = pg_current_xact_id();
  if batch_ids is null then
    return null;
  end if;

  -- lock in id order so concurrent statements cannot deadlock on batch rows
  perform 1 from job_batches where id = any (batch_ids) order by id for update;
  with taken as (
    delete from job_batch_deltas
    where xact = pg_current_xact_id()
    returning batch_id, sign, status
  )
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
    from taken c
    group by c.batch_id
  ) d
  where b.id = d.batch_id
    and (d.total, d.unfinished, d.running, d.completed, d.failed, d.cancelled)
        is distinct from (0::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint);

  perform job_batches_refresh_status(batch_ids);
  return null;
end
$$;

create trigger jobs_batch_note_insert after insert on jobs
  for each row when (new.batch_id is not null)
  execute function job_batches_note_job_change();
create trigger jobs_batch_note_update after update of status on jobs
  for each row when ((old.batch_id is not null or new.batch_id is not null)
                     and old.status is distinct from new.status)
  execute function job_batches_note_job_change();
create trigger jobs_batch_note_delete after delete on jobs
  for each row when (old.batch_id is not null)
  execute function job_batches_note_job_change();
create trigger jobs_batch_fold after insert or update or delete on jobs
  for each statement execute function job_batches_fold_deltas();
