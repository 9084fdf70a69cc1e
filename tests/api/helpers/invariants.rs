//! The end-of-test checks `finish()` runs: the ledger invariant, the contract's states with
//! refunds one to one with FAILED recipients, and what the test left in the outbox.

use std::time::Duration;

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

impl TestApp {
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
    /// refund, and nothing else was refunded.
    pub async fn assert_states_allowed(&self) {
        let bad: Vec<(i64, String)> = sqlx::query_as(
            "select id, status from sms_status where status not in \
             ('PENDING', 'SENDING', 'SENT', 'DELIVERED', 'UNDELIVERED', 'FAILED')",
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
