-- Passwords people change: a user may be required to choose a new password
-- at their next sign-in (the first-start bank admin, whose password was
-- printed or given in the environment), and the last change is recorded.
alter table users
  add column must_change_password boolean not null default false,
  add column password_changed_at timestamptz;
