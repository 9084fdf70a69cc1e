#!/usr/bin/env bash
# Finds MySQL/MariaDB and RabbitMQ for `make run` / `make test` and prints the `export` lines
# for them. Order: DATABASE_URL / AMQP_URL already in the environment; then services answering
# on localhost (3306, 5672); then, if a Docker engine runs, the compose services (started and
# awaited). Otherwise it says what to install and fails.
#
# Usage: eval "$(scripts/services.sh <database-name>)"
set -euo pipefail
db_name="${1:-sms_gateway}"
here="$(cd "$(dirname "$0")/.." && pwd)"

answers() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
say() { echo "services: $*" >&2; }

db_url="${DATABASE_URL:-}"
amqp_url="${AMQP_URL:-}"

if [[ -z "$db_url" || -z "$amqp_url" ]]; then
  need_compose=0
  if [[ -z "$db_url" ]]; then
    if answers 127.0.0.1 3306; then db_url="mysql://root@127.0.0.1:3306/$db_name"; else need_compose=1; fi
  fi
  if [[ -z "$amqp_url" ]]; then
    if answers 127.0.0.1 5672; then amqp_url="amqp://guest:guest@127.0.0.1:5672/%2f"; else need_compose=1; fi
  fi
  if [[ $need_compose == 1 ]]; then
    if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
      say "starting MySQL and RabbitMQ with docker compose"
      (cd "$here" && docker compose up -d --wait mysql rabbitmq) >&2
      [[ -n "$db_url" ]] || db_url="mysql://root:root@127.0.0.1:3306/$db_name"
      [[ -n "$amqp_url" ]] || amqp_url="amqp://guest:guest@127.0.0.1:5672/%2f"
    else
      cat >&2 <<'MSG'
services: no MySQL/MariaDB on 127.0.0.1:3306 and/or no RabbitMQ on 127.0.0.1:5672, and no
Docker engine to start them. Either
  - set DATABASE_URL and AMQP_URL to running servers, or
  - install and start them, e.g. on Debian/Ubuntu:
      sudo apt-get install -y mariadb-server rabbitmq-server
      sudo systemctl start mariadb rabbitmq-server
    (MariaDB's root user must be able to connect from 127.0.0.1 without a password, or put
    the credentials in DATABASE_URL), or
  - install Docker and run this again: it starts them with docker compose.
MSG
      exit 1
    fi
  fi
fi
printf 'export DATABASE_URL=%q\nexport AMQP_URL=%q\n' "$db_url" "$amqp_url"
