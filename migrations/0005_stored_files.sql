-- Files the console stores for an organization: uploaded documents (read by
-- document_processing jobs) and generated reports (written by
-- report_generation jobs). Contents live in the database so that every
-- process, web or worker, on any machine, reads the same file, and a backup
-- of the database is a backup of the files.

create table stored_files (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references organizations (id),
  kind varchar(20) not null check (kind in ('document', 'report')),
  file_name varchar(255) not null check (length(trim(file_name)) > 0),
  content_type varchar(255) not null,
  size_bytes bigint not null check (size_bytes >= 0),
  sha256 char(64) not null,
  content bytea not null,
  -- the job that reads or wrote it (a hint for the console, not a key:
  -- retention may delete the job first)
  job_id uuid,
  created_by uuid references users (id),
  created_at timestamptz not null default now(),
  unique (id, organization_id)
);
create index stored_files_organization_idx on stored_files (organization_id, created_at desc, id desc);
