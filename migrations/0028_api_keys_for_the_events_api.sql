-- API keys: how the bank's case system publishes events for an
-- organization (POST /api/v1/events, `Authorization: Bearer vjk_…`). Only
-- a key's SHA-256 is kept, with its first characters to tell keys apart;
-- the key itself is shown once, when it is made.
create table api_keys (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references organizations (id),
  name varchar(100) not null check (length(trim(name)) > 0),
  prefix varchar(16) not null,
  key_hash bytea not null unique,
  created_by uuid references users (id),
  created_at timestamptz not null default now(),
  last_used_at timestamptz,
  revoked_at timestamptz
);
create index api_keys_organization_idx on api_keys (organization_id, created_at desc, id desc);

grant select, insert, update on api_keys to veriphy_app;
alter table api_keys enable row level security;
alter table api_keys force row level security;
create policy api_keys_tenant on api_keys to veriphy_app
  using ((select app_is_bank_admin()) or organization_id = (select app_current_org()))
  with check ((select app_is_bank_admin()) or organization_id = (select app_current_org()));
