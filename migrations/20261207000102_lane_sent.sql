-- Throughput of each lane for GET /admin/lanes (issue 15), shared by every process: each
-- worker process counts the recipients it recorded SENT per lane in memory and adds the count
-- here once a second (docs/DESIGN.md "Lane throughput"), so the hot recording of sends gains
-- no statement and sms_status no index. A row is one process slot's count of one lane in one
-- second of the database's clock (UTC); readers sum the last minute's rows; rows older than
-- ten minutes are deleted by the workers.
create table lane_sent (
    -- 'normal' or 'express'.
    sms_type  varchar(8)  character set ascii not null,
    at        datetime    not null,
    -- 0..15, from the process id: processes flushing in the same second add to their own rows.
    slot      smallint    not null,
    sent      bigint      not null,
    primary key (sms_type, at, slot)
) engine = InnoDB default charset = utf8mb4 collate = utf8mb4_unicode_ci;
