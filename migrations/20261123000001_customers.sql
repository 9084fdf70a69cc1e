-- Customers of the gateway. The API key is shown once at creation and only its SHA-256 is kept:
-- keys are 256-bit random tokens, so a fast hash is enough and lets us look a key up by index.
create table customers (
    id            bigint       not null auto_increment primary key,
    name          varchar(100) not null,
    api_key_hash  binary(32)   not null,
    -- First characters of the key ("sk_AbCd") so an operator can tell keys apart in support cases.
    api_key_hint  varchar(16)  not null,
    created_at    datetime(6)  not null default current_timestamp(6),
    unique key uq_customers_name (name),
    unique key uq_customers_api_key_hash (api_key_hash)
) engine = InnoDB default charset = utf8mb4 collate = utf8mb4_unicode_ci;
