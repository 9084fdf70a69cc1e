#!/bin/sh
# Deletes request history (sms_requests, sms_status, sms_events) older than RETENTION_DAYS, in
# batches of BATCH requests, for at most MAX_SECONDS. The gateway never deletes this history
# itself (docs/OPERATIONS.md, "Retention"). Requests with an outbox row or with a recipient
# still PENDING or SENDING are kept. Each statement commits by itself; stopping at any point is
# safe, the next run resumes. Arguments are passed to the mysql client (host, user, database);
# with -p (or --password) without a value the password is asked for once and handed to every
# batch's mysql call through a private option file (neither the command line nor the
# environment shows it).
#
#   RETENTION_DAYS=90 BATCH=100 MAX_SECONDS=1800 scripts/prune-history.sh -h db -u ops -p sms_gateway
set -eu
RETENTION_DAYS=${RETENTION_DAYS:-90}
BATCH=${BATCH:-100}
MAX_SECONDS=${MAX_SECONDS:-1800}
case "$RETENTION_DAYS$BATCH$MAX_SECONDS" in
  *[!0-9]*) echo "prune-history: RETENTION_DAYS, BATCH and MAX_SECONDS must be whole numbers" >&2; exit 2 ;;
esac
ask=0
pwfile=
for arg in "$@"; do
  case "$arg" in -p|--password) ask=1 ;; esac
done
if [ "$ask" = 1 ]; then
  pwfile=$(mktemp)
  trap 'rm -f "$pwfile"' EXIT
  trap 'exit 130' INT TERM
  chmod 600 "$pwfile"
  printf 'Enter password: ' >&2
  stty -echo 2>/dev/null || true
  IFS= read -r pw || true
  stty echo 2>/dev/null || true
  echo >&2
  printf '[client]\npassword="%s"\n' "$(printf '%s' "$pw" | sed 's/\\/\\\\/g; s/"/\\"/g')" >"$pwfile"
  unset pw
  # The same arguments without the bare -p / --password.
  for arg do
    shift
    case "$arg" in -p|--password) ;; *) set -- "$@" "$arg" ;; esac
  done
fi

deadline=$(( $(date +%s) + MAX_SECONDS ))
total=0
while [ "$(date +%s)" -lt "$deadline" ]; do
  # The option file must be mysql's first argument.
  n=$(mysql ${pwfile:+"--defaults-extra-file=$pwfile"} --batch --skip-column-names "$@" <<SQL
set @cutoff = utc_timestamp(6) - interval $RETENTION_DAYS day;
create temporary table purge_batch (id bigint primary key);
insert into purge_batch (id)
  select r.id from sms_requests r
   where r.created_at < @cutoff
     and not exists (select 1 from outbox_events o where o.request_id = r.id)
     and not exists (select 1 from sms_status s
                      where s.request_id = r.id and s.status in ('PENDING', 'SENDING'))
   order by r.id
   limit $BATCH;
delete e from sms_events e
  join sms_status s on s.id = e.status_id
  join purge_batch b on b.id = s.request_id;
delete s from sms_status s join purge_batch b on b.id = s.request_id;
delete r from sms_requests r join purge_batch b on b.id = r.id;
select count(*) from purge_batch;
SQL
  )
  total=$((total + n))
  echo "prune-history: deleted a batch of $n requests (total $total)"
  [ "$n" -lt "$BATCH" ] && break
  sleep 0.2
done
echo "prune-history: deleted the history of $total requests older than $RETENTION_DAYS days"
