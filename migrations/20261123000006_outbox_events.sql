-- Transactional outbox: one row per accepted request, written in the intake transaction and
-- published to RabbitMQ by the publisher pool. Rows are deleted once the broker confirmed them,
-- so the table holds only the backlog.
create table outbox_events (
    id              bigint       not null auto_increment primary key,
    request_id      bigint       not null,
    sms_identifier  char(36)     character set ascii not null,
    -- Higher is more urgent: express 10, normal 0. Publishers claim one priority at a time.
    priority        int          not null,
    -- 'pending' (claimable once next_run_at has passed) or 'claimed' (leased by claimed_by).
    status          varchar(12)  character set ascii not null default 'pending',
    attempts        int          not null default 0,
    next_run_at     datetime(6)  not null default current_timestamp(6),
    claimed_by      varchar(64)  null,
    claimed_at      datetime(6)  null,
    last_error      varchar(512) null,
    traceparent     varchar(64)  character set ascii null,
    created_at      datetime(6)  not null default current_timestamp(6),
    unique key uq_outbox_request (request_id),
    -- The claim: where status = 'pending' and priority = ? and next_run_at <= now order by
    -- next_run_at, id. The reaper: where status = 'claimed' and claimed_at < now - lease.
    key idx_outbox_claim (status, priority, next_run_at),
    key idx_outbox_lease (status, claimed_at)
) engine = InnoDB default charset = utf8mb4 collate = utf8mb4_unicode_ci;
