-- Whether dispatch to operators is paused, shared by every worker process. One row.
create table dispatch_state (
    id          tinyint     not null primary key,
    paused      boolean     not null default false,
    updated_at  datetime(6) not null default current_timestamp(6) on update current_timestamp(6),
    constraint chk_dispatch_state_single check (id = 1)
) engine = InnoDB default charset = utf8mb4 collate = utf8mb4_unicode_ci;

insert into dispatch_state (id, paused) values (1, false);
