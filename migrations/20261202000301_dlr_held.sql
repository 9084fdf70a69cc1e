-- Delivery reports that arrived before their message was recorded SENT (an operator may report
-- at once, while the gateway is still committing its answer). They are held here and applied
-- by the api role's sweeper once the message id is known, or dropped after DLR_HOLD_SECS.
create table dlr_held (
    id           bigint       not null auto_increment primary key,
    operator     varchar(64)  not null,
    message_id   varchar(128) not null,
    status       varchar(16)  not null,
    received_at  datetime(6)  not null default current_timestamp(6),
    unique key uq_dlr_held_message (operator, message_id, status),
    key idx_dlr_held_received (received_at)
) engine = InnoDB default charset = utf8mb4 collate = utf8mb4_unicode_ci;
