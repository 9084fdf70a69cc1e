-- Per-customer rate limits (docs/DESIGN.md "Per-customer limits"): requests and recipients per
-- second, enforced in the acceptance transaction on the balance row it locks anyway, so the
-- limit holds across any number of api processes.

-- Overrides of CUSTOMER_MAX_REQUESTS_PER_SEC / CUSTOMER_MAX_RECIPIENTS_PER_SEC (null: the
-- configured default; 0: unlimited).
alter table customers
    add column max_requests_per_sec int null,
    add column max_recipients_per_sec int null,
    add constraint chk_customers_max_requests check (max_requests_per_sec >= 0),
    add constraint chk_customers_max_recipients check (max_recipients_per_sec >= 0);

-- The generic cell rate algorithm's theoretical arrival time of each limit, in microseconds
-- since the epoch of the database's clock.
alter table user_balances
    add column tat_requests bigint not null default 0,
    add column tat_recipients bigint not null default 0;
