-- The engine's own events: a job that completed, a job that failed for
-- good, a batch whose last job ended. They are raised in the transaction of
-- the write that causes them, and only for organizations with a webhook
-- that receives them: an event nobody receives is not recorded, so a
-- completion pays one index probe per organization and statement, never a
-- write per job. Webhook deliveries raise no job events (a failing receiver
-- subscribed to job.failed would feed itself).

-- The receiving webhooks of one event type (of one organization): the
-- fan-out, and the engine's "does anybody listen" probes.
create index webhooks_receiving_idx on webhooks (event_type, organization_id)
  where is_active and status = 'active';

-- A webhook's deliveries (their jobs), by event: the failed ones a replay
-- sends again, and whether an event is already on its way again.
create index jobs_webhook_deliveries_idx
  on jobs (organization_id, (payload ->> 'webhook_id'), (payload ->> 'event_id'))
  where job_type = 'webhook';

-- Enqueues the deliveries of recorded events, one `webhook` job each: to
-- every receiving webhook of the event's organization subscribed to its
-- type, or, with `to_webhook`, to that one webhook of the event's
-- organization whatever it subscribes to (a test, a resend). The new jobs
-- are announced to live viewers at commit. Returns their ids.
create function webhook_enqueue_deliveries(event_ids uuid[], to_webhook uuid default null)
returns setof uuid
language plpgsql
as $$
begin
  return query
  with queued as (
    insert into jobs (organization_id, job_type, job_name, payload, queue, max_attempts)
    select e.organization_id, 'webhook', left(e.event_type || ' to ' || w.webhook_name, 255),
           jsonb_build_object('webhook_id', w.id, 'event_id', e.id), 'default', w.max_retries + 1
    from webhook_events e
    join webhooks w on w.organization_id = e.organization_id
    where e.id = any (event_ids)
      and (case when to_webhook is null
                then w.event_type = e.event_type and w.is_active and w.status = 'active'
                else w.id = to_webhook end)
    returning id, organization_id
  ),
  -- the live feed's line: `organization jobs id id …`, or `*` past 100 ids
  announced as (
    select pg_notify('veriphy_live', line)
    from (select q.organization_id || ' jobs ' ||
                 case when count(*) > 100 then '*' else string_agg(q.id::text, ' ') end as line
          from queued q
          group by q.organization_id) lines
  )
  select q.id from queued q cross join (select count(*) from announced) a;
end
$$;

-- Records one system event of type `raised_type` per (organization, data)
-- pair whose organization has a receiving webhook subscribed to it, and
-- enqueues the deliveries. Returns how many deliveries were enqueued.
create function webhook_raise_system_events(raised_type text, organization_ids uuid[],
                                            payloads jsonb[])
returns bigint
language plpgsql
as $$
declare
  event_ids uuid[];
begin
  with listening as (
    select o.id
    from (select distinct unnest(organization_ids) as id) o
    where exists (
      select 1 from webhooks w
      where w.organization_id = o.id and w.event_type = raised_type
        and w.is_active and w.status = 'active')
  ),
  raised as (
    insert into webhook_events (organization_id, event_type, payload, source)
    select r.organization_id, raised_type, r.payload, 'system'
    from unnest(organization_ids, payloads) as r (organization_id, payload)
    where r.organization_id in (select id from listening)
    returning id
  )
  select array_agg(id) into event_ids from raised;
  if event_ids is null then
    return 0;
  end if;
  return (select count(*) from webhook_enqueue_deliveries(event_ids));
end
$$;

-- Workers keep in memory which organizations receive job.completed, so a
-- completion of an organization nobody listens to runs no event code at
-- all; they reload it when a webhook appears, goes, or changes what or
-- whether it receives (not on every delivery's counters).
create function webhooks_announce_subscriptions() returns trigger
language plpgsql
as $$
begin
  perform pg_notify('veriphy_webhooks', '');
  return null;
end
$$;
create trigger webhooks_subscriptions_added_or_removed after insert or delete on webhooks
  for each statement execute function webhooks_announce_subscriptions();
create trigger webhooks_subscription_changed after update of event_type, status, is_active on webhooks
  for each row when ((old.event_type, old.status, old.is_active)
                     is distinct from (new.event_type, new.status, new.is_active))
  execute function webhooks_announce_subscriptions();

-- Live viewers of the Webhooks tab and of a webhook's page hear of every
-- change to a webhook — made in the console, or by its deliveries (its
-- counters, a switch to `error` or off) — at commit, on the live feed
-- (`organization webhooks id`).
create function webhooks_announce_change() returns trigger
language plpgsql
as $$
begin
  if tg_op = 'DELETE' then
    perform pg_notify('veriphy_live', old.organization_id || ' webhooks ' || old.id);
  else
    perform pg_notify('veriphy_live', new.organization_id || ' webhooks ' || new.id);
  end if;
  return null;
end
$$;
create trigger webhooks_announce_change after insert or update or delete on webhooks
  for each row execute function webhooks_announce_change();

-- job.completed for jobs the calling statement completed (their ids and
-- organizations): the engine's completion calls it when a worker knows
-- one of their organizations listens.
-- While no webhook of any organization receives job.completed, one probe
-- of a small index answers; otherwise one probe per organization, and the
-- jobs of listening organizations are read for the events' data (fields a
-- completion does not change). Its statements are planned once per
-- session, not with each completion.
create function jobs_raise_completed_events(job_ids uuid[], organization_ids uuid[])
returns bigint
language plpgsql
as $$
declare
  listening uuid[];
begin
  if not exists (
    select 1 from webhooks
    where event_type = 'job.completed' and is_active and status = 'active'
  ) then
    return 0;
  end if;
  select array_agg(o.id) into listening
  from (select distinct unnest(organization_ids) as id) o
  where exists (
    select 1 from webhooks w
    where w.event_type = 'job.completed' and w.organization_id = o.id
      and w.is_active and w.status = 'active');
  if listening is null then
    return 0;
  end if;
  return (
    select webhook_raise_system_events('job.completed', array_agg(j.organization_id),
             array_agg(jsonb_build_object(
               'job_id', j.id, 'job_type', j.job_type, 'job_name', j.job_name,
               'attempts', j.attempts, 'batch_id', j.batch_id)))
    from jobs j
    where j.id = any (job_ids) and j.organization_id = any (listening)
      and j.job_type <> 'webhook');
end
$$;

-- job.failed: wherever a job reaches `failed` (an attempt's end, a rescue
-- with no attempt left, a cancellation is not a failure).
create function jobs_raise_failed_event() returns trigger
language plpgsql
as $$
begin
  perform webhook_raise_system_events('job.failed', array[new.organization_id],
    array[jsonb_build_object(
      'job_id', new.id, 'job_type', new.job_type, 'job_name', new.job_name,
      'attempts', new.attempts, 'batch_id', new.batch_id, 'error', new.error_message)]);
  return null;
end
$$;
create trigger jobs_failed_event after update of status on jobs
  for each row when (new.status = 'failed' and old.status is distinct from 'failed'
                     and new.job_type <> 'webhook')
  execute function jobs_raise_failed_event();

-- batch.completed and batch.failed: when a batch's status becomes one of
-- them (its last unfinished job ended).
create function job_batches_raise_ended_event() returns trigger
language plpgsql
as $$
begin
  perform webhook_raise_system_events('batch.' || new.status, array[new.organization_id],
    array[jsonb_build_object(
      'batch_id', new.id, 'batch_name', new.batch_name, 'total_jobs', new.total_jobs,
      'processed_jobs', new.processed_jobs, 'failed_jobs', new.failed_jobs,
      'cancelled_jobs', new.cancelled_jobs)]);
  return null;
end
$$;
create trigger job_batches_ended_event after update of status on job_batches
  for each row when (new.status in ('completed', 'failed') and old.status is distinct from new.status)
  execute function job_batches_raise_ended_event();
