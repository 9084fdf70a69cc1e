-- The sender ids a customer may send from (docs/API.md "Sender ids"): numbers (short codes
-- included) and alphanumeric names, added by the admin. At most one is the customer's default,
-- used when a send names no `from`. Acceptance reads them in its transaction (with the
-- customer's settings, no round trip of its own), so a change applies to the next request in
-- every api process.
create table customer_senders (
    customer_id bigint      not null,
    -- Case-sensitive: operators show it as given.
    sender      varchar(16) character set ascii collate ascii_bin not null,
    -- 1 on the default sender, null on the others: the unique key allows one default.
    is_default  tinyint     null,
    created_at  datetime(6) not null default current_timestamp(6),
    primary key (customer_id, sender),
    unique key uq_customer_senders_default (customer_id, is_default),
    constraint chk_customer_senders_default check (is_default = 1),
    constraint fk_customer_senders_customer foreign key (customer_id) references customers (id)
) engine = InnoDB default charset = utf8mb4 collate = utf8mb4_unicode_ci;
