//! The end-of-test checks `finish()` runs: the ledger invariant, the contract's states with
//! refunds one to one with FAILED recipients, the daily counters equal to a recount of the
//! rows they count, and what the test left in the outbox.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::NaiveDate;
use sqlx::Row;

use super::TestApp;

/// What `finish()` expects of the outbox.
///
/// STYLE asks each test to end with the outbox empty. That holds only where something
/// publishes it: an intake-only app (no publisher) leaves every accepted request waiting in
/// the outbox by design, since the intake's work ends there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutboxAtFinish {
    /// Nothing publishes: rows may wait, and exactly this many are claimed (0 unless the test
    /// claimed rows by hand and left them, which it then says).
    Claimed(i64),
    /// A publisher runs: the outbox drains to empty.
    Drained,
}

/// `(customer, UTC day, type)` of a row whose first three columns are those.
fn line_key(row: &sqlx::mysql::MySqlRow) -> (i64, NaiveDate, String) {
    (row.get(0), row.get(1), row.get(2))
}

/// Daily counts by `(customer, UTC day, type)`: requests, recipients, segments, cost,
/// delivered, undelivered, failed, refunded, cancelled.
pub type DailyCounts = BTreeMap<(i64, NaiveDate, String), [i64; 9]>;

impl TestApp {
    /// This test writes status or request rows behind the gateway's back (in SQL), so the
    /// daily counters are not expected to match them at `finish()`.
    pub fn expect_daily_counts_untracked(&self) {
        *self.daily_counts_tracked.lock().unwrap() = false;
    }

    /// The daily counters (`daily_counts`, slots summed), zero lines left out.
    pub async fn daily_counters(&self) -> DailyCounts {
        let rows = sqlx::query(
            "select user_id, day, sms_type, cast(sum(requests) as signed), \
             cast(sum(recipients) as signed), cast(sum(segments) as signed), \
             cast(sum(cost) as signed), cast(sum(delivered) as signed), \
             cast(sum(undelivered) as signed), cast(sum(failed) as signed), \
             cast(sum(refunded) as signed), cast(sum(cancelled) as signed) \
             from daily_counts group by user_id, day, sms_type",
        )
        .fetch_all(&self.db)
        .await
        .unwrap();
        rows.iter()
            .map(|r| (line_key(r), std::array::from_fn(|i| r.get::<i64, _>(i + 3))))
            .filter(|(_, v): &(_, [i64; 9])| v.iter().any(|n| *n != 0))
            .collect()
    }

    /// The same counts recounted from the rows themselves: requests and cost from
    /// `sms_requests`, recipients, segments and final states from `sms_status` (by its own
    /// customer, day of `created_at` and type), refunds from the ledger's refund rows (by
    /// their request's).
    pub async fn recount_daily(&self) -> DailyCounts {
        let mut out = DailyCounts::new();
        let requests = sqlx::query(
            "select user_id, date(created_at), sms_type, count(*), cast(sum(cost) as signed) \
             from sms_requests group by user_id, date(created_at), sms_type",
        )
        .fetch_all(&self.db)
        .await
        .unwrap();
        for r in &requests {
            let line = out.entry(line_key(r)).or_default();
            line[0] += r.get::<i64, _>(3);
            line[3] += r.get::<i64, _>(4);
        }
        let statuses = sqlx::query(
            "select user_id, date(created_at), sms_type, count(*), cast(sum(segments) as signed), \
             cast(sum(status = 'DELIVERED') as signed), cast(sum(status = 'UNDELIVERED') as signed), \
             cast(sum(status = 'FAILED') as signed), cast(sum(status = 'CANCELLED') as signed) \
             from sms_status group by user_id, date(created_at), sms_type",
        )
        .fetch_all(&self.db)
        .await
        .unwrap();
        for r in &statuses {
            let line = out.entry(line_key(r)).or_default();
            line[1] += r.get::<i64, _>(3);
            line[2] += r.get::<i64, _>(4);
            line[4] += r.get::<i64, _>(5);
            line[5] += r.get::<i64, _>(6);
            line[6] += r.get::<i64, _>(7);
            line[8] += r.get::<i64, _>(8);
        }
        let refunds: Vec<(i64, NaiveDate, String, i64)> = sqlx::query_as(
            "select r.user_id, date(r.created_at), r.sms_type, cast(sum(t.amount) as signed) \
             from user_transactions t join sms_requests r on r.sms_identifier = t.sms_identifier \
             where t.transaction_type = 'refund' group by r.user_id, date(r.created_at), r.sms_type",
        )
        .fetch_all(&self.db)
        .await
        .unwrap();
        for (u, d, t, refunded) in refunds {
            out.entry((u, d, t)).or_default()[7] += refunded;
        }
        out.retain(|_, v| v.iter().any(|n| *n != 0));
        out
    }

    /// The daily counters equal a recount of the rows they count (unless the test said it
    /// writes rows behind the gateway's back).
    pub async fn assert_daily_counts_match(&self) {
        if !*self.daily_counts_tracked.lock().unwrap() {
            return;
        }
        let counters = self.daily_counters().await;
        let recount = self.recount_daily().await;
        assert_eq!(
            counters, recount,
            "daily counters (left) differ from a recount of the rows (right); each line is \
             requests, recipients, segments, cost, delivered, undelivered, failed, refunded, \
             cancelled"
        );
    }

    /// The outbox drains to empty by the end of this test (a publisher runs).
    pub fn expect_outbox_drained(&self) {
        *self.outbox_at_finish.lock().unwrap() = OutboxAtFinish::Drained;
    }

    /// This test claims outbox rows by hand and leaves `n` of them claimed.
    pub fn expect_claimed_outbox_rows(&self, n: i64) {
        *self.outbox_at_finish.lock().unwrap() = OutboxAtFinish::Claimed(n);
    }

    /// For every customer: balance = sum of its ledger, and balance >= 0.
    pub async fn assert_ledger_invariant(&self) {
        let broken: Vec<(i64, i64, i64)> = sqlx::query_as(
            "select b.user_id, b.balance, cast(coalesce(sum(t.amount), 0) as signed) \
             from user_balances b left join user_transactions t on t.user_id = b.user_id \
             group by b.user_id, b.balance \
             having b.balance <> cast(coalesce(sum(t.amount), 0) as signed) or b.balance < 0",
        )
        .fetch_all(&self.db)
        .await
        .unwrap();
        assert!(
            broken.is_empty(),
            "ledger invariant broken (user, balance, ledger sum): {broken:?}"
        );
    }

    /// Every status is one the contract allows, every FAILED recipient has exactly one
    /// refund (`refund:<status id>`), every request with CANCELLED recipients exactly one
    /// (`cancel:<sms_identifier>`) of exactly their segments x its price, and nothing else
    /// was refunded.
    pub async fn assert_states_allowed(&self) {
        let bad: Vec<(i64, String)> = sqlx::query_as(
            "select id, status from sms_status where status not in \
             ('PENDING', 'SENDING', 'SENT', 'DELIVERED', 'UNDELIVERED', 'FAILED', 'CANCELLED')",
        )
        .fetch_all(&self.db)
        .await
        .unwrap();
        assert!(bad.is_empty(), "states outside the contract: {bad:?}");
        let wrong_refunds: Vec<(i64, String, i64)> = sqlx::query_as(
            "select s.id, s.status, count(t.id) from sms_status s \
             left join user_transactions t on t.transaction_id = concat('refund:', s.id) \
             group by s.id, s.status \
             having (s.status = 'FAILED' and count(t.id) <> 1) \
                 or (s.status <> 'FAILED' and count(t.id) <> 0)",
        )
        .fetch_all(&self.db)
        .await
        .unwrap();
        assert!(
            wrong_refunds.is_empty(),
            "refunds must match FAILED recipients one to one (id, status, refunds): {wrong_refunds:?}"
        );
        // Per request: the credits of its CANCELLED recipients, and its cancel refund rows.
        let wrong_cancels: Vec<(String, i64, i64, i64)> = sqlx::query_as(
            "select r.sms_identifier, \
             cast(coalesce((select sum(s.segments) from sms_status s \
                            where s.request_id = r.id and s.status = 'CANCELLED'), 0) \
                  * r.price_per_segment as signed) as owed, \
             cast(coalesce(sum(t.amount), 0) as signed), count(t.id) \
             from sms_requests r left join user_transactions t \
             on t.transaction_id = concat('cancel:', r.sms_identifier) \
             group by r.id, r.sms_identifier, r.price_per_segment \
             having owed <> cast(coalesce(sum(t.amount), 0) as signed) \
                 or count(t.id) > 1 or (owed > 0 and count(t.id) <> 1)",
        )
        .fetch_all(&self.db)
        .await
        .unwrap();
        assert!(
            wrong_cancels.is_empty(),
            "cancel refunds must be the CANCELLED recipients' credits, once per request \
             (sms_identifier, owed, refunded, refund rows): {wrong_cancels:?}"
        );
        let stray: i64 = sqlx::query_scalar(
            "select count(*) from user_transactions where transaction_type = 'refund' \
             and transaction_id not like 'refund:%' and transaction_id not like 'cancel:%'",
        )
        .fetch_one(&self.db)
        .await
        .unwrap();
        assert_eq!(
            stray, 0,
            "refund rows that are neither a FAILED one nor a cancel"
        );
    }

    /// The scheduled counters (`scheduled_counts`, slots summed) equal a recount of the
    /// outbox rows still waiting for their `send_at`.
    pub async fn assert_scheduled_counts_match(&self) {
        let counters = sms_gateway::db::outbox::counters(&self.db).await.unwrap();
        let counters: BTreeMap<i32, (i64, i64)> =
            counters.into_iter().filter(|(_, v)| *v != (0, 0)).collect();
        let recount: Vec<(i32, i64, i64)> = sqlx::query_as(
            "select priority, count(*), cast(sum(recipients) as signed) from outbox_events \
             where status = 'scheduled' group by priority",
        )
        .fetch_all(&self.db)
        .await
        .unwrap();
        let recount: BTreeMap<i32, (i64, i64)> =
            recount.into_iter().map(|(p, a, b)| (p, (a, b))).collect();
        assert_eq!(
            counters, recount,
            "scheduled counters (left) differ from the outbox's scheduled rows (right), \
             per priority: (requests, recipients)"
        );
    }

    /// The outbox is as the test said it would be (see [`OutboxAtFinish`]). A draining
    /// outbox gets 15 s: a publish may still await its confirm when the test's last
    /// assertion passed.
    pub async fn assert_outbox_as_expected(&self) {
        let expected = *self.outbox_at_finish.lock().unwrap();
        match expected {
            OutboxAtFinish::Drained => {
                for _ in 0..150 {
                    if self.count("outbox_events").await == 0 {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                panic!(
                    "the outbox did not drain (id, sms_identifier, status, attempts, error): {:?}",
                    self.outbox_dump().await
                );
            }
            OutboxAtFinish::Claimed(n) => {
                let claimed = self.claimed_outbox_rows().await;
                assert_eq!(
                    claimed,
                    n,
                    "outbox rows left claimed (id, sms_identifier, status, attempts, error): {:?}",
                    self.outbox_dump().await
                );
            }
        }
    }
}
