-- Outbound calls are logged in batches.
--
-- At 800 SMS a second the two one-row functions of 0026 were most of the
-- database's work: each opening paid a commit that waits for the disk and
-- the foreign-key locks on the organization and the integration; each
-- closing an update that moved the row to another page (six index entries
-- written again), a BEFORE trigger that kept updated_at, and an AFTER
-- trigger that ran two inserts into the statistics for that one call.
--
-- * The handlers' calls waiting to be opened (or closed) are written
--   together: one statement, one commit, one notification for all of them.
--   The functions take parallel arrays; the rows of each organization are
--   written by a statement bound to that organization (the settings
--   row-level security reads) and filtered by it, as before.
-- * Closing sets updated_at itself, so the BEFORE UPDATE row trigger goes:
--   the closing functions are the only writers that update this table.
-- * Pages keep room for the closed version of their rows (fillfactor 60),
--   so closing is a HOT update that writes no index entry.
-- * The closed calls are counted into the statistics once per statement
--   (per organization, API and minute), from its transition tables.

alter table third_party_api_log set (fillfactor = 60);

drop trigger third_party_api_log_updated_at on third_party_api_log;

drop function api_call_open(uuid, uuid, uuid, varchar, varchar, varchar, jsonb, integer, jsonb,
                            text, text);
drop function api_call_close(uuid, uuid, varchar, integer, integer, jsonb, text, text, text);

-- Opens calls (the i-th of each array is one call) before they are made;
-- committed, durably, when the statement returns.
create function api_calls_open(
  organizations uuid[], call_ids uuid[], integrations uuid[], apis varchar[],
  endpoints varchar[], http_methods varchar[], requests jsonb[], attempts integer[],
  details jsonb[], announce_on text, announcements text[]
) returns void
language plpgsql
as $$
declare
  tenant uuid;
begin
  for tenant in select distinct o from unnest(organizations) o loop
    perform set_config('app.org_id', tenant::text, true),
            set_config('app.bank_admin', 'off', true),
            set_config('app.user_id', '', true);
    insert into third_party_api_log
      (id, organization_id, integration_id, api_name, endpoint, method, request_payload,
       status, retry_count, metadata)
    select c.id, tenant, c.integration, c.api, c.endpoint, c.method, c.request,
           'pending', c.attempt, c.details
    from unnest(organizations, call_ids, integrations, apis, endpoints, http_methods,
                requests, attempts, details)
         as c (organization, id, integration, api, endpoint, method, request, attempt, details)
    where c.organization = tenant;
  end loop;
  perform pg_notify(announce_on, a) from unnest(announcements) a;
end
$$;

-- Records how calls ended (the i-th of each array is one call); returns the
-- ids of the calls closed (those still pending). Closing does not wait for
-- its WAL to reach disk (synchronous_commit off): were the database to
-- crash first, a call would stay `pending`, on record as cut short, which
-- is what the pending row is for; and the job's own outcome, committed
-- durably afterwards, flushes the WAL past it.
create function api_calls_close(
  organizations uuid[], call_ids uuid[], outcomes varchar[], codes integer[],
  elapsed_ms integer[], responses jsonb[], errors text[], announce_on text,
  announcements text[]
) returns uuid[]
language plpgsql
as $$
declare
  tenant uuid;
  closed uuid[] := '{}';
  closed_now uuid[];
begin
  perform set_config('synchronous_commit', 'off', true);
  for tenant in select distinct o from unnest(organizations) o loop
    perform set_config('app.org_id', tenant::text, true),
            set_config('app.bank_admin', 'off', true),
            set_config('app.user_id', '', true);
    with ended as (
      update third_party_api_log l set
        status = c.outcome, is_success = (c.outcome = 'success'), status_code = c.code,
        response_time = c.elapsed, response_payload = c.response, error_message = c.error,
        updated_at = now()
      from unnest(organizations, call_ids, outcomes, codes, elapsed_ms, responses, errors)
           as c (organization, id, outcome, code, elapsed, response, error)
      where c.organization = tenant
        and l.organization_id = tenant and l.id = c.id and l.status = 'pending'
      returning l.id
    )
    select coalesce(array_agg(id), '{}') into closed_now from ended;
    closed := closed || closed_now;
  end loop;
  if cardinality(closed) > 0 then
    perform pg_notify(announce_on, a) from unnest(announcements) a;
  end if;
  return closed;
end
$$;

revoke all on function api_calls_open(uuid[], uuid[], uuid[], varchar[], varchar[], varchar[],
                                      jsonb[], integer[], jsonb[], text, text[]) from public;
revoke all on function api_calls_close(uuid[], uuid[], varchar[], integer[], integer[], jsonb[],
                                       text[], text, text[]) from public;
grant execute on function api_calls_open(uuid[], uuid[], uuid[], varchar[], varchar[],
                                         varchar[], jsonb[], integer[], jsonb[], text, text[])
  to veriphy_app;
grant execute on function api_calls_close(uuid[], uuid[], varchar[], integer[], integer[],
                                          jsonb[], text[], text, text[]) to veriphy_app;

-- Statistics ----------------------------------------------------------------------

-- Counts calls that ended (the i-th of each array is one call), in the
-- minute each was made: one row per organization, API and minute into
-- api_call_stats, one per response-time bucket into timing_stats.
create function api_calls_count(
  organizations uuid[], apis varchar[], made_at timestamptz[], outcomes varchar[],
  elapsed_ms integer[]
) returns void
language sql
as $$
  with calls as (
    select organization_id, api_name, date_trunc('minute', created_at, 'UTC') as minute,
           status, response_time
    from unnest(organizations, apis, made_at, outcomes, elapsed_ms)
         as c (organization_id, api_name, created_at, status, response_time)
  ),
  counted as (
    insert into api_call_stats (organization_id, api_name, period_start, period_seconds,
                                succeeded, failed, timed_out, response_ms_sum)
    select organization_id, api_name, minute, 60,
           count(*) filter (where status = 'success'),
           count(*) filter (where status = 'failed'),
           count(*) filter (where status = 'timeout'),
           coalesce(sum(response_time), 0)
    from calls
    group by 1, 2, 3
  )
  insert into timing_stats (organization_id, subject, measure, period_start, period_seconds,
                            bucket, samples)
  select organization_id, api_name, 'response', minute, 60, timing_bucket(response_time),
         count(*)
  from calls
  where response_time is not null
  group by 1, 2, 4, 6
$$;

-- A call written already ended (not opened, then closed): the demo's and
-- the console benchmark's rows.
create function api_log_count_inserted() returns trigger
language plpgsql
as $$
begin
  perform api_calls_count(array[new.organization_id], array[new.api_name],
                          array[new.created_at], array[new.status],
                          array[new.response_time]);
  return null;
end
$$;

-- Calls that left 'pending' in this statement (only the columns counted
-- are gathered: the payloads stay where they are).
create function api_log_count_closed() returns trigger
language plpgsql
as $$
begin
  perform api_calls_count(array_agg(n.organization_id), array_agg(n.api_name),
                          array_agg(n.created_at), array_agg(n.status),
                          array_agg(n.response_time))
  from closed_calls n join calls_before o on o.id = n.id
  where o.status = 'pending' and n.status <> 'pending'
  having count(*) > 0;
  return null;
end
$$;

drop trigger third_party_api_log_stats_on_insert on third_party_api_log;
drop trigger third_party_api_log_stats_on_update on third_party_api_log;
drop function api_log_record_stats();

-- row by row, as before: opening writes pending rows, which this skips
-- without running anything
create trigger third_party_api_log_count_inserted after insert on third_party_api_log
  for each row when (new.status <> 'pending')
  execute function api_log_count_inserted();
create trigger third_party_api_log_count_closed after update on third_party_api_log
  referencing old table as calls_before new table as closed_calls
  for each statement execute function api_log_count_closed();
