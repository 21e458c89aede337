-- Row triggers that run BEFORE an update make PostgreSQL lock each row first
-- (and write a WAL record for that lock) whether or not their WHEN condition
-- holds: about a third of the cost of the claim's and the completion's
-- updates. The checks they made now run AFTER the update, which aborts the
-- statement just the same, and `updated_at` is set by every statement that
-- updates jobs (the engine's and the console's all do).

drop trigger jobs_updated_at on jobs;

drop trigger jobs_owners_fixed on jobs;
create trigger jobs_owners_fixed after update of organization_id, batch_id, created_by on jobs
  for each row
  when (old.organization_id is distinct from new.organization_id
        or old.batch_id is distinct from new.batch_id
        or old.created_by is distinct from new.created_by)
  execute function jobs_owners_are_fixed();

-- Fires before jobs_requeue (triggers of one kind fire in name order), so a
-- moved job's new queue exists before its queue entry is written.
drop trigger jobs_register_queue on jobs;
create trigger jobs_register_queue after update of queue on jobs
  for each row when (old.queue is distinct from new.queue)
  execute function jobs_register_queue();

