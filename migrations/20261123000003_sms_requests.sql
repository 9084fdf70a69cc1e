-- One row per accepted POST /sms/send: the text is stored once, whatever the recipient count.
create table sms_requests (
    id                bigint       not null auto_increment primary key,
    sms_identifier    char(36)     character set ascii not null,
    user_id           bigint       not null,
    -- 'normal' or 'express'.
    sms_type          varchar(8)   not null,
    body              text         not null,
    -- 'GSM-7' or 'UCS-2'.
    encoding          varchar(8)   not null,
    segments          int          not null,
    recipients        int          not null,
    price_per_segment bigint       not null,
    cost              bigint       not null,
    -- Requested operator order (comma separated names); empty means the configured order.
    operators         varchar(255) not null default '',
    -- A message not handed to an operator before this instant ends FAILED (reason 'expired').
    expires_at        datetime(6)  null,
    -- W3C traceparent of the HTTP request, so the delivery path joins the same trace.
    traceparent       varchar(64)  character set ascii null,
    created_at        datetime(6)  not null default current_timestamp(6),
    unique key uq_sms_requests_identifier (sms_identifier),
    key idx_sms_requests_user (user_id)
) engine = InnoDB default charset = utf8mb4 collate = utf8mb4_unicode_ci;
