-- Signed-in sessions as people see them: one row per sign-in, so a user can
-- list their sessions (when, from where, last active) and sign any of them
-- out. The session store (tower_sessions.session) keeps the cookie's record,
-- which cannot be searched by user; its record names this row (`key`), and a
-- request whose row is gone is signed out.
create table user_sessions (
  id uuid primary key,
  user_id uuid not null references users (id) on delete cascade,
  created_at timestamptz not null default now(),
  -- saved at most once a minute of activity (the session's touch)
  last_seen_at timestamptz not null default now(),
  -- the absolute limit, and the idle limit each touch moves forward: a row
  -- past either is a session that no longer works
  expires_at timestamptz not null,
  idle_expires_at timestamptz not null,
  ip_address varchar(64),
  user_agent varchar(400)
);
create index user_sessions_user_idx on user_sessions (user_id, last_seen_at desc);
-- for retention: sessions past their idle limit
create index user_sessions_idle_expiry_idx on user_sessions (idle_expires_at);

grant select, insert, update, delete on user_sessions to veriphy_app;
grant select, delete on user_sessions to veriphy_worker;
alter table user_sessions enable row level security;
alter table user_sessions force row level security;
-- one's own sessions (app.user_id); bank admins sign anyone out
create policy user_sessions_own on user_sessions to veriphy_app
  using (user_id = nullif(current_setting('app.user_id', true), '')::uuid or app_is_bank_admin())
  with check (user_id = nullif(current_setting('app.user_id', true), '')::uuid);
create policy user_sessions_worker on user_sessions to veriphy_worker
  using (true);

-- Retention (a worker job) removes the session store's expired records too.
grant usage on schema tower_sessions to veriphy_worker;
grant select, delete on tower_sessions.session to veriphy_worker;
