-- Prepaid balance, one row per customer, and the ledger. Invariant kept by every writer:
-- balance = sum(user_transactions.amount) for the customer, and balance >= 0.
create table user_balances (
    user_id     bigint      not null primary key,
    balance     bigint      not null default 0,
    updated_at  datetime(6) not null default current_timestamp(6) on update current_timestamp(6),
    constraint chk_user_balances_non_negative check (balance >= 0),
    constraint fk_user_balances_customer foreign key (user_id) references customers (id)
) engine = InnoDB default charset = utf8mb4 collate = utf8mb4_unicode_ci;

create table user_transactions (
    id                bigint       not null auto_increment primary key,
    user_id           bigint       not null,
    -- Signed credits: top-ups and refunds positive, charges negative.
    amount            bigint       not null,
    -- 'initial', 'topup', 'charge', 'refund'.
    transaction_type  varchar(16)  not null,
    description       varchar(255) null,
    -- Unique and derived from what caused the row ('charge:<sms uuid>', 'refund:<status id>',
    -- 'topup:<uuid>'), so a retried or redelivered operation can never book twice.
    transaction_id    varchar(80)  character set ascii not null,
    sms_identifier    char(36)     character set ascii null,
    created_at        datetime(6)  not null default current_timestamp(6),
    unique key uq_user_transactions_transaction_id (transaction_id),
    -- GET /balance lists a customer's rows newest first (the primary key is implicitly appended).
    key idx_user_transactions_user (user_id)
) engine = InnoDB default charset = utf8mb4 collate = utf8mb4_unicode_ci;
