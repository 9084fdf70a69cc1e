-- Sessions of the web console (issue 15): a customer's API key or the admin token is exchanged
-- once for a random session id, sent back as an HttpOnly cookie. Only the id's SHA-256 is kept,
-- so a leaked table opens no session. Every gateway process reads the same rows, so a session
-- works whichever process answers.
-- `customer_id` is null for the admin. `credential_hash` is the SHA-256 of the key or token the
-- session was opened with: a session lives only while that is still the customer's key (or the
-- gateway's ADMIN_TOKEN), so rotating a key, or changing the token, ends its sessions at once.
create table console_sessions (
    id_hash          binary(32)  not null primary key,
    customer_id      bigint      null,
    credential_hash  binary(32)  not null,
    created_at       datetime(6) not null,
    expires_at       datetime(6) not null,
    key ix_console_sessions_customer (customer_id),
    key ix_console_sessions_expiry (expires_at),
    constraint fk_console_sessions_customer foreign key (customer_id) references customers (id)
) engine = InnoDB default charset = utf8mb4 collate = utf8mb4_unicode_ci;
