-- The allowed values of a job's type, status, name, attempts and timeout
-- are domains instead of CHECK constraints of `jobs` (priority keeps its
-- CHECK: the generated priority_rank reads the column, which so keeps its
-- type).
--
-- PostgreSQL reads a table's CHECK constraints and its triggers' WHEN
-- conditions back from their stored text at the start of every statement
-- that writes the table. For `jobs` that was about 14,000 characters per
-- claim, completion and enqueue: a tenth of a one-job claim's time. A
-- domain's check is read once per connection, and runs only for the values
-- a statement assigns. The constraints keep their names, so a refusal names
-- the same constraint (SQLSTATE 23514) as before.
--
-- Each column takes a domain without constraints first (no rewrite of the
-- table); the checks are then added NOT VALID and validated, a scan that
-- lets reads and writes go on.

create domain job_type_name as varchar(50);
create domain job_status_name as varchar(20);
create domain job_display_name as varchar(255);
create domain job_attempt_count as integer;
create domain job_max_attempts as integer;
create domain job_timeout_seconds as integer;

-- A column named in a trigger's WHEN cannot change type: these come back
-- below (jobs_requeue with a shorter condition).
drop trigger jobs_failure_on_insert on jobs;
drop trigger jobs_failure_on_update on jobs;
drop trigger jobs_batch_note_update on jobs;
drop trigger jobs_requeue on jobs;

alter table jobs
  drop constraint jobs_job_type_check,
  drop constraint jobs_status_check,
  drop constraint jobs_job_name_check,
  drop constraint jobs_attempts_check,
  drop constraint jobs_max_attempts_check,
  drop constraint jobs_timeout_seconds_check,
  alter column job_type type job_type_name,
  alter column status type job_status_name,
  alter column job_name type job_display_name,
  alter column attempts type job_attempt_count,
  alter column max_attempts type job_max_attempts,
  alter column timeout_seconds type job_timeout_seconds;

alter domain job_type_name add constraint jobs_job_type_check check (value in (
  'email', 'sms', 'whatsapp', 'document_processing', 'report_generation',
  'data_sync', 'webhook', 'cleanup', 'other')) not valid;
alter domain job_status_name add constraint jobs_status_check
  check (value in ('pending', 'running', 'completed', 'failed', 'cancelled')) not valid;
alter domain job_display_name add constraint jobs_job_name_check
  check (length(trim(value)) > 0) not valid;
alter domain job_attempt_count add constraint jobs_attempts_check
  check (value >= 0) not valid;
alter domain job_max_attempts add constraint jobs_max_attempts_check
  check (value between 1 and 100) not valid;
alter domain job_timeout_seconds add constraint jobs_timeout_seconds_check
  check (value between 1 and 86400) not valid;

alter domain job_type_name validate constraint jobs_job_type_check;
alter domain job_status_name validate constraint jobs_status_check;
alter domain job_display_name validate constraint jobs_job_name_check;
alter domain job_attempt_count validate constraint jobs_attempts_check;
alter domain job_max_attempts validate constraint jobs_max_attempts_check;
alter domain job_timeout_seconds validate constraint jobs_timeout_seconds_check;

-- NOT NULL stays on the columns; the domains allow null so that a null
-- reaching them still reports the column's not-null constraint.

create trigger jobs_failure_on_insert after insert on jobs
  for each row when (new.status = 'failed')
  execute function jobs_record_failure();
create trigger jobs_failure_on_update after update of status on jobs
  for each row when (new.status = 'failed' and old.status is distinct from 'failed')
  execute function jobs_record_failure();
create trigger jobs_batch_note_update after update of status on jobs
  for each row when ((old.batch_id is not null or new.batch_id is not null)
                     and old.status is distinct from new.status)
  execute function job_batches_note_job_change();

-- The condition that says whether a pending job's entry must be rewritten
-- moves into the function: the trigger's own condition is read for every
-- statement that updates jobs, and most (claims, completions) never set a
-- job pending.
create or replace function jobs_requeue() returns trigger
language plpgsql
as $$
begin
  if old.status <> 'pending'
     or old.available_at <> new.available_at
     or old.priority <> new.priority
     or old.queue <> new.queue
     or old.job_type <> new.job_type then
    insert into job_queue (first_job_id, job_ids, organization_id, queue, job_type,
                           priority_rank, available_at)
    values (new.id, array[new.id], new.organization_id, new.queue, new.job_type,
            new.priority_rank, new.available_at);
  end if;
  return null;
end
$$;
create trigger jobs_requeue after update on jobs
  for each row when (new.status = 'pending')
  execute function jobs_requeue();

-- The claim (migrations/0011) unchanged but for its result: RETURN QUERY
-- wants the declared types exactly, and a domain is not its base type.
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
    -- the domains' values as the declared result types
    select c.id, c.organization_id, c.job_type::varchar, c.job_name::varchar, c.payload,
           c.priority, c.queue, c.attempts::integer, c.max_attempts::integer,
           c.timeout_seconds::integer, c.batch_id, c.available_at, c.created_at,
           c.lease_token
    from claimed c;
end
$$;
