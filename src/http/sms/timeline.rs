//! A recipient's timeline, put together from its status row and its event rows.
//!
//! The happy path writes no event rows (docs/DESIGN.md "Timelines"): PENDING is the status
//! row's creation, SENDING its first take (`taken_at`), SENT the operator's acceptance
//! (`sent_at`, the operator in `provider`). Everything else (RETRY, FAILED, delivery reports,
//! a SENT without the operator's id) is an event row. Rows recorded before `taken_at` and
//! `sent_at` existed have nulls there and event rows instead, so nothing shows twice.
//!
//! Each item has a position, which the events endpoint's cursors carry: PENDING 0, SENDING 1,
//! event row `id` at `4 id`, and SENT at `4 m + 2`, where `m` is the newest event row written
//! at or before `sent_at` (0 when none): after the retries that preceded it, before the
//! reports that followed. Positions never change as events arrive, so pages stay stable.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::messages::{EventRow, StatusRow};
use crate::domain::SmsStatus;

/// One event of a recipient's timeline.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SmsEvent {
    /// The state entered, or an operator's intermediate report.
    pub status: String,
    pub at: DateTime<Utc>,
    pub detail: Option<String>,
}

impl From<EventRow> for SmsEvent {
    fn from(e: EventRow) -> Self {
        Self {
            status: e.status,
            at: e.created_at,
            detail: e.detail,
        }
    }
}

/// The position of SENDING (the first take).
const SENDING: i64 = 1;

/// The position of event row `id`.
pub fn of_row(id: i64) -> i64 {
    id.saturating_mul(4)
}

/// The first event row id at or after position `key` (rows are at multiples of 4).
pub fn first_row_at(key: i64) -> i64 {
    key.saturating_add(3) / 4
}

/// The position of SENT, `m` being the newest event row at or before it (`None`: none).
pub fn of_sent(m: Option<i64>) -> i64 {
    of_row(m.unwrap_or(0)).saturating_add(2)
}

/// PENDING at acceptance.
pub fn pending(s: &StatusRow) -> SmsEvent {
    SmsEvent {
        status: SmsStatus::Pending.as_str().to_string(),
        at: s.created_at,
        detail: Some("accepted".into()),
    }
}

/// SENDING at the first take, when the row records it.
fn sending(s: &StatusRow) -> Option<SmsEvent> {
    s.taken_at.map(|at| SmsEvent {
        status: SmsStatus::Sending.as_str().to_string(),
        at,
        detail: None,
    })
}

/// SENT with its operator, when the row records it.
fn sent(s: &StatusRow) -> Option<(DateTime<Utc>, SmsEvent)> {
    s.sent_at.map(|at| {
        let operator: String = s
            .provider
            .as_deref()
            .unwrap_or("")
            .chars()
            .take(255)
            .collect();
        (
            at,
            SmsEvent {
                status: SmsStatus::Sent.as_str().to_string(),
                at,
                detail: Some(operator),
            },
        )
    })
}

/// One page of the timeline from position `from` on, at most `fetch` items, in order, each
/// with its position. `rows` are the event rows from [`first_row_at`]`(from)` on, oldest
/// first, at most `fetch`; `before_sent` the newest event row at or before `sent_at` (read
/// only when the row has one).
pub fn page(
    s: &StatusRow,
    from: i64,
    rows: Vec<EventRow>,
    before_sent: Option<i64>,
    fetch: usize,
) -> Vec<(i64, SmsEvent)> {
    let mut items: Vec<(i64, SmsEvent)> = Vec::with_capacity(rows.len() + 3);
    if from == 0 {
        items.push((0, pending(s)));
    }
    if from <= SENDING
        && let Some(e) = sending(s)
    {
        items.push((SENDING, e));
    }
    items.extend(rows.into_iter().map(|r| (of_row(r.id), SmsEvent::from(r))));
    if let Some((_, e)) = sent(s) {
        let key = of_sent(before_sent);
        if key >= from {
            items.push((key, e));
        }
    }
    items.sort_by_key(|(k, _)| *k);
    items.truncate(fetch);
    items
}

/// The newest `max` items of the timeline, oldest first, and whether older ones were left
/// out. `rows` are the newest event rows (at most `max`, any order): when there are `max`,
/// older ones may exist, and PENDING and SENDING, older than all of them, are left out.
pub fn newest(s: &StatusRow, mut rows: Vec<EventRow>, max: usize) -> (Vec<SmsEvent>, bool) {
    rows.sort_by_key(|e| e.id);
    let complete = rows.len() < max;
    let mut items: Vec<SmsEvent> = Vec::with_capacity(rows.len() + 3);
    if complete {
        items.push(pending(s));
        items.extend(sending(s));
    }
    let sent = sent(s);
    // SENT goes after the event rows written at or before it.
    let split = match &sent {
        Some((at, _)) => rows.iter().take_while(|r| r.created_at <= *at).count(),
        None => 0,
    };
    let older_than_shown = split == 0 && !complete && !rows.is_empty();
    let mut rows = rows.into_iter().map(SmsEvent::from);
    items.extend(rows.by_ref().take(split));
    if let Some((_, e)) = sent.filter(|_| !older_than_shown) {
        items.push(e);
    }
    items.extend(rows);
    let truncated = !complete || items.len() > max;
    if items.len() > max {
        items.drain(..items.len() - max);
    }
    (items, truncated)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::SmsType;
    use chrono::TimeZone;

    fn at(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + s, 0).unwrap()
    }

    fn status(taken: Option<i64>, sent: Option<i64>) -> StatusRow {
        StatusRow {
            id: 7,
            sms_identifier: "x".into(),
            recipient: "+989121234567".into(),
            status: SmsStatus::Sent,
            sms_type: SmsType::Normal,
            provider: Some("opA".into()),
            provider_message_id: Some("m1".into()),
            failure_reason: None,
            segments: 1,
            attempts: 1,
            sender: None,
            client_reference: None,
            body: None,
            send_at: None,
            created_at: at(0),
            updated_at: at(9),
            taken_at: taken.map(at),
            sent_at: sent.map(at),
        }
    }

    fn row(id: i64, status: &str, t: i64) -> EventRow {
        EventRow {
            id,
            status_id: 7,
            status: status.into(),
            detail: None,
            created_at: at(t),
        }
    }

    fn names(items: &[SmsEvent]) -> Vec<&str> {
        items.iter().map(|e| e.status.as_str()).collect()
    }

    #[test]
    fn the_happy_path_comes_from_the_status_row() {
        let (items, truncated) = newest(&status(Some(1), Some(2)), vec![], 50);
        assert_eq!(names(&items), ["PENDING", "SENDING", "SENT"]);
        assert_eq!(items[2].detail.as_deref(), Some("opA"));
        assert!(!truncated);
        let page = page(&status(Some(1), Some(2)), 0, vec![], None, 101);
        assert_eq!(page.iter().map(|(k, _)| *k).collect::<Vec<_>>(), [0, 1, 2]);
    }

    #[test]
    fn sent_sits_between_the_retries_before_it_and_the_reports_after_it() {
        let s = status(Some(1), Some(5));
        let rows = vec![row(10, "RETRY", 3), row(11, "DELIVERED", 8)];
        let (items, _) = newest(&s, rows.clone(), 50);
        assert_eq!(
            names(&items),
            ["PENDING", "SENDING", "RETRY", "SENT", "DELIVERED"]
        );
        let p = page(&s, 0, rows, Some(10), 101);
        assert_eq!(
            p.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
            [0, 1, 40, 42, 44]
        );
        assert_eq!(
            names(&p.into_iter().map(|(_, e)| e).collect::<Vec<_>>()),
            ["PENDING", "SENDING", "RETRY", "SENT", "DELIVERED"]
        );
    }

    #[test]
    fn a_page_from_a_cursor_starts_at_its_position() {
        let s = status(Some(1), Some(5));
        // From SENDING: PENDING is left out.
        let p = page(&s, 1, vec![row(10, "RETRY", 3)], Some(10), 2);
        assert_eq!(p.iter().map(|(k, _)| *k).collect::<Vec<_>>(), [1, 40]);
        // From SENT (42): the rows from id 11 on, SENT first.
        assert_eq!(first_row_at(42), 11);
        let p = page(&s, 42, vec![row(11, "DELIVERED", 8)], Some(10), 10);
        assert_eq!(p.iter().map(|(k, _)| *k).collect::<Vec<_>>(), [42, 44]);
        // From the DELIVERED row: SENT is before it.
        let p = page(&s, 44, vec![row(11, "DELIVERED", 8)], Some(10), 10);
        assert_eq!(p.iter().map(|(k, _)| *k).collect::<Vec<_>>(), [44]);
    }

    #[test]
    fn rows_of_before_the_columns_show_once() {
        // Recorded before taken_at / sent_at: the event rows are the timeline.
        let s = status(None, None);
        let rows = vec![row(3, "SENDING", 1), row(4, "SENT", 2)];
        let (items, _) = newest(&s, rows, 50);
        assert_eq!(names(&items), ["PENDING", "SENDING", "SENT"]);
    }

    #[test]
    fn the_newest_are_kept_when_the_timeline_is_long() {
        let s = status(Some(1), Some(2));
        // Exactly max rows, all after SENT: PENDING, SENDING and SENT are older than them.
        let rows: Vec<EventRow> = (10..15).map(|i| row(i, "ENROUTE", 10 + i)).collect();
        let (items, truncated) = newest(&s, rows, 5);
        assert_eq!(names(&items), ["ENROUTE"; 5]);
        assert!(truncated);
        // Fewer rows than max, but with the synthesized ones more than max.
        let rows: Vec<EventRow> = (10..14).map(|i| row(i, "ENROUTE", 10 + i)).collect();
        let (items, truncated) = newest(&s, rows, 5);
        assert_eq!(
            names(&items),
            ["SENT", "ENROUTE", "ENROUTE", "ENROUTE", "ENROUTE"]
        );
        assert!(truncated);
    }
}
