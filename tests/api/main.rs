//! Integration tests of the HTTP API against a real MariaDB/MySQL (a fresh database per test).

mod admin;
mod balance;
mod crash;
mod daily_reports;
mod delivery;
mod detail_paging;
mod helpers;
mod history;
mod history_csv;
mod http_limits;
mod idempotency;
mod key_cache;
mod limits;
mod locking;
mod observability;
mod openapi;
mod outage;
mod outbox;
mod personalized;
mod references;
mod scheduled;
mod send;
mod senders;
mod statements;
mod test_app;
mod timezone;
