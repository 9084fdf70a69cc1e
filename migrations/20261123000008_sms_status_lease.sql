-- Delivery leases. A worker that takes a recipient's message sets locked_until; another
-- worker (a redelivered or duplicate queue message) leaves a row with a live lease alone. A
-- lease that expired means its worker died mid-send: the sweeper re-queues the request.
-- While a message waits for a retry (every operator failed transiently), it stays SENDING
-- with no lease and an outbox row scheduled for the retry.
alter table sms_status
    add column locked_until datetime(6) null,
    add key idx_sms_status_lease (status, locked_until);
