-- A job's organization and creator are held for the enqueue by shared
-- advisory locks instead of row locks.
--
-- `jobs_after_insert` (migrations/0004) locked the organizations and users
-- its jobs name FOR KEY SHARE, as a foreign key check would, so that none
-- could be deleted before the insert commits. A row lock is written into
-- the row: a WAL record and a dirtied page per enqueue, and when enqueues
-- overlap (one-job enqueues at a few hundred per second mostly do), a
-- MultiXact for the row's lockers, created and logged on the enqueue's
-- path. In a latency run every other enqueue created one.
--
-- An advisory lock lives only in the lock table. An enqueue takes each
-- owner's key shared, then checks that the owner exists in a statement of
-- its own (so with a snapshot taken after the lock); deleting an
-- organization or a user, or changing its id, takes the key exclusively
-- before looking for jobs that name it (`refuse_change_of_job_owner`), so
-- either the deletion waits for the enqueue's commit and then sees its jobs,
-- or the enqueue waits for the deletion's and then finds the owner gone.
-- Both statements check in a fresh snapshot only under READ COMMITTED, so a
-- transaction of a stricter isolation level still takes the row locks.
-- Batches keep theirs: the enqueue also checks that a batch belongs to the
-- job's organization.

-- The advisory lock key of a job owner: the class names the owner's table
-- (two int4 keys, a space apart from the one-bigint keys the engine uses
-- elsewhere); a collision of hashes only makes someone wait.
create function job_owner_lock_key(owner_table text) returns integer
language sql immutable
as $$ select case owner_table when 'organizations' then 74001 else 74002 end $$;

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
  fresh_snapshots boolean := current_setting('transaction_isolation') = 'read committed';
begin
  select array_agg(distinct organization_id),
         coalesce(array_agg(distinct created_by) filter (where created_by is not null), '{}'),
         array_agg(distinct queue),
         array_agg(distinct queue) filter (where status = 'pending' and available_at <= now()),
         count(*) filter (where batch_id is not null)
    into organization_ids, creator_ids, queue_names, runnable_queues, batched
  from new_jobs;

  if fresh_snapshots then
    perform pg_advisory_xact_lock_shared(job_owner_lock_key('organizations'), hashtext(o::text))
    from unnest(organization_ids) as o;
    select count(*) into found from organizations where id = any (organization_ids);
  else
    select count(*) into found
    from (select 1 from organizations where id = any (organization_ids) for key share) locked;
  end if;
  if found < cardinality(organization_ids) then
    raise exception 'a job''s organization does not exist'
      using errcode = '23503', constraint = 'jobs_organization_id_fkey';
  end if;

  if cardinality(creator_ids) > 0 then
    if fresh_snapshots then
      perform pg_advisory_xact_lock_shared(job_owner_lock_key('users'), hashtext(c::text))
      from unnest(creator_ids) as c;
      select count(*) into found from users where id = any (creator_ids);
    else
      select count(*) into found
      from (select 1 from users where id = any (creator_ids) for key share) locked;
    end if;
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

create or replace function refuse_change_of_job_owner() returns trigger
language plpgsql
as $$
declare
  in_use boolean;
begin
  if tg_op = 'UPDATE' and old.id = new.id then
    return new;
  end if;
  -- wait for enqueues naming this owner to end (jobs_after_insert)
  if tg_table_name in ('organizations', 'users') then
    perform pg_advisory_xact_lock(job_owner_lock_key(tg_table_name), hashtext(old.id::text));
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
