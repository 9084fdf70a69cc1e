-- The customer's own reference of a request and of each recipient (`reference` in the API;
-- docs/API.md "Customer references"), not to be confused with the wire protocol's `reference`,
-- the gateway's per-recipient idempotency key towards operators. On the status row it is the
-- recipient's own reference, or the request's when the recipient has none, so the history
-- filter `reference=` reads one index; exact (binary) comparison.
alter table sms_requests
    add column client_reference varchar(64) character set utf8mb4 collate utf8mb4_bin null;
alter table sms_status
    add column client_reference varchar(64) character set utf8mb4 collate utf8mb4_bin null,
    add key idx_sms_status_user_reference (user_id, client_reference);
