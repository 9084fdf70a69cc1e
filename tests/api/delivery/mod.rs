//! Delivery end to end: outbox -> RabbitMQ -> worker -> operator (HTTP mock operators) ->
//! delivery report, with refunds. Real MariaDB, RabbitMQ and HTTP.

mod dispatch;
mod failures;
mod fairness;
mod guarantees;
mod lanes;
mod operator_limits;
mod reports;
mod slices;
mod timeline;
