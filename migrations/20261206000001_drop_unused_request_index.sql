-- No query reads sms_requests by user_id alone (a customer's messages are listed from
-- sms_status, a request is found by its sms_identifier or id), yet every accepted request
-- paid an entry in this index (issue 13: rows and index entries written per one-recipient
-- SMS). Dropping a secondary index is in place and does not copy the table.
alter table sms_requests drop index idx_sms_requests_user, algorithm = inplace, lock = none;
