//! # sms-gateway
//!
//! A balance-aware SMS gateway. A tour of the crate, in the order a message travels:
//!
//! - [`http`]: the axum API. `POST /sms/send` authenticates ([`http::extract`]), validates and
//!   accepts through [`intake`], which charges the balance and writes the status rows and the
//!   outbox row in one transaction ([`db`]).
//! - [`outbox`]: the publisher pool moving outbox rows to the RabbitMQ lanes with confirms.
//! - [`queue`]: the supervised RabbitMQ connection and the topology.
//! - [`worker`]: delivery workers: consume the lanes, send, settle (SENT, FAILED + refund, retry).
//! - [`callbacks`]: delivery-status callbacks: the dispatcher posting the callback outbox's
//!   events (written with each state change) to the customers' endpoints, signed.
//! - [`operators`]: upstream operators over HTTP ([`operators::wire`] is the wire protocol),
//!   one circuit breaker each, and each lane's failover order.
//! - [`startup`]: roles (`api`, `publisher`, `worker`, `all`), the gauges' samplers,
//!   start-up and graceful shutdown.
//!
//! And what they stand on:
//!
//! - [`config`]: typed, validated configuration from the environment, one file per subsystem.
//! - [`domain`]: phone numbers (E.164), GSM 03.38 segment counting, message types and states,
//!   money.
//! - [`hashing`]: SHA-256 of secrets and their constant-time comparison, HMAC-SHA256.
//! - [`metrics`]: the metric catalog (each metric declared once; `deploy/metrics.txt` is
//!   rendered from it) and the recorder functions.
//! - [`telemetry`]: logs and traces.
//! - [`accounts`]: customers and their API keys.
//! - [`state`]: what every HTTP handler shares.
//! - [`mock_operator`]: an operator speaking the wire protocol, for demos and tests.
//!
//! Layers, bottom to top; a module imports only from its own layer or below:
//! 1. `domain`, `config`, `hashing`, `metrics`, `telemetry`;
//! 2. `db`, `queue`, `operators`;
//! 3. `intake`, `outbox`, `worker`, `callbacks`, `accounts`, `mock_operator`;
//! 4. `http` (with `state`, its handlers' context);
//! 5. `startup`, then the `sms-gateway` binary (`main.rs`).

pub mod accounts;
pub mod backoff;
pub mod batching;
pub mod callbacks;
pub mod config;
pub mod db;
pub mod domain;
pub mod hashing;
pub mod http;
pub mod intake;
pub mod metrics;
pub mod mock_operator;
pub mod operators;
pub mod outbox;
pub mod queue;
pub mod reports;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod worker;
