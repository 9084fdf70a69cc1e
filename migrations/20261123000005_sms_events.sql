-- The timeline of each recipient's message after acceptance (the PENDING event is the status
-- row's created_at, so intake writes nothing here).
create table sms_events (
    id          bigint       not null auto_increment primary key,
    status_id   bigint       not null,
    -- The state entered, or the operator's intermediate report (e.g. 'ACCEPTD', 'ENROUTE').
    status      varchar(16)  not null,
    detail      varchar(255) null,
    created_at  datetime(6)  not null default current_timestamp(6),
    key idx_sms_events_status (status_id)
) engine = InnoDB default charset = utf8mb4 collate = utf8mb4_unicode_ci;
