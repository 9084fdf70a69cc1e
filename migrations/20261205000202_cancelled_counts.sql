-- POST /sms/{sms_identifier}/cancel moves recipients not yet taken (PENDING) to CANCELLED
-- and refunds them (docs/DESIGN.md "Cancelling"): the daily counters count them among the
-- final states, on the request's day, in the cancel's transaction; their credits go to
-- `refunded` with the FAILED ones'.
alter table daily_counts
    add column cancelled bigint not null default 0;
