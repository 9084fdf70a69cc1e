#!/usr/bin/env bash
# Prints SQL that seeds customers 1..N for acceptance-sql.sh: the customer with a known key
# hash, its balance row and the matching `initial` ledger row (balance = sum of the ledger).
# Usage: seed.sh [N] [BALANCE] | mysql <scratch database>
set -euo pipefail
n="${1:-1000}"
balance="${2:-1000000000000}"
rows() { # awk expression printing one tuple for id i
  seq 1 "$n" | awk -v b="$balance" "{ i = \$1; printf \"%s\", (i > 1 ? \", \" : \"\"); $1 } END { print \";\" }"
}
echo "insert into customers (id, name, api_key_hash, api_key_hint) values"
rows 'printf "(%d, \"bench-%d\", unhex(sha2(\"bench-key-%d\", 256)), \"bench\")", i, i, i'
echo "insert into user_balances (user_id, balance) values"
rows 'printf "(%d, %s)", i, b'
echo "insert into user_transactions (user_id, amount, transaction_type, description, transaction_id) values"
rows 'printf "(%d, %s, \"initial\", \"initial balance\", \"initial:%d\")", i, b, i'
