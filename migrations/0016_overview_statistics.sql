-- Statistics kept as work happens, for the Overview: per organization,
-- job type and minute, how many attempts ended how, and how long jobs
-- waited (available -> started) and ran (started -> finished); per
-- organization, API and minute, how many third-party calls ended how and
-- how long they took.
--
-- Every statement that ends attempts (the completer's batches, a failure,
-- a cancellation, the rescuer) appends its own rows: nothing is updated in
-- place, so concurrent workers never wait for each other here. A worker
-- folds the rows of minutes that have ended into one row per organization,
-- subject and minute, and adds them to that hour's and that day's rows too,
-- so each period of the Overview reads rows of its own size (the last hour
-- minutes, 24 hours and 7 days hours, 30 days days): a few thousand rows
-- whatever the number of jobs.
--
-- No references to organizations: a check per written row would cost
-- every completion; the rows go with their organization (see the delete
-- trigger below).

-- How attempts ended.
create table job_stats (
  organization_id uuid not null,
  job_type varchar(50) not null,
  period_start timestamptz not null,
  -- 60 (a minute), 3600 (an hour) or 86400 (a UTC day); see the folding
  period_seconds integer not null check (period_seconds in (60, 3600, 86400)),
  -- attempts that ended the job completed / failed / cancelled
  completed integer not null default 0,
  failed integer not null default 0,
  cancelled integer not null default 0,
  -- failed attempts after which the job runs again
  retried integer not null default 0,
  -- over the attempts that ran
  wait_ms_sum double precision not null default 0,
  run_ms_sum double precision not null default 0,
  -- one row per organization, type and period; unfolded rows are what
  -- single statements appended
  folded boolean not null default false
);
create unique index job_stats_folded_key
  on job_stats (organization_id, job_type, period_seconds, period_start) where folded;
-- a period's rows of one size (an organization's, or everyone's), and the
-- rows not folded yet
create index job_stats_organization_idx on job_stats (organization_id, period_seconds, period_start)
  where folded;
create index job_stats_period_idx on job_stats (period_seconds, period_start) where folded;
create index job_stats_unfolded_idx on job_stats (period_start) where not folded;

-- How long things took: counts per bucket of a logarithmic scale (see
-- timing_bucket), from which percentiles are read. `subject` is the job
-- type (measures 'wait' and 'run') or the API name ('response').
create table timing_stats (
  organization_id uuid not null,
  subject varchar(255) not null,
  measure varchar(8) not null check (measure in ('wait', 'run', 'response')),
  period_start timestamptz not null,
  period_seconds integer not null check (period_seconds in (60, 3600, 86400)),
  bucket smallint not null check (bucket between 0 and 63),
  samples integer not null,
  folded boolean not null default false
);
create unique index timing_stats_folded_key
  on timing_stats (organization_id, subject, measure, period_seconds, period_start, bucket)
  where folded;
-- a period's rows of one size (an organization's, or everyone's), and the
-- rows not folded yet
create index timing_stats_organization_idx on timing_stats (organization_id, period_seconds, period_start)
  where folded;
create index timing_stats_period_idx on timing_stats (period_seconds, period_start) where folded;
create index timing_stats_unfolded_idx on timing_stats (period_start) where not folded;

-- How third-party calls ended (rows of third_party_api_log that left
-- 'pending'), written by triggers of that table.
create table api_call_stats (
  organization_id uuid not null,
  api_name varchar(255) not null,
  period_start timestamptz not null,
  period_seconds integer not null check (period_seconds in (60, 3600, 86400)),
  succeeded integer not null default 0,
  failed integer not null default 0,
  timed_out integer not null default 0,
  response_ms_sum double precision not null default 0,
  folded boolean not null default false
);
create unique index api_call_stats_folded_key
  on api_call_stats (organization_id, api_name, period_seconds, period_start) where folded;
-- a period's rows of one size (an organization's, or everyone's), and the
-- rows not folded yet
create index api_call_stats_organization_idx on api_call_stats (organization_id, period_seconds, period_start)
  where folded;
create index api_call_stats_period_idx on api_call_stats (period_seconds, period_start) where folded;
create index api_call_stats_unfolded_idx on api_call_stats (period_start) where not folded;

-- Bucket 0 holds durations under 1 ms; bucket i >= 1 those in
-- [2^((i-1)/2), 2^(i/2)) ms, so a bucket is at most 41 % wider than its
-- lower bound; bucket 63 holds everything from 2^31 ms (about 25 days).
-- (A plain SQL body, so PostgreSQL inlines it into the statements that
-- call it.)
create function timing_bucket(ms double precision) returns smallint
language sql immutable parallel safe
as $$
  select case
    when ms is null or ms < 1 then 0::smallint
    else least(63, 1 + floor(2 * ln(ms) / ln(2.0)))::smallint
  end
$$;

-- the console appends rows for what its own actions end (cancellations)
do $$
declare
  t text;
begin
  foreach t in array array['job_stats', 'timing_stats', 'api_call_stats'] loop
    execute format('grant select, insert on %I to veriphy_app', t);
    execute format('grant select, insert, update, delete on %I to veriphy_worker', t);
    execute format('alter table %I enable row level security', t);
    execute format('alter table %I force row level security', t);
    execute format('create policy %I on %I to veriphy_app
                      using (app_can_access(organization_id))
                      with check (app_can_access(organization_id))', t || '_tenant', t);
    execute format('create policy %I on %I to veriphy_worker using (true) with check (true)',
                   t || '_worker', t);
  end loop;
end
$$;

-- An organization's statistics go with it.
create function organizations_drop_job_stats() returns trigger
language plpgsql
as $$
begin
  delete from job_stats s using old_organizations o where s.organization_id = o.id;
  delete from timing_stats s using old_organizations o where s.organization_id = o.id;
  delete from api_call_stats s using old_organizations o where s.organization_id = o.id;
  return null;
end
$$;
create trigger organizations_drop_job_stats after delete on organizations
  referencing old table as old_organizations
  for each statement execute function organizations_drop_job_stats();

-- Folding -------------------------------------------------------------------------

-- The periods rows are kept at, and for how long: minutes for two days,
-- hours for 60 days, days for 400 days.
create function stats_granularities() returns table (seconds integer, kept interval)
language sql immutable
as $$ values (60, interval '2 days'), (3600, interval '60 days'), (86400, interval '400 days') $$;

-- Folds the rows that statements appended during minutes that have ended:
-- each is added to its minute's, its hour's and its day's row (a row
-- appended for an hour, like the backfill's, to its hour's and day's). One
-- caller at a time (others return at once); statements that append
-- meanwhile are folded by the next call. Drops rows past their keeping.
-- Returns how many appended rows it folded.
create function fold_job_stats() returns bigint
language plpgsql
as $$
declare
  folded_rows bigint := 0;
  n bigint;
begin
  if not pg_try_advisory_xact_lock(hashtextextended('fold_job_stats', 0)) then
    return 0;
  end if;

  with taken as (
    delete from job_stats
    where not folded and period_start < date_bin('1 minute', now(), timestamptz '2000-01-01 00:00:00+00')
    returning *
  ),
  grouped as (
    select t.organization_id, t.job_type,
           date_bin(make_interval(secs => g.seconds), t.period_start,
                    timestamptz '2000-01-01 00:00:00+00') as period_start,
           g.seconds as period_seconds,
           sum(t.completed) as completed, sum(t.failed) as failed,
           sum(t.cancelled) as cancelled, sum(t.retried) as retried,
           sum(t.wait_ms_sum) as wait_ms_sum, sum(t.run_ms_sum) as run_ms_sum
    from taken t
    join stats_granularities() g on g.seconds >= t.period_seconds
    group by 1, 2, 3, 4
  ),
  written as (
    insert into job_stats as s (organization_id, job_type, period_start, period_seconds,
                                completed, failed, cancelled, retried, wait_ms_sum,
                                run_ms_sum, folded)
    select organization_id, job_type, period_start, period_seconds, completed, failed,
           cancelled, retried, wait_ms_sum, run_ms_sum, true
    from grouped
    on conflict (organization_id, job_type, period_seconds, period_start) where folded
    do update set
      completed = s.completed + excluded.completed,
      failed = s.failed + excluded.failed,
      cancelled = s.cancelled + excluded.cancelled,
      retried = s.retried + excluded.retried,
      wait_ms_sum = s.wait_ms_sum + excluded.wait_ms_sum,
      run_ms_sum = s.run_ms_sum + excluded.run_ms_sum
  )
  select count(*) into n from taken;
  folded_rows := folded_rows + n;

  with taken as (
    delete from timing_stats
    where not folded and period_start < date_bin('1 minute', now(), timestamptz '2000-01-01 00:00:00+00')
    returning *
  ),
  grouped as (
    select t.organization_id, t.subject, t.measure,
           date_bin(make_interval(secs => g.seconds), t.period_start,
                    timestamptz '2000-01-01 00:00:00+00') as period_start,
           g.seconds as period_seconds, t.bucket, sum(t.samples) as samples
    from taken t
    join stats_granularities() g on g.seconds >= t.period_seconds
    group by 1, 2, 3, 4, 5, 6
  ),
  written as (
    insert into timing_stats as s (organization_id, subject, measure, period_start,
                                   period_seconds, bucket, samples, folded)
    select organization_id, subject, measure, period_start, period_seconds, bucket, samples,
           true
    from grouped
    on conflict (organization_id, subject, measure, period_seconds, period_start, bucket)
      where folded
    do update set samples = s.samples + excluded.samples
  )
  select count(*) into n from taken;
  folded_rows := folded_rows + n;

  with taken as (
    delete from api_call_stats
    where not folded and period_start < date_bin('1 minute', now(), timestamptz '2000-01-01 00:00:00+00')
    returning *
  ),
  grouped as (
    select t.organization_id, t.api_name,
           date_bin(make_interval(secs => g.seconds), t.period_start,
                    timestamptz '2000-01-01 00:00:00+00') as period_start,
           g.seconds as period_seconds,
           sum(t.succeeded) as succeeded, sum(t.failed) as failed,
           sum(t.timed_out) as timed_out, sum(t.response_ms_sum) as response_ms_sum
    from taken t
    join stats_granularities() g on g.seconds >= t.period_seconds
    group by 1, 2, 3, 4
  ),
  written as (
    insert into api_call_stats as s (organization_id, api_name, period_start, period_seconds,
                                     succeeded, failed, timed_out, response_ms_sum, folded)
    select organization_id, api_name, period_start, period_seconds, succeeded, failed,
           timed_out, response_ms_sum, true
    from grouped
    on conflict (organization_id, api_name, period_seconds, period_start) where folded
    do update set
      succeeded = s.succeeded + excluded.succeeded,
      failed = s.failed + excluded.failed,
      timed_out = s.timed_out + excluded.timed_out,
      response_ms_sum = s.response_ms_sum + excluded.response_ms_sum
  )
  select count(*) into n from taken;
  folded_rows := folded_rows + n;

  delete from job_stats s using stats_granularities() g
  where s.folded and s.period_seconds = g.seconds and s.period_start < now() - g.kept;
  delete from timing_stats s using stats_granularities() g
  where s.folded and s.period_seconds = g.seconds and s.period_start < now() - g.kept;
  delete from api_call_stats s using stats_granularities() g
  where s.folded and s.period_seconds = g.seconds and s.period_start < now() - g.kept;
  return folded_rows;
end
$$;
grant execute on function fold_job_stats() to veriphy_worker;

-- Backfill --------------------------------------------------------------------------

-- Records the finished jobs of `organization` that statistics do not count
-- yet, by the hour they finished in: jobs finished before this migration,
-- and jobs written directly (demo data). Attempts before the last are not
-- known here; only the last is counted.
create function backfill_job_stats(organization uuid) returns void
language sql
as $$
  with finished as (
    select organization_id, job_type, status,
           coalesce(completed_at, failed_at, updated_at) as finished_at,
           extract(epoch from started_at - available_at) * 1000 as wait_ms,
           extract(epoch from coalesce(completed_at, failed_at) - started_at) * 1000 as run_ms
    from jobs
    where organization_id = organization
      and status in ('completed', 'failed', 'cancelled')
  ),
  counted as (
    insert into job_stats (organization_id, job_type, period_start, period_seconds,
                           completed, failed, cancelled, wait_ms_sum, run_ms_sum)
    select organization_id, job_type, date_trunc('hour', finished_at, 'UTC'), 3600,
           count(*) filter (where status = 'completed'),
           count(*) filter (where status = 'failed'),
           count(*) filter (where status = 'cancelled'),
           coalesce(sum(greatest(wait_ms, 0)) filter (where run_ms is not null), 0),
           coalesce(sum(greatest(run_ms, 0)) filter (where run_ms is not null), 0)
    from finished
    group by 1, 2, 3
  )
  insert into timing_stats (organization_id, subject, measure, period_start, period_seconds,
                            bucket, samples)
  select f.organization_id, f.job_type, m.measure, date_trunc('hour', f.finished_at, 'UTC'), 3600,
         m.bucket, count(*)
  from finished f
  cross join lateral (values ('wait', timing_bucket(greatest(f.wait_ms, 0))),
                             ('run', timing_bucket(greatest(f.run_ms, 0)))) as m (measure, bucket)
  where f.run_ms is not null
  group by 1, 2, 3, 4, 6
$$;

-- Third-party calls --------------------------------------------------------------

-- Counts a call that ended (left 'pending') in the minute it was made.
create function api_log_record_stats() returns trigger
language plpgsql
as $$
begin
  insert into api_call_stats (organization_id, api_name, period_start, period_seconds,
                              succeeded, failed, timed_out, response_ms_sum)
  values (new.organization_id, new.api_name, date_trunc('minute', new.created_at, 'UTC'), 60,
          (new.status = 'success')::int, (new.status = 'failed')::int,
          (new.status = 'timeout')::int, coalesce(new.response_time, 0));
  if new.response_time is not null then
    insert into timing_stats (organization_id, subject, measure, period_start, period_seconds,
                              bucket, samples)
    values (new.organization_id, new.api_name, 'response',
            date_trunc('minute', new.created_at, 'UTC'), 60, timing_bucket(new.response_time), 1);
  end if;
  return null;
end
$$;
create trigger third_party_api_log_stats_on_insert after insert on third_party_api_log
  for each row when (new.status <> 'pending')
  execute function api_log_record_stats();
create trigger third_party_api_log_stats_on_update after update of status on third_party_api_log
  for each row when (old.status = 'pending' and new.status <> 'pending')
  execute function api_log_record_stats();

-- Jobs and calls that ended before statistics were kept.
select backfill_job_stats(id) from organizations;

insert into api_call_stats (organization_id, api_name, period_start, period_seconds, succeeded,
                            failed, timed_out, response_ms_sum)
select organization_id, api_name, date_trunc('hour', created_at, 'UTC'), 3600,
       count(*) filter (where status = 'success'), count(*) filter (where status = 'failed'),
       count(*) filter (where status = 'timeout'), coalesce(sum(response_time), 0)
from third_party_api_log
where status <> 'pending'
group by 1, 2, 3;

insert into timing_stats (organization_id, subject, measure, period_start, period_seconds, bucket,
                          samples)
select organization_id, api_name, 'response', date_trunc('hour', created_at, 'UTC'), 3600,
       timing_bucket(response_time), count(*)
from third_party_api_log
where status <> 'pending' and response_time is not null
group by 1, 2, 3, 4, 5, 6;
