-- An outbound call's log row is opened before the call and closed after it.
-- Each was a transaction of its own — BEGIN, the scope settings, the
-- statement, COMMIT: four round trips, twice per call, a third of an SMS's
-- database work. These functions do the same in one statement each, so a
-- handler's connection runs them outside any transaction: one round trip,
-- committed when it returns.
--
-- Each binds its statement to the call's organization first, as a
-- handler's transaction is bound (the settings row-level security reads),
-- and only then writes: the policies check the row against that
-- organization, and the statement filters by it as well. The settings are
-- local to the statement's own transaction.

create function api_call_open(
  organization uuid, call_id uuid, integration uuid, api varchar, endpoint_url varchar,
  http_method varchar, request jsonb, attempt integer, details jsonb,
  announce_on text, announcement text
) returns void
language plpgsql
as $$
begin
  perform set_config('app.org_id', organization::text, true),
          set_config('app.bank_admin', 'off', true),
          set_config('app.user_id', '', true);
  insert into third_party_api_log
    (id, organization_id, integration_id, api_name, endpoint, method, request_payload,
     status, retry_count, metadata)
  values (call_id, organization, integration, api, endpoint_url, http_method, request,
          'pending', attempt, details);
  perform pg_notify(announce_on, announcement);
end
$$;

-- Closing does not wait for its WAL to reach disk (synchronous_commit off):
-- were the database to crash first, the call would stay `pending`, on
-- record as cut short, which is what the pending row is for; and the job's
-- own outcome, committed durably afterwards, flushes the WAL past it.
-- Returns whether a pending call was closed.
create function api_call_close(
  organization uuid, call_id uuid, outcome varchar, code integer, elapsed_ms integer,
  response jsonb, error text, announce_on text, announcement text
) returns boolean
language plpgsql
as $$
begin
  perform set_config('app.org_id', organization::text, true),
          set_config('app.bank_admin', 'off', true),
          set_config('app.user_id', '', true),
          set_config('synchronous_commit', 'off', true);
  update third_party_api_log set
    status = outcome, is_success = (outcome = 'success'), status_code = code,
    response_time = elapsed_ms, response_payload = response, error_message = error
  where organization_id = organization and id = call_id and status = 'pending';
  if not found then
    return false;
  end if;
  perform pg_notify(announce_on, announcement);
  return true;
end
$$;

revoke all on function api_call_open(uuid, uuid, uuid, varchar, varchar, varchar, jsonb, integer,
                                     jsonb, text, text) from public;
revoke all on function api_call_close(uuid, uuid, varchar, integer, integer, jsonb, text, text,
                                      text) from public;
grant execute on function api_call_open(uuid, uuid, uuid, varchar, varchar, varchar, jsonb,
                                        integer, jsonb, text, text) to veriphy_app;
grant execute on function api_call_close(uuid, uuid, varchar, integer, integer, jsonb, text,
                                         text, text) to veriphy_app;
