-- The callback outbox: one row per state change a customer is told about (SENT, DELIVERED,
-- UNDELIVERED, FAILED, CANCELLED), written in the transaction of the change itself, and
-- deleted once the customer's endpoint answered 2xx to a POST carrying it. The payload's
-- recipient, reference and sms_identifier are read from the status row when it is sent; what
-- changes later (the status, its time, the reason, the refund) is kept here.
-- `(status_id, status)` is unique: a state is reached once, so the same event is never
-- queued twice. `retry_since` starts the retry period (the event's creation, or its replay);
-- once a failed POST finds it older than CALLBACK_RETRY_PERIOD_SECS it is parked.
create table callback_events (
    id              bigint       not null auto_increment primary key,
    customer_id     bigint       not null,
    status_id       bigint       not null,
    status          varchar(12)  character set ascii not null,
    -- 'pending' (to be sent) or 'parked' (retries exhausted; replayed by the customer).
    state           varchar(8)   character set ascii not null default 'pending',
    occurred_at     datetime(6)  not null default current_timestamp(6),
    -- The operator (SENT), the report (DELIVERED, UNDELIVERED) or the failure reason.
    detail          varchar(255) null,
    -- Credits refunded with a FAILED or CANCELLED recipient.
    refund          bigint       null,
    attempts        int          not null default 0,
    retry_since     datetime(6)  not null default current_timestamp(6),
    next_attempt_at datetime(6)  not null default current_timestamp(6),
    -- A dispatcher holds claimed events until then (its POST's timeout and a margin).
    claimed_until   datetime(6)  null,
    last_error      varchar(255) null,
    unique key uq_callback_events_status (status_id, status),
    -- The dispatcher's two reads: customers with due events, and one customer's due events.
    key idx_callback_events_due (state, next_attempt_at),
    key idx_callback_events_customer (customer_id, state, next_attempt_at)
) engine = InnoDB default charset = utf8mb4 collate = utf8mb4_unicode_ci;
