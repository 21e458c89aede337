-- Failed sign-ins per typed email, shared by every web node: an account's
-- lockout holds whichever node a guess is sent to. (Each node also keeps
-- its own counts per account and per client address in memory, which turn
-- a flood away before it reaches the database.) Rows are keyed by a digest
-- of the lowercased email, so they exist alike for addresses with and
-- without an account (no answer tells which) and hold no typed text; a
-- failure older than the forgetting time starts the count again, and each
-- failure prunes some rows nobody needs any more.
create table sign_in_failures (
  email_digest bytea primary key,
  failures integer not null check (failures > 0),
  last_failure_at timestamptz not null,
  locked_until timestamptz
);
grant select, insert, update, delete on sign_in_failures to veriphy_app;
