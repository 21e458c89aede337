-- The schema version the database is at, for readiness checks: the
-- application roles may not read sqlx's own bookkeeping table, so this
-- function (running as the owner) answers for it.
create function app_schema_version() returns bigint
language sql stable security definer
set search_path = public
as $$ select coalesce(max(version), 0) from _sqlx_migrations where success $$;

revoke all on function app_schema_version() from public;
grant execute on function app_schema_version() to veriphy_app, veriphy_worker;
