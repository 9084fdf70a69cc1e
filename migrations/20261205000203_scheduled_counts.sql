-- The scheduled requests and recipients not yet due, per lane (priority), for the
-- smsgw_scheduled_* gauges: kept by every writer of a 'scheduled' outbox row in its own
-- transaction (acceptance adds, the promotion at send_at and a cancel that removes the row
-- subtract), so the gauge is a read of 2 x 16 rows and never a count of a million outbox
-- rows. Spread over `slot`s (0..15) like daily_counts, so concurrent acceptances do not
-- queue on one row's lock; a read sums the slots.
create table scheduled_counts (
    priority    int       not null,
    slot        smallint  not null,
    requests    bigint    not null default 0,
    recipients  bigint    not null default 0,
    primary key (priority, slot)
) engine = InnoDB default charset = utf8mb4 collate = utf8mb4_unicode_ci;
