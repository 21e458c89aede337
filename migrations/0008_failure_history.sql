-- Each failure episode of a job is its own failed_jobs record, and a job
-- whose failure is still open cannot be deleted.
--
-- Before: one record per job (unique job_id), overwritten (and reopened) by
-- the next failure, so a resolution note was lost when the job failed again;
-- deleting a job deleted its records with it, open or not.
-- Now: at most one open record per job. A failure while one is open updates
-- it (the same unresolved problem, failing again); a failure after it was
-- resolved starts a new record and the resolved one keeps its note.
-- Deleting a job with an open record is refused (SQLSTATE 23503,
-- constraint jobs_unresolved_failure); resolved records still go with their
-- job (failed_jobs.job_id references jobs, as the design note says), and
-- whoever deletes a job records what was deleted in the audit log.

alter table failed_jobs drop constraint failed_jobs_job_id_key;
create index failed_jobs_job_idx on failed_jobs (job_id);
create unique index failed_jobs_one_open_per_job on failed_jobs (job_id) where not is_resolved;

create or replace function jobs_record_failure() returns trigger
language plpgsql
as $$
begin
  insert into failed_jobs (
    job_id, organization_id, job_type, job_name, payload, error_message,
    error_details, stack_trace, failed_at, max_retries
  ) values (
    new.id, new.organization_id, new.job_type, new.job_name, new.payload,
    coalesce(new.error_message, 'failed without an error message'),
    new.error_details, new.error_details ->> 'stack_trace',
    coalesce(new.failed_at, now()), new.max_attempts
  )
  on conflict (job_id) where not is_resolved do update set
    error_message = excluded.error_message,
    error_details = excluded.error_details,
    stack_trace = excluded.stack_trace,
    failed_at = excluded.failed_at,
    max_retries = excluded.max_retries,
    payload = excluded.payload;
  return null;
end
$$;

create function jobs_refuse_delete_with_open_failure() returns trigger
language plpgsql
as $$
begin
  if exists (select 1 from failed_jobs where job_id = old.id and not is_resolved) then
    raise exception 'job % has an unresolved failure', old.id
      using errcode = '23503', constraint = 'jobs_unresolved_failure';
  end if;
  return old;
end
$$;
create trigger jobs_unresolved_failure before delete on jobs
  for each row execute function jobs_refuse_delete_with_open_failure();
