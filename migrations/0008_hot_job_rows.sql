-- A job row is written three times: enqueue, claim and completion. This
-- migration makes the last two cheap "HOT" updates, which PostgreSQL can do
-- only when no indexed column (including partial-index predicates) changes:
-- no index on `jobs` mentions status or lease columns any more.
--
-- * Runnable jobs are listed in `job_queue`, a narrow table with the claim
--   index. Entries are added when a job becomes pending (enqueue, retry,
--   snooze, release, rescue) and removed by the claim that takes them. An
--   entry is a hint, never the truth: the claim re-checks the job's row, so
--   an entry left behind by a cancelled or deleted job is simply discarded.
-- * Leases live in `job_leases`, one row per claim and organization, renewed
--   by the holder's heartbeat. The rescuer finds expired leases there and
--   returns their jobs; running jobs need no index of their own.
-- * The foreign keys from jobs to organizations, users and batches cost a
--   row-level trigger per inserted job. The same rules are now checked once
--   per statement, with the referenced rows locked as a foreign key would.

-- 1. Owners of a job, checked per statement --------------------------------

alter table jobs
  drop constraint jobs_organization_id_fkey,
  drop constraint jobs_created_by_fkey,
  drop constraint jobs_batch_id_organization_id_fkey;

-- Runs after each INSERT statement on jobs: the organizations, creators and
-- batches named must exist (a batch in the job's own organization), and
-- stay (FOR KEY SHARE, as a foreign key check locks them); then every new
-- pending job gets its queue entry.
create function jobs_after_insert() returns trigger
language plpgsql
as $$
declare
  organization_ids uuid[];
  creator_ids uuid[];
  batched bigint;
  found bigint;
begin
  -- one pass over the new rows for the owners they name
  select array_agg(distinct organization_id),
         coalesce(array_agg(distinct created_by) filter (where created_by is not null), '{}'),
         count(*) filter (where batch_id is not null)
    into organization_ids, creator_ids, batched
  from new_jobs;

  select count(*) into found
  from (select 1 from organizations where id = any (organization_ids) for key share) locked;
  if found < cardinality(organization_ids) then
    raise exception 'a job''s organization does not exist'
      using errcode = '23503', constraint = 'jobs_organization_id_fkey';
  end if;

  if cardinality(creator_ids) > 0 then
    select count(*) into found
    from (select 1 from users where id = any (creator_ids) for key share) locked;
    if found < cardinality(creator_ids) then
      raise exception 'a job''s creator does not exist'
        using errcode = '23503', constraint = 'jobs_created_by_fkey';
    end if;
  end if;

  if batched > 0 then
    -- lock first: a row that exists now cannot go before we commit
    perform 1 from job_batches
    where id in (select batch_id from new_jobs where batch_id is not null)
    for key share;
    if exists (
      select 1
      from (select distinct batch_id, organization_id from new_jobs where batch_id is not null) n
      where not exists (
        select 1 from job_batches b
        where b.id = n.batch_id and b.organization_id = n.organization_id)
    ) then
      raise exception 'a job''s batch does not exist in the job''s organization'
        using errcode = '23503', constraint = 'jobs_batch_id_organization_id_fkey';
    end if;
  end if;

  insert into job_queue (job_id, organization_id, queue, job_type, priority_rank, available_at)
  select id, organization_id, queue, job_type, priority_rank, available_at
  from new_jobs
  where status = 'pending';
  return null;
end
$$;

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

-- What the foreign keys refused on the referenced side: deleting a row jobs
-- still name, or changing its id.
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

-- 2. The queue of runnable jobs ----------------------------------------------

create table job_queue (
  job_id uuid not null,
  organization_id uuid not null,
  queue varchar(100) not null,
  job_type varchar(50) not null,
  priority_rank smallint not null,
  available_at timestamptz not null
);
-- Claim order: per queue, urgent first, then the longest waiting.
create index job_queue_claim_idx on job_queue (queue, priority_rank, available_at, job_id);

insert into job_queue (job_id, organization_id, queue, job_type, priority_rank, available_at)
select id, organization_id, queue, job_type, priority_rank, available_at
from jobs
where status = 'pending';

create trigger jobs_after_insert after insert on jobs
  referencing new table as new_jobs
  for each statement execute function jobs_after_insert();

-- A job that becomes pending again (retry, snooze, release, rescue, a
-- console retry) or is rescheduled while pending gets a fresh entry; an
-- older entry, if any, is discarded by the claim that meets it.
create function jobs_requeue() returns trigger
language plpgsql
as $$
begin
  insert into job_queue (job_id, organization_id, queue, job_type, priority_rank, available_at)
  values (new.id, new.organization_id, new.queue, new.job_type, new.priority_rank, new.available_at);
  return null;
end
$$;

create trigger jobs_requeue after update on jobs
  for each row
  when (new.status = 'pending'
        and (old.status <> 'pending'
             or old.available_at <> new.available_at
             or old.priority <> new.priority
             or old.queue <> new.queue
             or old.job_type <> new.job_type))
  execute function jobs_requeue();

-- 3. Leases ------------------------------------------------------------------

create table job_leases (
  -- the claim's token, also written to each job it holds (the fence)
  lease_token uuid not null,
  organization_id uuid not null,
  worker_id varchar(200) not null,
  -- renewed by the holder's heartbeat; the rescuer returns expired leases
  locked_until timestamptz not null,
  job_ids uuid[] not null,
  created_at timestamptz not null default now(),
  primary key (lease_token, organization_id)
);
create index job_leases_expiry_idx on job_leases (locked_until);

-- Jobs already running keep their holder; one without a token gets one.
update jobs set lease_token = gen_random_uuid(), updated_at = now()
where status = 'running' and lease_token is null;
insert into job_leases (lease_token, organization_id, worker_id, locked_until, job_ids)
select lease_token, organization_id, coalesce(min(locked_by), 'unknown'),
       coalesce(min(locked_until), now()), array_agg(id)
from jobs
where status = 'running'
group by lease_token, organization_id;

-- 4. Batch counters without transition tables ---------------------------------
--
-- The statement triggers of 0003 captured every changed row (old and new) of
-- every statement on jobs, batch or not: about a tenth of a claim's and a
-- completion's cost. Now a row trigger fires only for jobs of a batch whose
-- status changes and notes a delta; a statement trigger folds the
-- transaction's deltas into the batch rows (locked in id order, so concurrent
-- statements cannot deadlock), and returns at once when there are none.

drop trigger jobs_batch_counters_insert on jobs;
drop trigger jobs_batch_counters_update on jobs;
drop trigger jobs_batch_counters_delete on jobs;
drop function job_batches_apply_job_changes();

-- Deltas live only inside the transaction that wrote them (the statement
-- trigger deletes them before the statement ends), so no other session ever
-- sees a row and nothing here needs to survive a crash.
create unlogged table job_batch_deltas (
  xact xid8 not null default pg_current_xact_id(),
  batch_id uuid not null,
  sign integer not null,
  status varchar(20) not null
);
create index job_batch_deltas_xact_idx on job_batch_deltas (xact);
grant select, insert, delete on job_batch_deltas to veriphy_app, veriphy_worker;

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

-- 5. The jobs table without status indexes -----------------------------------

drop index jobs_runnable_idx;
drop index jobs_running_idx;
alter table jobs drop column locked_until;
-- Room on each page for the claim's new version of every row on it: an
-- update within the page (HOT) touches no index. The completion then reuses
-- the space the claim's old versions leave once pruned.
alter table jobs set (fillfactor = 50);

-- 6. Access --------------------------------------------------------------------

-- The console adds entries (through the triggers) and reads both tables for
-- the Queues view (the demo data also leases its "running" jobs); only
-- workers claim (FOR UPDATE needs UPDATE), renew and rescue.
grant select, insert on job_queue, job_leases to veriphy_app;
grant select, insert, update, delete on job_queue, job_leases to veriphy_worker;

do $$
declare
  t text;
begin
  foreach t in array array['job_queue', 'job_leases'] loop
    execute format('alter table %I enable row level security', t);
    execute format('alter table %I force row level security', t);
    execute format(
      'create policy %I on %I to veriphy_app
         using (app_can_access(organization_id))
         with check (app_can_access(organization_id))',
      t || '_tenant', t);
    execute format(
      'create policy %I on %I to veriphy_worker using (true) with check (true)',
      t || '_worker', t);
  end loop;
end
$$;
