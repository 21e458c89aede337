-- Jobs and webhook events made by the database itself (webhook deliveries
-- fanned out by `webhook_enqueue_deliveries`, system events, rows inserted
-- without an id) get time-ordered ids like the ones the engine's enqueue
-- makes (UUIDv7), so their inserts append to the primary key's right edge
-- instead of landing on a random leaf page each (more pages dirtied, more
-- WAL written, a colder index) on the hottest table.

-- A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then random bits, with
-- the version and variant of a v7. Built from a random (v4) uuid: its
-- first six bytes are replaced by the time and its version nibble turned
-- from 4 (0100) into 7 (0111) by setting two bits (bytea bits count from
-- the low bit of each byte: 52 and 53 are 0x10 and 0x20 of byte 6); the
-- variant bits are a v4's already.
create function uuid_time_ordered() returns uuid
language sql
volatile
parallel safe
as $$
  select encode(
           set_bit(
             set_bit(
               overlay(uuid_send(gen_random_uuid())
                       placing substring(int8send(floor(extract(epoch from clock_timestamp()) * 1000)::bigint) from 3)
                       from 1 for 6),
               52, 1),
             53, 1),
           'hex')::uuid
$$;

alter table jobs alter column id set default uuid_time_ordered();
alter table webhook_events alter column id set default uuid_time_ordered();
