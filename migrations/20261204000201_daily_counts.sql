-- Daily counters for GET /reports/daily (docs/DESIGN.md "Daily reports"): per customer, UTC
-- day and type, what was accepted and how its recipients ended. Every writer adds to them in
-- the same transaction as the change it counts (acceptance, FAILED and its refund, a final
-- delivery report), so a report is a read of these rows and never a scan of sms_status.
--
-- Outcomes count on the day their request was accepted (day = the UTC date of
-- sms_requests.created_at, which is also each of its status rows' created_at): a day's row
-- fills in as its messages finish.
--
-- Each counter is spread over `slot`s (0..15): a transaction adds to one slot it picks, so
-- thousands of transactions a second of one customer do not queue on one row's lock; a read
-- sums the slots.
create table daily_counts (
    user_id      bigint      not null,
    day          date        not null,
    -- 'normal' or 'express'.
    sms_type     varchar(8)  character set ascii not null,
    slot         smallint    not null,
    -- Accepted requests, their recipients, segments (recipients x segments each) and the
    -- credits charged for them.
    requests     bigint      not null default 0,
    recipients   bigint      not null default 0,
    segments     bigint      not null default 0,
    cost         bigint      not null default 0,
    -- Recipients in each final state, and the credits refunded for the FAILED ones.
    delivered    bigint      not null default 0,
    undelivered  bigint      not null default 0,
    failed       bigint      not null default 0,
    refunded     bigint      not null default 0,
    primary key (user_id, day, sms_type, slot),
    -- The admin's report of every customer reads a range of days.
    key idx_daily_counts_day (day)
) engine = InnoDB default charset = utf8mb4 collate = utf8mb4_unicode_ci;

-- What the tables hold already, in slot 0 (run it with the workers and the api stopped, or
-- outcomes recorded by older processes while it runs are not counted).
insert into daily_counts (user_id, day, sms_type, slot, requests, recipients, segments, cost)
select user_id, date(created_at), sms_type, 0, count(*), sum(recipients),
       sum(recipients * segments), sum(cost)
from sms_requests
group by user_id, date(created_at), sms_type;

insert into daily_counts (user_id, day, sms_type, slot, delivered, undelivered, failed)
select r.user_id, date(r.created_at), r.sms_type, 0,
       sum(s.status = 'DELIVERED'), sum(s.status = 'UNDELIVERED'), sum(s.status = 'FAILED')
from sms_status s join sms_requests r on r.id = s.request_id
where s.status in ('DELIVERED', 'UNDELIVERED', 'FAILED')
group by r.user_id, date(r.created_at), r.sms_type
on duplicate key update delivered = values(delivered), undelivered = values(undelivered),
                        failed = values(failed);

insert into daily_counts (user_id, day, sms_type, slot, refunded)
select r.user_id, date(r.created_at), r.sms_type, 0, sum(t.amount)
from user_transactions t join sms_requests r on r.sms_identifier = t.sms_identifier
where t.transaction_type = 'refund'
group by r.user_id, date(r.created_at), r.sms_type
on duplicate key update refunded = values(refunded);
