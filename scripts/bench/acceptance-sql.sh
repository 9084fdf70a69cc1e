#!/usr/bin/env bash
# Prints the SQL of one accepted `POST /sms/send` with N recipients (default 1), for mysqlslap
# (`--delimiter=';'`, one statement per line). The statements are the gateway's own, copied
# from src/db/ (see the comments); only the values are made up. Customers 1..CUSTOMERS must
# exist with api_key_hash = sha2('bench-key-<id>') and a large balance (seed.sh writes them).
#
# Two `set` statements stand in for what the gateway does in Rust (pick the customer and the
# uuid; read last_insert_id from the insert's answer). They are round trips without I/O, so
# the figure is a slightly pessimistic ceiling.
#
# Usage: acceptance-sql.sh [RECIPIENTS] [CUSTOMERS] > file.sql
set -euo pipefail
n="${1:-1}"
customers="${2:-1000}"
text='Your verification code is 482913. It expires in 5 minutes. #0000c1c1-1'

echo "set @u = 1 + floor(rand() * $customers), @sid = uuid();"
# http/extract.rs -> db/customers.rs find_by_key_hash (every request authenticates; autocommit).
echo "select id from customers where api_key_hash = unhex(sha2(concat('bench-key-', @u), 256));"
# http/messages.rs send: state.db.begin()
echo "begin;"
# intake.rs accept -> db/ledger.rs lock_balance
echo "select balance from user_balances where user_id = @u for update;"
# db/ledger.rs debit: the conditional charge, then insert_entry (the ledger row)
echo "update user_balances set balance = balance - $n where user_id = @u and balance >= $n;"
echo "insert into user_transactions (user_id, amount, transaction_type, description, transaction_id, sms_identifier) values (@u, -$n, 'charge', 'normal $n x 1 segment(s)', concat('charge:', @sid), @sid);"
# db/messages.rs insert_request: the request row (the text once) ...
echo "insert into sms_requests (sms_identifier, user_id, sms_type, body, encoding, segments, recipients, price_per_segment, cost, operators, expires_at, traceparent) values (@sid, @u, 'normal', '$text', 'GSM-7', 1, $n, 1, $n, '', case when null is null then null else now(6) + interval null second end, null);"
echo "set @rid = last_insert_id();"
# ... and one multi-row insert of the PENDING status rows (intake writes no sms_events rows:
# the PENDING event is the status row's created_at).
values=""
for ((i = 0; i < n; i++)); do
  [[ -n "$values" ]] && values+=", "
  values+="(@rid, @u, @sid, '+98912$(printf '%07d' "$i")', 'PENDING', 'normal', 1)"
done
echo "insert into sms_status (request_id, user_id, sms_identifier, recipient, status, sms_type, segments) values $values;"
# db/outbox.rs insert
echo "insert into outbox_events (request_id, sms_identifier, priority, traceparent) values (@rid, @sid, 0, null);"
echo "commit;"
