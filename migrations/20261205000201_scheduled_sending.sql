-- Scheduled sending (docs/DESIGN.md "Scheduled sending"): a request with `send_at` is charged
-- and written at acceptance like any other, and its outbox row waits with status
-- 'scheduled' and next_run_at = send_at (no broker load, no place in the fair order) until
-- the publishers promote it, at send_at, to 'pending' at the lane's virtual time of that
-- moment (db::outbox::promote_scheduled, through idx_outbox_due). 'scheduled' is not
-- backlog: the backlog gauge, the normal-lane bound and the lanes' clocks leave it out.
--
-- send_at is null for a request sent at once. Its validity (expires_at, or
-- DEFAULT_VALIDITY_SECS) counts from send_at. It is copied to the status rows because the
-- history reads only them.
alter table sms_requests
    add column send_at datetime(6) null;
alter table sms_status
    add column send_at datetime(6) null;
