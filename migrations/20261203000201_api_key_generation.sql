-- A counter every API-key creation and rotation bumps in its own transaction. Each API process
-- polls it and, when it changed, forgets the key hashes it remembers as refused (its negative
-- key cache), so a key made valid by another process is accepted there too. One row.
create table api_key_generation (
    id          tinyint         not null primary key,
    generation  bigint unsigned not null default 0,
    constraint chk_api_key_generation_single check (id = 1)
) engine = InnoDB default charset = utf8mb4 collate = utf8mb4_unicode_ci;

insert into api_key_generation (id, generation) values (1, 0);
