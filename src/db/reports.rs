//! Delivery reports: an operator telling what became of a message it accepted, applied to
//! the message it names by its id. A final report is counted in the daily counters
//! (`daily`) of its request's day in the same transaction.

use chrono::{DateTime, Utc};
use sqlx::MySqlPool;

use super::callbacks;
use super::daily;
use super::delivery::event;
use crate::domain::SmsType;

/// Outcome of a delivery report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportOutcome {
    /// Moved SENT -> DELIVERED / UNDELIVERED.
    Applied,
    /// Recorded in the timeline only (intermediate, duplicate or late report).
    Recorded,
    /// No message of this operator has that id.
    UnknownMessage,
}

/// Applies an operator's delivery report. `final_status` is `Some("DELIVERED" |
/// "UNDELIVERED")` for final reports, `None` for intermediate ones.
pub async fn apply_report(
    pool: &MySqlPool,
    operator: &str,
    message_id: &str,
    report: &str,
    final_status: Option<&str>,
) -> Result<ReportOutcome, sqlx::Error> {
    let mut tx = pool.begin().await?;
    // The row's customer, type and acceptance time name its daily counters: read with the
    // lock, no query more.
    let row: Option<(i64, i64, SmsType, DateTime<Utc>)> = sqlx::query_as(
        "select id, user_id, sms_type, created_at from sms_status \
         where provider = ? and provider_message_id = ? for update",
    )
    .bind(operator)
    .bind(message_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((status_id, customer_id, sms_type, accepted_at)) = row else {
        tx.rollback().await?;
        return Ok(ReportOutcome::UnknownMessage);
    };
    let mut applied = false;
    if let Some(target) = final_status {
        let failure = (target == "UNDELIVERED").then_some(report);
        applied = sqlx::query(
            "update sms_status set status = ?, failure_reason = coalesce(?, failure_reason) \
             where id = ? and status = 'SENT'",
        )
        .bind(target)
        .bind(failure)
        .bind(status_id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
    }
    let shown = if applied {
        final_status.unwrap_or(report)
    } else {
        report
    };
    event(&mut tx, status_id, shown, Some(&format!("report {report}"))).await?;
    if applied {
        callbacks::insert_if_wanted(&mut tx, status_id, shown, Some(report), None).await?;
        let delivered = final_status == Some("DELIVERED");
        let counts = daily::Counts {
            delivered: i64::from(delivered),
            undelivered: i64::from(!delivered),
            ..daily::Counts::default()
        };
        let key = daily::Key::of(customer_id, accepted_at, sms_type);
        daily::add(&mut tx, &[(key, counts)]).await?;
    }
    tx.commit().await?;
    Ok(if applied {
        ReportOutcome::Applied
    } else {
        ReportOutcome::Recorded
    })
}
