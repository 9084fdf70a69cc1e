-- Responses of write requests made with an Idempotency-Key, stored in the same transaction as
-- the write itself, so a retry replays the first answer and never repeats the effect.
create table idempotency_keys (
    -- Whose key: 'c:<customer id>' or 'admin'.
    scope          varchar(32)  character set ascii not null,
    idem_key       varchar(255) character set ascii not null,
    -- SHA-256 of method, path and the canonical JSON body: same key with another body is 409.
    request_hash   binary(32)   not null,
    status_code    smallint     not null,
    response_body  mediumtext   not null,
    created_at     datetime(6)  not null default current_timestamp(6),
    primary key (scope, idem_key),
    key idx_idempotency_created (created_at)
) engine = InnoDB default charset = utf8mb4 collate = utf8mb4_unicode_ci;
