//! # sms-gateway
//!
//! A balance-aware SMS gateway. A tour of the crate, in the order a message travels:
//!
//! - [`config`]: typed, validated configuration from the environment.
//! - [`http`]: the axum API. `POST /sms/send` authenticates ([`http::extract`]), validates and
//!   accepts through [`intake`], which charges the balance and writes the status rows and the
//!   outbox row in one transaction ([`db`]).
//! - [`domain`]: phone numbers (E.164), GSM 03.38 segment counting, message types and states,
//!   money.
//! - [`accounts`]: customers and their API keys.
//! - [`operators`]: upstream operators over HTTP, one circuit breaker each, and each lane's
//!   failover order.
//! - [`outbox`]: the publisher pool moving outbox rows to the RabbitMQ lanes with confirms.
//! - [`queue`]: the supervised RabbitMQ connection and the topology.
//! - [`mock_operator`]: an operator speaking the wire protocol, for demos and tests.
//! - [`startup`]: roles (`api`, `publisher`, `worker`, `all`), start-up and graceful shutdown.
//! - [`worker`]: delivery workers: consume the lanes, send, settle (SENT, FAILED + refund, retry).
//! - [`telemetry`]: logs and traces.

pub mod accounts;
pub mod backoff;
pub mod batching;
pub mod config;
pub mod db;
pub mod domain;
pub mod http;
pub mod intake;
pub mod metrics;
pub mod mock_operator;
pub mod operators;
pub mod outbox;
pub mod queue;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod worker;
