-- Delivery-status callbacks of a customer (docs/API.md "Delivery-status callbacks"): the
-- webhook URL its events are posted to, and the secret they are signed with (HMAC-SHA256).
-- The secret is kept in the clear because signing needs it (a customer reads it back with
-- GET /callbacks/settings); after a rotation the previous secret keeps signing too (a second
-- `v1=` signature) until `callback_previous_until`.
alter table customers
    add column callback_url            varchar(2048) character set utf8mb4 collate utf8mb4_bin null,
    add column callback_secret         varchar(64)   character set ascii collate ascii_bin null,
    add column callback_previous_secret varchar(64)  character set ascii collate ascii_bin null,
    add column callback_previous_until datetime(6)   null;
