-- The Overview reads its figures from indexes alone.
--
-- A period's figures are the folded rows of one size since its start plus
-- the rows not folded yet. Asked as one condition with an OR, PostgreSQL
-- could use neither partial index and read the whole table; asked as two
-- (src/server/repo/overview.rs), each part has its index, and these carry
-- every column the Overview sums, so a part is an index-only scan. That
-- matters most where folding has churned a table: at a million jobs and a
-- million API calls `timing_stats` held 150,000 rows in 175 MB, and the 7-day
-- Overview spent 50-110 ms reading it.
--
-- The folded rows only: rows not folded yet are a minute or two of work.
-- Completions append unfolded rows, so these indexes cost them nothing.

drop index job_stats_organization_idx;
drop index job_stats_period_idx;
create index job_stats_organization_idx
  on job_stats (organization_id, period_seconds, period_start)
  include (job_type, completed, failed, cancelled, retried)
  where folded;
create index job_stats_period_idx
  on job_stats (period_seconds, period_start)
  include (organization_id, job_type, completed, failed, cancelled, retried)
  where folded;

drop index timing_stats_organization_idx;
drop index timing_stats_period_idx;
create index timing_stats_organization_idx
  on timing_stats (organization_id, period_seconds, period_start)
  include (subject, measure, bucket, samples)
  where folded;
create index timing_stats_period_idx
  on timing_stats (period_seconds, period_start)
  include (organization_id, subject, measure, bucket, samples)
  where folded;

drop index api_call_stats_organization_idx;
drop index api_call_stats_period_idx;
create index api_call_stats_organization_idx
  on api_call_stats (organization_id, period_seconds, period_start)
  include (api_name, succeeded, failed, timed_out)
  where folded;
create index api_call_stats_period_idx
  on api_call_stats (period_seconds, period_start)
  include (organization_id, api_name, succeeded, failed, timed_out)
  where folded;

-- Unresolved failures by age, for the bank or one organization: 40,000 open
-- failures took 28 ms to count from the table, a few from this.
create index failed_jobs_open_age_idx on failed_jobs (created_at) include (organization_id)
  where not is_resolved;
