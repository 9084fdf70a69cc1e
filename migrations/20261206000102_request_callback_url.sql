-- A request's own callback URL (`callback_url` of POST /sms/send): its recipients' events go
-- there instead of the customer's webhook URL.
alter table sms_requests
    add column callback_url varchar(2048) character set utf8mb4 collate utf8mb4_bin null;
