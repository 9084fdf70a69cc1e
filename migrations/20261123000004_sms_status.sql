-- One row per recipient of an accepted request. The history endpoint reads only this table, so
-- the request's type and segments are copied here. Listing is newest first by id, and each
-- secondary index below ends (implicitly, InnoDB appends the primary key) with id, so every
-- filter of GET /sms/history is an index range scan in id order without a filesort.
create table sms_status (
    id                   bigint       not null auto_increment primary key,
    request_id           bigint       not null,
    user_id              bigint       not null,
    sms_identifier       char(36)     character set ascii not null,
    recipient            varchar(16)  character set ascii not null,
    -- PENDING, SENDING, SENT, DELIVERED, UNDELIVERED, FAILED.
    status               varchar(12)  character set ascii not null,
    sms_type             varchar(8)   character set ascii not null,
    segments             int          not null,
    provider             varchar(64)  null,
    provider_message_id  varchar(128) null,
    failure_reason       varchar(255) null,
    -- Delivery attempts made by workers (operator calls, all operators counted).
    attempts             int          not null default 0,
    created_at           datetime(6)  not null default current_timestamp(6),
    updated_at           datetime(6)  not null default current_timestamp(6) on update current_timestamp(6),
    unique key uq_sms_status_request_recipient (request_id, recipient),
    key idx_sms_status_user (user_id),
    key idx_sms_status_user_status (user_id, status),
    key idx_sms_status_user_type (user_id, sms_type),
    key idx_sms_status_user_recipient (user_id, recipient),
    key idx_sms_status_user_created (user_id, created_at),
    key idx_sms_status_identifier (sms_identifier),
    -- Delivery reports find their message by the operator's id.
    unique key uq_sms_status_provider_message (provider, provider_message_id)
) engine = InnoDB default charset = utf8mb4 collate = utf8mb4_unicode_ci;
