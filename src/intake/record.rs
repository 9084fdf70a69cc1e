//! Writing what [`super::accept_many`] decided: the charges (debits and the customers' fair
//! order and rate-limit state) and their ledger rows, the
//! requests and their status rows, the outbox rows (a scheduled request's waits for its
//! `send_at`, counted in `scheduled_counts`), and the daily counters, last.

use super::Request;
use super::personal;
use crate::db::{Tx, daily, ledger, messages, outbox};

/// A request decided to be charged, before its rows are written.
pub(super) struct Plan {
    pub(super) index: usize,
    pub(super) sms_id: String,
    pub(super) take: usize,
    pub(super) cost: i64,
    pub(super) balance_after: i64,
    pub(super) recipients: Vec<String>,
    pub(super) transaction_id: String,
    pub(super) description: String,
    pub(super) operators: String,
    pub(super) sender: Option<String>,
    /// Virtual start of its first slice, and virtual time per recipient (the fair order).
    pub(super) vtime: i64,
    pub(super) vstep: i64,
    /// The database's clock when the balance was locked: its `created_at`.
    pub(super) accepted_at: chrono::DateTime<chrono::Utc>,
}

/// Writes the planned requests (see the module documentation).
pub(super) async fn record(
    tx: &mut Tx,
    requests: &[Request<'_>],
    plans: &[Plan],
    charges: &[ledger::Charge],
) -> Result<(), sqlx::Error> {
    let entries: Vec<(ledger::Entry<'_>, i64)> = plans
        .iter()
        .filter(|p| p.cost > 0)
        .map(|p| {
            let entry = ledger::Entry {
                customer_id: requests[p.index].cmd.customer_id,
                entry_type: ledger::EntryType::Charge,
                transaction_id: &p.transaction_id,
                description: Some(&p.description),
                sms_identifier: Some(&p.sms_id),
            };
            (entry, -p.cost)
        })
        .collect();
    if !ledger::charge_many(tx, charges, &entries).await? {
        // Unreachable while the rows are locked; kept so the invariant never rests on it.
        return Err(sqlx::Error::Protocol(
            "a locked balance did not cover its debit".into(),
        ));
    }
    // Personalized requests: each recipient's own text, segments and reference.
    let texts: Vec<Vec<messages::RecipientText<'_>>> = plans
        .iter()
        .map(|p| {
            let cmd = requests[p.index].cmd;
            cmd.personal[..p.take.min(cmd.personal.len())]
                .iter()
                .map(|m| messages::RecipientText {
                    body: &m.text,
                    segments: m.count.segments,
                    client_reference: m.reference.as_deref(),
                })
                .collect()
        })
        .collect();
    let rows: Vec<messages::NewRequest<'_>> = plans
        .iter()
        .zip(&texts)
        .map(|(p, texts)| {
            let Request { cmd, price } = requests[p.index];
            let count = if cmd.personal.is_empty() {
                cmd.count
            } else {
                personal::total(&cmd.personal[..p.take])
            };
            messages::NewRequest {
                sms_identifier: &p.sms_id,
                customer_id: cmd.customer_id,
                sms_type: cmd.sms_type.as_str(),
                body: &cmd.text,
                encoding: count.encoding.as_str(),
                segments: count.segments,
                personal: texts,
                recipients: &p.recipients,
                price_per_segment: price,
                cost: p.cost,
                operators: &p.operators,
                validity_seconds: cmd.validity_seconds,
                traceparent: cmd.traceparent.as_deref(),
                created_at: p.accepted_at,
                sender: p.sender.as_deref(),
                client_reference: cmd.reference.as_deref(),
                send_at: cmd.send_at,
                callback_url: cmd.callback_url.as_deref(),
            }
        })
        .collect();
    let ids = messages::insert_requests(tx, &rows).await?;
    let outbox_rows: Vec<outbox::NewRow<'_>> = plans
        .iter()
        .zip(&ids)
        .map(|(p, id)| {
            let cmd = requests[p.index].cmd;
            outbox::NewRow {
                request_id: *id,
                sms_identifier: &p.sms_id,
                priority: cmd.sms_type.priority(),
                traceparent: cmd.traceparent.as_deref(),
                vtime: p.vtime,
                vstep: p.vstep,
                recipients: p.take as i64,
                send_at: cmd.send_at,
            }
        })
        .collect();
    outbox::insert_many(tx, &outbox_rows).await?;
    let scheduled: Vec<(i32, i64)> = outbox_rows
        .iter()
        .filter(|r| r.send_at.is_some())
        .map(|r| (r.priority, r.recipients))
        .collect();
    outbox::count_scheduled(tx, &scheduled, 1).await?;
    let counts: Vec<(daily::Key, daily::Counts)> = plans
        .iter()
        .map(|p| {
            let cmd = requests[p.index].cmd;
            let key = daily::Key::of(cmd.customer_id, p.accepted_at, cmd.sms_type);
            let counts = daily::Counts {
                requests: 1,
                recipients: p.take as i64,
                segments: personal::segments_of(cmd.count, &cmd.personal, p.take),
                cost: p.cost,
                ..daily::Counts::default()
            };
            (key, counts)
        })
        .collect();
    daily::add(tx, &counts).await
}
