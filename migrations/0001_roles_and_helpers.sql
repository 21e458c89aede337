-- Roles, tenancy helpers and the shared updated_at trigger function.
--
-- veriphy_app     the role every console request runs as (SET ROLE in the pool's
--                 after-connect hook). Not superuser, not owner, not BYPASSRLS:
--                 row-level security applies to everything it reads or writes.
-- veriphy_worker  the role the queue engine runs as. RLS applies too; its policies
--                 let it see every organization's jobs, because one worker serves all.
--
-- Both are NOLOGIN: the login user (the owner that runs these migrations) must be
-- a member so that it can SET ROLE. Creating them needs CREATEROLE; on a managed
-- server where the owner lacks it, a DBA creates the two roles once beforehand.
-- What each role may touch is granted in the row-level security migration.
do $$
begin
  -- roles are cluster-wide: another database of the cluster may be creating
  -- them at this very moment, so a duplicate is expected, not an error
  begin
    create role veriphy_app nologin;
  exception when duplicate_object or unique_violation then null;
  end;
  begin
    create role veriphy_worker nologin;
  exception when duplicate_object or unique_violation then null;
  end;
  if not pg_has_role(current_user, 'veriphy_app', 'member') then
    execute format('grant veriphy_app to %I', current_user);
  end if;
  if not pg_has_role(current_user, 'veriphy_worker', 'member') then
    execute format('grant veriphy_worker to %I', current_user);
  end if;
end
$$;

grant usage on schema public to veriphy_app, veriphy_worker;

-- The organization of the current transaction, from `set_config('app.org_id', ..., true)`.
-- A transaction that never set it sees NULL, and therefore no tenant rows.
create function app_current_org() returns uuid
language sql stable
as $$ select nullif(current_setting('app.org_id', true), '')::uuid $$;

-- True when the current transaction acts for a bank admin (all organizations).
create function app_is_bank_admin() returns boolean
language sql stable
as $$ select coalesce(current_setting('app.bank_admin', true), '') = 'on' $$;

-- The one predicate every tenant policy uses.
create function app_can_access(org uuid) returns boolean
language sql stable
as $$ select app_is_bank_admin() or (org is not null and org = app_current_org()) $$;

-- Keeps updated_at honest whatever the writer forgot.
create function set_updated_at() returns trigger
language plpgsql
as $$
begin
  new.updated_at := now();
  return new;
end
$$;
