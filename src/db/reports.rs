//! Delivery reports: an operator telling what became of a message it accepted, applied to
//! the message it names by its id.

use sqlx::MySqlPool;

use super::delivery::event;

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
    let status_id: Option<i64> = sqlx::query_scalar(
        "select id from sms_status where provider = ? and provider_message_id = ? for update",
    )
    .bind(operator)
    .bind(message_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(status_id) = status_id else {
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
    tx.commit().await?;
    Ok(if applied {
        ReportOutcome::Applied
    } else {
        ReportOutcome::Recorded
    })
}
