-- Personalized bulk (docs/API.md "Personalized bulk"): a recipient's own text, null when it
-- gets its request's (`sms_requests.body`), which is every recipient of a request with one
-- text. Its segments are the row's `segments`, as before.
alter table sms_status
    add column body text null;
