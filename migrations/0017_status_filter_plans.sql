-- Plans for the Jobs tab's status filter over millions of rows that keep
-- the engine's updates HOT.
--
-- An index that names `status` (as a key, an included column or a partial
-- index's condition) would make every claim and completion update every
-- index of `jobs`, about halving the drain. Instead, the rare statuses are
-- reached through columns only their own transition writes:
--   failed     partial index on `failed_at is not null` (set when a job
--              fails, cleared by a retry or a later success);
--   cancelled  partial index on the new `cancelled_at` (set when a job is
--              cancelled, cleared by a retry);
--   running    through `job_leases` (no index on jobs: the running jobs are
--              the leases' ids);
-- while pending jobs are the newest and completed ones the bulk, both
-- found quickly walking an organization's newest-first index. Claims and
-- completions never change `failed_at` or `cancelled_at` (a completion sets
-- `failed_at` to the null it already is), so their updates stay HOT
-- (tests/schema.rs: claims_and_completions_stay_hot).

alter table jobs add column cancelled_at timestamptz;

update jobs set cancelled_at = coalesce(completed_at, updated_at)
where status = 'cancelled';
update jobs set failed_at = updated_at
where status = 'failed' and failed_at is null;

create index jobs_failed_idx on jobs (organization_id, created_at desc, id desc)
  where failed_at is not null;
create index jobs_cancelled_idx on jobs (organization_id, created_at desc, id desc)
  where cancelled_at is not null;
