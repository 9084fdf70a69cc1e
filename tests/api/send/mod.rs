//! `POST /sms/send`: acceptance, refusals and concurrency, against a fresh database.

mod acceptance;
mod concurrency;
mod refusals;
mod unknown_commit;
