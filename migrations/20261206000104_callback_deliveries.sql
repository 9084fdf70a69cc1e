-- One row per callback POST (GET /callbacks/deliveries): where it went, how many events it
-- carried and what came of it. Kept CALLBACK_LOG_DAYS days.
create table callback_deliveries (
    id          bigint        not null auto_increment primary key,
    customer_id bigint        not null,
    url         varchar(2048) character set utf8mb4 collate utf8mb4_bin not null,
    events      int           not null,
    -- 'delivered', 'failed' (an answer other than 2xx), 'unreachable' (connection, timeout)
    -- or 'refused' (a private, loopback or link-local target).
    outcome     varchar(12)   character set ascii not null,
    http_status int           null,
    error       varchar(255)  null,
    duration_ms int           not null,
    created_at  datetime(6)   not null default current_timestamp(6),
    key idx_callback_deliveries_customer (customer_id, id),
    key idx_callback_deliveries_created (created_at)
) engine = InnoDB default charset = utf8mb4 collate = utf8mb4_unicode_ci;
