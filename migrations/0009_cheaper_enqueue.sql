-- Enqueueing a job cost about 11.6 µs of server time, a third of it in work
-- done once per job that can be done once per statement or not at all:
--
-- * one `job_queue` entry (a heap row and a claim-index entry) per job. An
--   entry now lists up to 100 job ids of one statement that share an
--   organization, queue, type, priority and start time; the claim takes ids
--   from the head of an entry and keeps the rest of it.
-- * the queue-name check on every job row (and on every claim and completion,
--   since PostgreSQL re-checks all CHECK constraints on each write). A job's
--   queue must now be a registered queue, which the statement trigger ensures
--   once per distinct name; `queues_name_check` states the rule.
-- * the bank-wide `(created_at, id)` index. Bank admins' newest-first list
--   across organizations walks each organization's own index instead.
-- * the enqueue statement's RETURNING pass for its wake-ups: the statement
--   trigger already reads the new rows, so it registers queues and sends the
--   one NOTIFY per queue with runnable jobs for any insert into jobs.

-- 1. Queue entries of many jobs ----------------------------------------------

alter table job_queue rename column job_id to first_job_id;
alter table job_queue add column job_ids uuid[];
update job_queue set job_ids = array[first_job_id];
alter table job_queue
  alter column job_ids set not null,
  add constraint job_queue_job_ids_check check (cardinality(job_ids) > 0);
-- (job_queue_claim_idx follows the renamed column: claim order is priority,
-- start time, then the entry's first job id.)

-- The number of job ids one entry lists at most: small enough that taking
-- the head of an entry rewrites a short array (kept inline, never TOASTed),
-- large enough that a bulk enqueue writes one entry per hundred jobs.
create function job_queue_entry_size() returns integer
language sql immutable
as $$ select 100 $$;

create or replace function jobs_requeue() returns trigger
language plpgsql
as $$
begin
  insert into job_queue (first_job_id, job_ids, organization_id, queue, job_type,
                         priority_rank, available_at)
  values (new.id, array[new.id], new.organization_id, new.queue, new.job_type,
          new.priority_rank, new.available_at);
  return null;
end
$$;

-- Chooses up to `wanted` job ids of `wanted_types` from the head of
-- `from_queue` (none while it is paused: a pause takes effect at its commit,
-- before workers hear of it), one row per entry: the ids taken and the ids
-- the entry keeps (null when it is taken whole). Entries are locked with SKIP
-- LOCKED, so concurrent claimers never choose the same id.
--
-- The caller deletes or trims the entries itself, in the statement that
-- claims the jobs. Each statement in here runs with a newer snapshot than the
-- caller's: an entry committed in between is locked here but invisible to the
-- caller, and so are its jobs; changed by the caller, the entry would be gone
-- while its jobs were never claimed. Left alone, it is taken next time.
create function take_queue_entries(from_queue text, wanted_types text[], wanted bigint)
returns table (entry tid, taken_ids uuid[], kept_ids uuid[])
language plpgsql
as $$
declare
  candidate record;
begin
  if wanted <= 0 or exists (select 1 from queues where name = from_queue and paused) then
    return;
  end if;
  -- each entry holds at least one id, so `wanted` entries are always enough
  for candidate in
    select e.ctid as at, e.job_ids as ids
    from job_queue e
    where e.queue = from_queue
      and e.available_at <= now()
      and e.job_type = any (wanted_types)
    order by e.priority_rank, e.available_at, e.first_job_id
    limit wanted
    for update skip locked
  loop
    entry := candidate.at;
    if cardinality(candidate.ids) <= wanted then
      taken_ids := candidate.ids;
      kept_ids := null;
      wanted := wanted - cardinality(candidate.ids);
    else
      taken_ids := candidate.ids[1:wanted];
      kept_ids := candidate.ids[wanted + 1:];
      wanted := 0;
    end if;
    return next;
    exit when wanted = 0;
  end loop;
end
$$;

-- 2. Queue names: registered, not checked per row ------------------------------

alter table jobs drop constraint jobs_queue_check;

-- Moving a job to another queue registers that queue (and so checks its name).
create function jobs_register_queue() returns trigger
language plpgsql
as $$
begin
  insert into queues (name) values (new.queue) on conflict (name) do nothing;
  return new;
end
$$;

create trigger jobs_register_queue before update of queue on jobs
  for each row when (old.queue is distinct from new.queue)
  execute function jobs_register_queue();

-- 3. Once per INSERT statement: owners, queues, entries, wake-ups --------------

create or replace function jobs_after_insert() returns trigger
language plpgsql
as $$
declare
  organization_ids uuid[];
  creator_ids uuid[];
  queue_names text[];
  batched bigint;
  found bigint;
begin
  -- one pass over the new rows for the owners and queues they name
  select array_agg(distinct organization_id),
         coalesce(array_agg(distinct created_by) filter (where created_by is not null), '{}'),
         array_agg(distinct queue),
         count(*) filter (where batch_id is not null)
    into organization_ids, creator_ids, queue_names, batched
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

  -- Unknown queue names are registered (queues_name_check refuses bad ones);
  -- workers learn of new queues at commit.
  with registered as (
    insert into queues (name)
    select q.name from unnest(queue_names) as q (name)
    where not exists (select 1 from queues k where k.name = q.name)
    on conflict (name) do nothing
    returning name
  )
  select count(pg_notify('veriphy_queues', name)) into found from registered;

  -- One entry per run of up to job_queue_entry_size() pending jobs that share
  -- organization, queue, type, priority and start time, ids in id order.
  insert into job_queue (first_job_id, job_ids, organization_id, queue, job_type,
                         priority_rank, available_at)
  select (array_agg(id order by id))[1], array_agg(id order by id),
         organization_id, queue, job_type, priority_rank, available_at
  from (
    select id, organization_id, queue, job_type, priority_rank, available_at,
           (row_number() over () - 1) / job_queue_entry_size() as run
    from new_jobs
    where status = 'pending'
  ) pending
  group by organization_id, queue, job_type, priority_rank, available_at, run;

  -- One wake-up per queue with jobs runnable now, delivered at commit (a
  -- rolled-back insert wakes nobody).
  perform pg_notify('veriphy_jobs', queue)
  from (select distinct queue from new_jobs where status = 'pending' and available_at <= now()) runnable;
  return null;
end
$$;

-- 4. No bank-wide creation-order index -----------------------------------------

drop index jobs_created_idx;
