-- What each application role may touch, and row-level security on every
-- tenant table, ENABLEd and FORCEd (so the owner is bound too).
--
-- veriphy_app (console requests) sees a row only when app_can_access() says
-- so for the transaction's settings (app.org_id, app.bank_admin); a
-- transaction that set nothing sees nothing. veriphy_worker (the queue
-- engine and job handlers) serves every organization. Queries filter by
-- organization themselves as well: the tenant is checked twice.

-- Grants --------------------------------------------------------------------------

grant select, insert, update, delete on
  organizations, users, system_integrations, job_batches, jobs, failed_jobs,
  third_party_api_log, webhooks
  to veriphy_app, veriphy_worker;
-- append-only (and the trigger refuses changes to anyone)
grant select, insert on audit_log to veriphy_app, veriphy_worker;
grant select, insert, delete on stored_files to veriphy_app, veriphy_worker;
-- written by the batch-counter triggers of whoever changes jobs
grant select, insert, delete on job_batch_deltas to veriphy_app, veriphy_worker;
-- the insert trigger registers queues for any writer of jobs; pause and
-- concurrency changes are the console's (bank admins, checked in the app)
grant select, insert, update on queues to veriphy_app, veriphy_worker;
-- The console adds entries (through the triggers) and reads both tables for
-- the Queues view; only workers claim (FOR UPDATE needs UPDATE), renew and
-- rescue.
grant select, insert on job_queue, job_leases to veriphy_app;
grant select, insert, update, delete on job_queue, job_leases to veriphy_worker;

grant usage on schema tower_sessions to veriphy_app;
grant select, insert, update, delete on tower_sessions.session to veriphy_app;

-- Tenant tables -------------------------------------------------------------------------

do $$
declare
  t text;
begin
  foreach t in array array[
    'system_integrations', 'job_batches', 'jobs', 'failed_jobs',
    'third_party_api_log', 'webhooks', 'stored_files', 'job_queue', 'job_leases'
  ] loop
    execute format('alter table %I enable row level security', t);
    execute format('alter table %I force row level security', t);
    execute format(
      'create policy %I on %I to veriphy_app
         using (app_can_access(organization_id))
         with check (app_can_access(organization_id))',
      t || '_tenant', t);
    execute format(
      'create policy %I on %I to veriphy_worker using (true) with check (true)',
      t || '_worker', t);
  end loop;
end
$$;

-- Organizations: a tenant sees its own; only bank admins create or change them.
alter table organizations enable row level security;
alter table organizations force row level security;
create policy organizations_tenant on organizations to veriphy_app
  using (app_can_access(id))
  with check (app_is_bank_admin());
create policy organizations_worker on organizations to veriphy_worker
  using (true) with check (true);

-- Users: a tenant sees its own users; anyone sees their own row (app.user_id);
-- sign-in may read exactly the row whose email it was given (app.login_email).
alter table users enable row level security;
alter table users force row level security;
create policy users_tenant on users to veriphy_app
  using (
    app_can_access(organization_id)
    or id = nullif(current_setting('app.user_id', true), '')::uuid
    or email = nullif(current_setting('app.login_email', true), '')
  )
  with check (
    app_can_access(organization_id)
    or id = nullif(current_setting('app.user_id', true), '')::uuid
  );
create policy users_worker on users to veriphy_worker
  using (true) with check (true);

-- Audit rows of an organization are that organization's; bank-level rows
-- (no organization) are visible to bank admins only, but anyone may write one
-- (a failed sign-in has no organization yet).
alter table audit_log enable row level security;
alter table audit_log force row level security;
create policy audit_log_read on audit_log for select to veriphy_app, veriphy_worker
  using (app_can_access(organization_id) or (organization_id is null and app_is_bank_admin()));
create policy audit_log_write on audit_log for insert to veriphy_app, veriphy_worker
  with check (organization_id is null or app_can_access(organization_id)
              or current_user = 'veriphy_worker');
