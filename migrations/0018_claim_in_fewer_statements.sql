-- The claim in fewer statements.
--
-- A one-job claim ran seven statements inside claim_jobs (paused?, the
-- organizations waiting, each one's cap, its entries, the deletion of the
-- emptied entries, the commit setting, the update), and each statement's
-- executor start and end cost about as much as its work: under the latency
-- benchmark's load the claim was the costliest statement per job after the
-- enqueue. Now the waiting organizations, their caps, the pause and the
-- commit setting are one statement, and the emptied entries are deleted by
-- the statement that marks their jobs running: three statements when one
-- organization waits. The entries are still locked by a statement of their
-- own, before the update, for the reason migrations/0004 gives.
--
-- Nor does the function carry `set plan_cache_mode` any more: entering and
-- leaving a function with a SET clause saves and restores the setting on
-- every call. The engine's connections set it for the session
-- (src/server/db/mod.rs), which also keeps the completion statement on its
-- generic plan instead of planning it anew for most batches.

create or replace function claim_jobs(from_queue text, wanted_types text[], wanted bigint,
                                      token uuid, worker text, lease_seconds double precision)
returns table (id uuid, organization_id uuid, job_type varchar, job_name varchar,
               payload jsonb, priority varchar, queue varchar, attempts integer,
               max_attempts integer, timeout_seconds integer, batch_id uuid,
               available_at timestamptz, created_at timestamptz, lease_token uuid)
language plpgsql
as $$
#variable_conflict use_column
declare
  candidate record;
  emptied tid[] := '{}';
  taken uuid[] := '{}';
  tenants uuid[];
  -- what each tenant may still take in this claim (null: no cap)
  budgets bigint[];
  -- whether the tenant's running jobs have been counted against its cap
  cap_known boolean[];
  next_tenants uuid[];
  next_budgets bigint[];
  next_cap_known boolean[];
  -- each tenant's cap (null: none), looked up with the tenants
  caps integer[];
  next_caps integer[];
  commit_setting text;
  tenant uuid;
  running bigint;
  share bigint;
  offer bigint;
  got bigint;
  i integer;
begin
  if wanted <= 0 then
    return;
  end if;

  -- The organizations with entries in this queue (a loose index scan), in
  -- random order, with their caps; none while the queue is paused. And, as
  -- before, the claim's commit need not wait for its WAL flush (a lost claim
  -- is pending again, and the lost holder's writes are fenced out): set here
  -- rather than by a statement of its own. (Measured: a claim that waits for
  -- its flush adds about a millisecond to enqueue-to-start at 500 jobs/s.)
  select coalesce(array_agg(t.org order by t.shuffle), '{}'),
         coalesce(array_agg(t.cap order by t.shuffle), '{}'),
         set_config('synchronous_commit', 'off', true)
    into tenants, caps, commit_setting
  from (
    with recursive present (org) as (
      (select e.organization_id from job_queue e
       where e.queue = from_queue order by e.organization_id limit 1)
      union all
      select (select e.organization_id from job_queue e
              where e.queue = from_queue and e.organization_id > p.org
              order by e.organization_id limit 1)
      from present p
      where p.org is not null
    )
    select p.org, l.max_running as cap, random() as shuffle
    from present p
    left join queue_organization_limits l
      on l.queue = from_queue and l.organization_id = p.org
    where p.org is not null
  ) t
  where not exists (select 1 from queues q where q.name = from_queue and q.paused);
  budgets := array_fill(null::bigint, array[cardinality(tenants)]);
  cap_known := array_fill(false, array[cardinality(tenants)]);

  while wanted > 0 and cardinality(tenants) > 0 loop
    share := (wanted + cardinality(tenants) - 1) / cardinality(tenants);
    next_tenants := '{}';
    next_budgets := '{}';
    next_cap_known := '{}';
    next_caps := '{}';
    for i in 1 .. cardinality(tenants) loop
      exit when wanted = 0;
      tenant := tenants[i];
      if caps[i] is not null and not cap_known[i] then
        perform pg_advisory_xact_lock(hashtextextended(from_queue || '/' || tenant::text, 0));
        select count(*) into running
        from job_leases l
        cross join unnest(l.job_ids) as h (id)
        join jobs j on j.id = h.id and j.lease_token = l.lease_token
        where l.organization_id = tenant and j.queue = from_queue;
        budgets[i] := caps[i] - running;
        cap_known[i] := true;
      end if;
      offer := least(share, wanted, coalesce(budgets[i], wanted));
      got := 0;
      if offer > 0 then
        for candidate in
          select e.ctid as at, e.job_ids as ids
          from job_queue e
          where e.queue = from_queue
            and e.organization_id = tenant
            and e.available_at <= now()
            and e.job_type = any (wanted_types)
            and e.ctid <> all (emptied)
          order by e.priority_rank, e.available_at, e.first_job_id
          limit offer
          for update skip locked
        loop
          if cardinality(candidate.ids) <= offer - got then
            emptied := emptied || candidate.at;
            taken := taken || candidate.ids;
            got := got + cardinality(candidate.ids);
          else
            taken := taken || candidate.ids[1:offer - got];
            update job_queue e set job_ids = candidate.ids[offer - got + 1:]
            where e.ctid = candidate.at;
            got := offer;
          end if;
          exit when got = offer;
        end loop;
      end if;
      wanted := wanted - got;
      if budgets[i] is not null then
        budgets[i] := budgets[i] - got;
      end if;
      -- a tenant that gave its whole share may have more
      if got = share then
        next_tenants := next_tenants || tenant;
        next_budgets := next_budgets || budgets[i];
        next_cap_known := next_cap_known || cap_known[i];
        next_caps := next_caps || caps[i];
      end if;
    end loop;
    tenants := next_tenants;
    budgets := next_budgets;
    cap_known := next_cap_known;
    caps := next_caps;
  end loop;

  if cardinality(taken) = 0 then
    return;
  end if;
  return query
    with emptied_entries as (
      -- by ctid array: a TID scan
      delete from job_queue e where e.ctid = any (emptied)
    ),
    claimed as (
      update jobs j set
        status = 'running',
        attempts = j.attempts + 1,
        started_at = now(),
        lease_token = token,
        locked_by = worker,
        updated_at = now()
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
    -- the domains' values as the declared result types
    select c.id, c.organization_id, c.job_type::varchar, c.job_name::varchar, c.payload,
           c.priority, c.queue, c.attempts::integer, c.max_attempts::integer,
           c.timeout_seconds::integer, c.batch_id, c.available_at, c.created_at,
           c.lease_token
    from claimed c;
end
$$;
