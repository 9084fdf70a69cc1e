-- The sender id a request was sent from (null: none, the operator's own), travelling to the
-- operators as `from`; copied to the status rows because the history reads only them.
alter table sms_requests
    add column sender varchar(16) character set ascii collate ascii_bin null;
alter table sms_status
    add column sender varchar(16) character set ascii collate ascii_bin null;
