-- One row, upserted by GET /readyz: readiness means the database can commit a write (a server
-- that answers reads but cannot write, with a full disk or stuck commits, is not ready).
create table readiness_probe (
    id         tinyint     not null primary key,
    probed_at  datetime(6) not null
) engine = InnoDB default charset = utf8mb4 collate = utf8mb4_unicode_ci;
