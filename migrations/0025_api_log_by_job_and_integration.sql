-- The API logs tab's job and integration filters reach their calls
-- directly, newest first: a job's calls are found by the job id its calls
-- note in their metadata, an integration's through an index ordered like
-- the list (the earlier one only found them, unordered).
create index third_party_api_log_job_idx
  on third_party_api_log ((metadata ->> 'job_id'), created_at desc, id desc)
  where metadata ? 'job_id';

drop index third_party_api_log_integration_idx;
create index third_party_api_log_integration_idx
  on third_party_api_log (integration_id, created_at desc, id desc)
  where integration_id is not null;
