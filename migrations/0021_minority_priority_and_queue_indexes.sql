-- Jobs of an uncommon priority or queue, newest first per organization.
--
-- Most jobs are of priority 'normal' in queue 'default'. A filter on another
-- priority or queue walked the organization's whole index when it had few
-- such jobs (190-320 ms at a million rows). These indexes hold only the
-- other jobs, so the common job's enqueue writes no entry to them; the Jobs
-- tab adds the implied condition (`priority <> 'normal'`, `queue <>
-- 'default'`) so that PostgreSQL knows the index covers the filter
-- (src/server/db/job_filter.rs). Claims and completions change neither
-- column: their updates stay HOT.

create index jobs_uncommon_priority_idx
  on jobs (organization_id, priority, created_at desc, id desc)
  where priority <> 'normal';

create index jobs_uncommon_queue_idx
  on jobs (organization_id, queue, created_at desc, id desc)
  where queue <> 'default';
