-- Fair claims: organizations sharing a queue take turns, and a bank admin may
-- cap how many jobs of one organization a queue runs at once.
--
-- Before this, a claim took the head of the queue in priority order, so one
-- organization's thousands of urgent jobs held every worker slot until they
-- were all done. Now priority orders an organization's own jobs, and a claim
-- divides what it takes evenly among the organizations with runnable jobs.

-- Per-organization caps ------------------------------------------------------------

-- At most `max_running` jobs of `organization_id` run from `queue` at once,
-- across every worker process. No row: no cap.
create table queue_organization_limits (
  queue varchar(100) not null references queues (name) on delete cascade,
  organization_id uuid not null references organizations (id) on delete cascade,
  max_running integer not null check (max_running between 1 and 1000),
  updated_by uuid references users (id),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (queue, organization_id)
);
create trigger queue_organization_limits_updated_at before update on queue_organization_limits
  for each row execute function set_updated_at();

grant select, insert, update, delete on queue_organization_limits to veriphy_app;
grant select on queue_organization_limits to veriphy_worker;
alter table queue_organization_limits enable row level security;
alter table queue_organization_limits force row level security;
-- an organization sees its own caps; only bank admins set them
create policy queue_organization_limits_tenant on queue_organization_limits to veriphy_app
  using (app_can_access(organization_id))
  with check (app_is_bank_admin());
create policy queue_organization_limits_worker on queue_organization_limits to veriphy_worker
  using (true);

-- Claim order ------------------------------------------------------------------------

-- Organization second, so a claim finds the organizations waiting in a queue
-- with one index probe each and takes each one's head in its own order.
create index job_queue_fair_claim_idx
  on job_queue (queue, organization_id, priority_rank, available_at, first_job_id);
drop index job_queue_claim_idx;

-- The claim ---------------------------------------------------------------------------

-- As before (migrations/0004: entries locked with SKIP LOCKED, statements run
-- in order so every locked entry's jobs are visible, the job rows re-checked),
-- but `wanted` is shared among the organizations with entries in the queue:
-- in rounds, each organization (in random order, so no one is always first)
-- is offered an equal share of what is still wanted; one that gives less
-- (nothing more runnable, or its cap reached) leaves the later rounds to the
-- others. With one organization waiting this is one round, as before.
--
-- A capped organization's claims are serialized by a transaction-level
-- advisory lock on (queue, organization): the running count each one reads
-- includes every committed claim before it, so the cap holds across
-- processes. Uncapped organizations take no lock.
create or replace function claim_jobs(from_queue text, wanted_types text[], wanted bigint,
                                      token uuid, worker text, lease_seconds double precision)
returns table (id uuid, organization_id uuid, job_type varchar, job_name varchar,
               payload jsonb, priority varchar, queue varchar, attempts integer,
               max_attempts integer, timeout_seconds integer, batch_id uuid,
               available_at timestamptz, created_at timestamptz, lease_token uuid)
language plpgsql
set plan_cache_mode = force_generic_plan
as $$
#variable_conflict use_column
declare
  candidate record;
  emptied tid[] := '{}';
  taken uuid[] := '{}';
  tenants uuid[];
  -- what each tenant may still take in this claim (null: no cap)
  budgets bigint[];
  -- whether the tenant's cap has been looked up
  cap_known boolean[];
  next_tenants uuid[];
  next_budgets bigint[];
  next_cap_known boolean[];
  tenant uuid;
  cap integer;
  running bigint;
  share bigint;
  offer bigint;
  got bigint;
  i integer;
begin
  if wanted <= 0 or exists (select 1 from queues q where q.name = from_queue and q.paused) then
    return;
  end if;

  -- the organizations with entries in this queue: a loose index scan
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
  select coalesce(array_agg(p.org order by random()), '{}') into tenants
  from present p where p.org is not null;
  budgets := array_fill(null::bigint, array[cardinality(tenants)]);
  cap_known := array_fill(false, array[cardinality(tenants)]);

  while wanted > 0 and cardinality(tenants) > 0 loop
    share := (wanted + cardinality(tenants) - 1) / cardinality(tenants);
    next_tenants := '{}';
    next_budgets := '{}';
    next_cap_known := '{}';
    for i in 1 .. cardinality(tenants) loop
      exit when wanted = 0;
      tenant := tenants[i];
      if not cap_known[i] then
        select l.max_running into cap
        from queue_organization_limits l
        where l.queue = from_queue and l.organization_id = tenant;
        if found then
          perform pg_advisory_xact_lock(hashtextextended(from_queue || '/' || tenant::text, 0));
          select count(*) into running
          from job_leases l
          cross join unnest(l.job_ids) as h (id)
          join jobs j on j.id = h.id and j.lease_token = l.lease_token
          where l.organization_id = tenant and j.queue = from_queue;
          budgets[i] := cap - running;
        end if;
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
      end if;
    end loop;
    tenants := next_tenants;
    budgets := next_budgets;
    cap_known := next_cap_known;
  end loop;

  if cardinality(taken) = 0 then
    return;
  end if;
  -- by ctid array: a TID scan
  delete from job_queue e where e.ctid = any (emptied);

  -- As before: the claim need not wait for its WAL flush (a lost claim is
  -- pending again, and the lost holder's writes are fenced out).
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
