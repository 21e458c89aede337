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

-- The claim: takes up to `wanted` runnable jobs of `wanted_types` from the
-- head of `from_queue` (none while it is paused: a pause takes effect at its
-- commit, before workers hear of it), marks them running under `token` and
-- records the lease. Entries are locked with SKIP LOCKED, so concurrent
-- claimers never take the same id; an entry taken whole is deleted, one
-- taken in part keeps its tail.
--
-- A function rather than one statement because its statements run in order,
-- each with a newer snapshot: the jobs of every entry the first one locks are
-- visible to the update that claims them. (Within one statement an entry
-- committed after the statement began could be locked and removed while its
-- jobs stayed invisible, and so unclaimed.)
create function claim_jobs(from_queue text, wanted_types text[], wanted bigint,
                           token uuid, worker text, lease_seconds double precision)
returns table (id uuid, organization_id uuid, job_type varchar, job_name varchar,
               payload jsonb, priority varchar, queue varchar, attempts integer,
               max_attempts integer, timeout_seconds integer, batch_id uuid,
               available_at timestamptz, created_at timestamptz, lease_token uuid)
language plpgsql
-- Plan each statement once per session: every one finds its rows by key or
-- by the claim index whatever the arguments (the engine's sessions plan
-- without sequential scans), and planning them afresh cost a third of a
-- one-job claim.
set plan_cache_mode = force_generic_plan
as $$
#variable_conflict use_column
declare
  candidate record;
  emptied tid[] := '{}';
  taken uuid[] := '{}';
begin
  if wanted <= 0 or exists (select 1 from queues q where q.name = from_queue and q.paused) then
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
    if cardinality(candidate.ids) <= wanted then
      emptied := emptied || candidate.at;
      taken := taken || candidate.ids;
      wanted := wanted - cardinality(candidate.ids);
    else
      taken := taken || candidate.ids[1:wanted];
      update job_queue e set job_ids = candidate.ids[wanted + 1:] where e.ctid = candidate.at;
      wanted := 0;
    end if;
    exit when wanted = 0;
  end loop;
  if cardinality(taken) = 0 then
    return;
  end if;
  -- by ctid array: a TID scan
  delete from job_queue e where e.ctid = any (emptied);

  -- A claim need not wait for its WAL flush: if the server loses it in a
  -- crash, the job is simply pending again (its queue entry comes back too),
  -- and any write of the lost holder is fenced out. The holder's next
  -- synchronous commit makes the claim durable.
  perform set_config('synchronous_commit', 'off', true);

  return query
    with claimed as (
      update jobs j set
        status = 'running',
        attempts = j.attempts + 1,
        started_at = now(),
        lease_token = token,
        locked_by = worker,
        updated_at = now()
      -- each id looked up by primary key; an entry is only a hint, so the
      -- job must still be pending and due
      where j.id = any (taken)
        and j.status = 'pending'
        and j.available_at <= now()
        and j.queue = from_queue
      returning j.id, j.organization_id, j.job_type, j.job_name, j.payload, j.priority,
                j.queue, j.attempts, j.max_attempts, j.timeout_seconds, j.batch_id,
                j.available_at, j.created_at, j.lease_token
    ),
    leased as (
      insert into job_leases (lease_token, organization_id, worker_id, locked_until, job_ids)
      select token, c.organization_id, worker, now() + make_interval(secs => lease_seconds),
             array_agg(c.id)
      from claimed c
      group by c.organization_id
    )
    select * from claimed;
end
$$;

-- 2. Queue names: registered, not checked per row ------------------------------

alter table jobs drop constraint jobs_queue_check;
-- (jobs inserted before now named registered queues only through the
-- enqueue statement; make that true of every row)
insert into queues (name) select distinct queue from jobs on conflict (name) do nothing;

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
  runnable_queues text[];
  batched bigint;
  found bigint;
begin
  -- One pass over the new rows for the owners and queues they name (each
  -- pass over them costs about 0.4 µs per job: there are two).
  select array_agg(distinct organization_id),
         coalesce(array_agg(distinct created_by) filter (where created_by is not null), '{}'),
         array_agg(distinct queue),
         array_agg(distinct queue) filter (where status = 'pending' and available_at <= now()),
         count(*) filter (where batch_id is not null)
    into organization_ids, creator_ids, queue_names, runnable_queues, batched
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

  -- One entry per up to job_queue_entry_size() pending jobs that share
  -- organization, queue, type, priority and start time, ids in id order.
  insert into job_queue (first_job_id, job_ids, organization_id, queue, job_type,
                         priority_rank, available_at)
  select g.ids[head], g.ids[head:head + job_queue_entry_size() - 1],
         g.organization_id, g.queue, g.job_type, g.priority_rank, g.available_at
  from (
    select array(select unnest(array_agg(id)) as id order by id) as ids,
           organization_id, queue, job_type, priority_rank, available_at
    from new_jobs
    where status = 'pending'
    group by organization_id, queue, job_type, priority_rank, available_at
  ) g
  cross join generate_series(1, cardinality(g.ids), job_queue_entry_size()) as head;

  -- One wake-up per queue with jobs runnable now, delivered at commit (a
  -- rolled-back insert wakes nobody).
  perform pg_notify('veriphy_jobs', q.name) from unnest(runnable_queues) as q (name);
  return null;
end
$$;

-- 4. No bank-wide creation-order index -----------------------------------------

drop index jobs_created_idx;
