-- Integrations as the handlers use them: each names the kind of provider
-- protocol it speaks (`provider`), its connection settings, whether it is
-- its organization's default for its channel, and the id of the key its
-- sealed credentials were encrypted with (so keys can be rotated). Beside
-- them: what data-sync jobs fetched, and message templates.

alter table system_integrations
  add column port integer check (port between 1 and 65535),
  add column tls_mode varchar(20) not null default 'tls'
    check (tls_mode in ('none', 'starttls', 'tls')),
  add column timeout_seconds integer not null default 10
    check (timeout_seconds between 1 and 120),
  add column is_default boolean not null default false,
  add column allow_redirects boolean not null default false,
  add column credentials_key_id varchar(32),
  add constraint system_integrations_name_present check (length(trim(name)) > 0),
  add constraint system_integrations_credentials_sealed
    check ((credentials_encrypted is null) = (credentials_key_id is null));

-- rows written before kinds existed (the demo data's invented providers)
-- take the kind their channel speaks
update system_integrations
set provider = case integration_type
                 when 'email' then 'smtp'
                 when 'sms' then 'sms_http'
                 when 'whatsapp' then 'whatsapp_http'
                 else 'http'
               end
where provider not in ('smtp', 'sms_http', 'whatsapp_http', 'http', 'sandbox');

alter table system_integrations
  add constraint system_integrations_provider_check
    check (provider in ('smtp', 'sms_http', 'whatsapp_http', 'http', 'sandbox')),
  add constraint system_integrations_kind_fits_channel check (
    provider = 'sandbox'
    or (integration_type = 'email' and provider = 'smtp')
    or (integration_type = 'sms' and provider = 'sms_http')
    or (integration_type = 'whatsapp' and provider = 'whatsapp_http')
    or (integration_type in ('data_sync', 'webhook', 'other') and provider = 'http'));

-- at most one default per organization and channel
create unique index system_integrations_one_default
  on system_integrations (organization_id, integration_type) where is_default;

-- A deleted integration leaves its calls on record, no longer linked.
alter table third_party_api_log
  drop constraint third_party_api_log_integration_id_organization_id_fkey,
  add constraint third_party_api_log_integration_id_organization_id_fkey
    foreign key (integration_id, organization_id)
    references system_integrations (id, organization_id)
    on delete set null (integration_id);

-- What data-sync jobs fetched, one row per record of an integration:
-- upserted by external id, so running a sync again changes rather than
-- duplicates.
create table synced_records (
  organization_id uuid not null references organizations (id),
  integration_id uuid not null,
  external_id varchar(255) not null check (length(external_id) > 0),
  data jsonb not null,
  job_id uuid,
  first_synced_at timestamptz not null default now(),
  synced_at timestamptz not null default now(),
  primary key (organization_id, integration_id, external_id),
  foreign key (integration_id, organization_id)
    references system_integrations (id, organization_id) on delete cascade
);

-- Message templates per organization and channel; the built-in "welcome"
-- and "notification" apply where an organization has none of that name.
create table message_templates (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references organizations (id),
  channel varchar(20) not null check (channel in ('email', 'sms', 'whatsapp')),
  name varchar(100) not null check (name ~ '^[a-z0-9_-]{1,100}$'),
  subject varchar(255),
  text_body text not null check (length(text_body) <= 65536),
  html_body text check (length(html_body) <= 262144),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (organization_id, channel, name)
);
create trigger message_templates_updated_at before update on message_templates
  for each row execute function set_updated_at();

grant select, insert, update, delete on synced_records, message_templates
  to veriphy_app, veriphy_worker;

do $$
declare
  t text;
begin
  foreach t in array array['synced_records', 'message_templates'] loop
    execute format('alter table %I enable row level security', t);
    execute format('alter table %I force row level security', t);
    execute format(
      'create policy %I on %I to veriphy_app
         using ((select app_is_bank_admin()) or organization_id = (select app_current_org()))
         with check ((select app_is_bank_admin()) or organization_id = (select app_current_org()))',
      t || '_tenant', t);
    execute format(
      'create policy %I on %I to veriphy_worker using (true) with check (true)',
      t || '_worker', t);
  end loop;
end
$$;
