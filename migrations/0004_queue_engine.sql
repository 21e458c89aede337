-- The queue engine's own tables and functions: queue controls, the queue of
-- runnable jobs, leases, the enqueue trigger and the claim.
--
-- The life of a job here: an INSERT into `jobs` adds `job_queue` entries and
-- one NOTIFY per queue (jobs_after_insert); a worker's claim_jobs() takes
-- entries, marks their jobs running and records a `job_leases` row; the
-- holder renews the lease by heartbeat and finishes the job fenced on its
-- lease token; a job that becomes pending again gets a fresh entry
-- (jobs_requeue); the rescuer returns the jobs of expired leases.
-- The Rust side of each step lives in src/server/queue/.

-- Queues ------------------------------------------------------------------------

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

-- Runnable jobs -------------------------------------------------------------------

-- An entry lists up to job_queue_entry_size() pending jobs of one INSERT
-- statement that share organization, queue, type, priority and start time,
-- ids in id order; the claim takes ids from the head of an entry and keeps
-- the rest. An entry is a hint, never the truth: the claim re-checks each
-- job's row, so an entry left behind by a cancelled or deleted job is simply
-- discarded. Keeping runnable jobs here, not in an index on jobs.status,
-- is what lets claims and completions update job rows in place (HOT).
create table job_queue (
  first_job_id uuid not null,
  organization_id uuid not null,
  queue varchar(100) not null,
  job_type varchar(50) not null,
  priority_rank smallint not null,
  available_at timestamptz not null,
  job_ids uuid[] not null check (cardinality(job_ids) > 0)
);
-- Claim order: per queue, urgent first, then the longest waiting, then id.
create index job_queue_claim_idx on job_queue (queue, priority_rank, available_at, first_job_id);

-- Small enough that taking the head of an entry rewrites a short array (kept
-- inline, never TOASTed), large enough that a bulk enqueue writes one entry
-- per hundred jobs.
create function job_queue_entry_size() returns integer
language sql immutable
as $$ select 100 $$;

-- Runs once per INSERT statement on jobs (one pass over the new rows costs
-- about 0.4 µs per job, so everything shares one):
-- 1. the organizations, creators and batches named must exist (a batch in
--    the job's own organization), and stay: they are locked FOR KEY SHARE,
--    as a foreign key check would lock them;
-- 2. unknown queue names are registered (queues_name_check refuses bad ones);
--    workers learn of new queues at commit;
-- 3. pending jobs get their queue entries;
-- 4. one NOTIFY per queue with jobs runnable now, delivered at commit (a
--    rolled-back insert wakes nobody, and a bulk insert wakes once).
create function jobs_after_insert() returns trigger
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

  with registered as (
    insert into queues (name)
    select q.name from unnest(queue_names) as q (name)
    where not exists (select 1 from queues k where k.name = q.name)
    on conflict (name) do nothing
    returning name
  )
  select count(pg_notify('veriphy_queues', name)) into found from registered;

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

  perform pg_notify('veriphy_jobs', q.name) from unnest(runnable_queues) as q (name);
  return null;
end
$$;
create trigger jobs_after_insert after insert on jobs
  referencing new table as new_jobs
  for each statement execute function jobs_after_insert();

-- A job that becomes pending again (retry, snooze, release, rescue, a console
-- retry) or is rescheduled while pending gets a fresh single-job entry; an
-- older entry, if any, is discarded by the claim that meets it.
create function jobs_requeue() returns trigger
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
create trigger jobs_requeue after update on jobs
  for each row
  when (new.status = 'pending'
        and (old.status <> 'pending'
             or old.available_at <> new.available_at
             or old.priority <> new.priority
             or old.queue <> new.queue
             or old.job_type <> new.job_type))
  execute function jobs_requeue();

-- Leases --------------------------------------------------------------------------

-- One row per claim and organization, renewed by the holder's heartbeat. The
-- rescuer finds expired leases here and returns their jobs, so running jobs
-- need no index of their own on jobs.
create table job_leases (
  -- the claim's token, also written to each job it holds (the fence)
  lease_token uuid not null,
  organization_id uuid not null,
  worker_id varchar(200) not null,
  locked_until timestamptz not null,
  job_ids uuid[] not null,
  created_at timestamptz not null default now(),
  primary key (lease_token, organization_id)
);
create index job_leases_expiry_idx on job_leases (locked_until);

-- The claim ---------------------------------------------------------------------------

-- Takes up to `wanted` runnable jobs of `wanted_types` from the head of
-- `from_queue` (none while it is paused: a pause takes effect at its commit,
-- before workers hear of it), marks them running under `token` and records
-- the lease. Entries are locked with SKIP LOCKED, so concurrent claimers
-- never take the same id; an entry taken whole is deleted, one taken in part
-- keeps its tail.
--
-- A function rather than one statement (a CTE locking entries and feeding an
-- UPDATE) because its statements run in order, each with a newer snapshot:
-- the jobs of every entry the first one locks are visible to the update that
-- claims them. Within one statement, an entry committed after the statement
-- began could be locked and removed while its jobs stayed invisible, and so
-- never be claimed (tests/engine.rs reproduces that loss). The lock step is a
-- loop so a claim stops at `wanted` ids rather than `wanted` entries.
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
