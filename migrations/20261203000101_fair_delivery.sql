-- Fair delivery across customers (docs/DESIGN.md "Fair delivery"): start-time fair queuing per
-- lane. Every outbox row carries a virtual start time; publishers claim in that order, so one
-- customer's backlog never sits in front of another customer's message.

-- A customer's share of a lane when several customers have a backlog (1-10,000, default 100:
-- a customer of weight 200 drains twice as fast as one of 100 while both wait).
alter table customers
    add column weight int not null default 100,
    add constraint chk_customers_weight check (weight between 1 and 10000);

-- The virtual finish time of the customer's last queued work per lane. Kept on the balance row
-- because intake already locks it: the next request starts at max(lane clock, this).
alter table user_balances
    add column vfinish_normal bigint not null default 0,
    add column vfinish_express bigint not null default 0;

-- The outbox row of a request is now also its cursor: a large request is delivered one slice
-- at a time (domain::fair_share::SLICE recipients), each slice a queue message; while a slice
-- is out its row stays ('published', at the virtual time of the next slice) and the worker
-- makes it pending again for the next slice, or deletes it after the last.
--   vtime       virtual start time of the next slice (claims go in this order);
--   vstep       virtual time one recipient costs this customer (1,000,000 / weight);
--   recipients  recipients not yet published (about: some may be done already); a slice
--               carries at most SLICE of them;
--   after_id    status rows up to this id were handled by earlier slices;
--   status      'pending' (due: claimable in vtime order), 'claimed' (leased by claimed_by),
--               'published' (a slice is out, more follow), or 'waiting' (due at next_run_at:
--               a retry, a publish that was not confirmed; made pending, at the lane's
--               current virtual time, once due).
alter table outbox_events
    add column vtime bigint not null default 0,
    add column vstep int not null default 10000,
    add column recipients int not null default 1,
    add column after_id bigint not null default 0,
    drop key idx_outbox_claim,
    add key idx_outbox_claim (status, priority, vtime, recipients),
    add key idx_outbox_due (status, priority, next_run_at);

update outbox_events set status = 'waiting' where status = 'pending' and next_run_at > now(6);

-- The virtual time of each lane (priority): the smallest start time of the lane's work in the
-- outbox (pending, claimed or published), raised to it by the publishers every 100 ms and
-- read by intake; it never goes back, and it keeps its value while the outbox is empty.
create table lane_clocks (
    priority  int    not null primary key,
    vtime     bigint not null default 0
) engine = InnoDB default charset = utf8mb4 collate = utf8mb4_unicode_ci;

insert into lane_clocks (priority, vtime) values (0, 0), (10, 0);
