//! The test's look straight into its database: every SQL statement a test needs, named for
//! what it reads or arranges, so that tests read as sentences.

use std::time::{Duration, Instant};

use sqlx::mysql::MySqlPoolOptions;
use sqlx::{MySql, MySqlConnection, Transaction};

use super::TestApp;

/// A transaction of a test's own that holds a row lock until it is dropped (rolled back).
pub type HeldLock = Transaction<'static, MySql>;

impl TestApp {
    /// `(@@session.time_zone, now() - utc_timestamp() in seconds)` of `n` pool connections
    /// held at the same time (so more than the first connection is seen).
    pub async fn session_time_zones(&self, n: usize) -> Vec<(String, i64)> {
        let mut held = Vec::new();
        let mut found = Vec::new();
        for _ in 0..n {
            let mut conn = self.db.acquire().await.unwrap();
            found.push(
                sqlx::query_as(
                    "select @@session.time_zone, \
                     cast(timestampdiff(second, utc_timestamp(6), now(6)) as signed)",
                )
                .fetch_one(&mut *conn)
                .await
                .unwrap(),
            );
            held.push(conn);
        }
        found
    }

    /// A customer's balance.
    pub async fn balance_of(&self, customer_id: i64) -> i64 {
        sqlx::query_scalar("select balance from user_balances where user_id = ?")
            .bind(customer_id)
            .fetch_one(&self.db)
            .await
            .unwrap()
    }

    /// Row count of a table.
    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("select count(*) from {table}")))
            .fetch_one(&self.db)
            .await
            .unwrap()
    }

    /// Everything a send writes (requests, recipients, outbox and ledger rows), to prove that
    /// a refused request wrote nothing.
    pub async fn footprint(&self) -> [i64; 4] {
        [
            self.count("sms_requests").await,
            self.count("sms_status").await,
            self.count("outbox_events").await,
            self.count("user_transactions").await,
        ]
    }

    /// The stored hash of a customer's API key.
    pub async fn stored_key_hash(&self, customer_id: i64) -> Vec<u8> {
        sqlx::query_scalar("select api_key_hash from customers where id = ?")
            .bind(customer_id)
            .fetch_one(&self.db)
            .await
            .unwrap()
    }

    /// Gives a customer a new API key straight in the database, as another gateway process
    /// rotating it would: this process is not told.
    pub async fn rotate_key_behind_the_gateways_back(&self, customer_id: i64, new_key: &str) {
        let hash = sms_gateway::hashing::sha256(new_key.as_bytes());
        sqlx::query("update customers set api_key_hash = ? where id = ?")
            .bind(&hash[..])
            .bind(customer_id)
            .execute(&self.db)
            .await
            .unwrap();
    }

    /// The internal id of a request.
    pub async fn request_id(&self, sms_id: &str) -> i64 {
        sqlx::query_scalar("select id from sms_requests where sms_identifier = ?")
            .bind(sms_id)
            .fetch_one(&self.db)
            .await
            .unwrap()
    }

    /// Whether a request carries an expiry still in the future.
    pub async fn expires_in_the_future(&self, sms_id: &str) -> bool {
        sqlx::query_scalar("select expires_at > now(6) from sms_requests where sms_identifier = ?")
            .bind(sms_id)
            .fetch_one(&self.db)
            .await
            .unwrap()
    }

    /// `(recipient, status, sms_type)` of each recipient of a request, in order.
    pub async fn status_rows(&self, sms_id: &str) -> Vec<(String, String, String)> {
        sqlx::query_as(
            "select recipient, status, sms_type from sms_status where sms_identifier = ? \
             order by id",
        )
        .bind(sms_id)
        .fetch_all(&self.db)
        .await
        .unwrap()
    }

    /// Status row ids of a request's recipients, in order.
    pub async fn status_ids(&self, sms_id: &str) -> Vec<i64> {
        sqlx::query_scalar("select id from sms_status where sms_identifier = ? order by id")
            .bind(sms_id)
            .fetch_all(&self.db)
            .await
            .unwrap()
    }

    /// Delivery attempts of these recipients, by status row id.
    pub async fn attempts_of(&self, status_ids: &[i64]) -> Vec<i64> {
        let marks = vec!["?"; status_ids.len()].join(", ");
        let sql = format!("select attempts from sms_status where id in ({marks}) order by id");
        let mut query = sqlx::query_scalar(sqlx::AssertSqlSafe(sql));
        for id in status_ids {
            query = query.bind(*id);
        }
        query.fetch_all(&self.db).await.unwrap()
    }

    /// Recipients of a request in SENT.
    pub async fn sent_recipients_of(&self, sms_id: &str) -> i64 {
        sqlx::query_scalar(
            "select count(*) from sms_status where sms_identifier = ? and status = 'SENT'",
        )
        .bind(sms_id)
        .fetch_one(&self.db)
        .await
        .unwrap()
    }

    /// Recipients neither SENT nor DELIVERED yet.
    pub async fn unsent_recipients(&self) -> i64 {
        sqlx::query_scalar(
            "select count(*) from sms_status where status not in ('SENT', 'DELIVERED')",
        )
        .fetch_one(&self.db)
        .await
        .unwrap()
    }

    /// Waits until every recipient is SENT or DELIVERED; fails the test with how many are
    /// still open when `within` has passed (`after` says after what, for the message).
    pub async fn wait_until_every_recipient_is_sent(&self, within: Duration, after: &str) {
        let deadline = Instant::now() + within;
        loop {
            let open = self.unsent_recipients().await;
            if open == 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{open} recipients still not sent {} s after {after}",
                within.as_secs()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Recipients of this type (`normal` or `express`).
    pub async fn recipients_of_type(&self, sms_type: &str) -> i64 {
        sqlx::query_scalar("select count(*) from sms_status where sms_type = ?")
            .bind(sms_type)
            .fetch_one(&self.db)
            .await
            .unwrap()
    }

    /// Makes every retry that waits due now, as if its backoff had passed: the recipients'
    /// hold and their requests' outbox rows.
    pub async fn make_retries_due(&self) {
        sqlx::query(
            "update sms_status set locked_until = now(6) - interval 1 second \
             where status = 'SENDING' and locked_until > now(6)",
        )
        .execute(&self.db)
        .await
        .unwrap();
        sqlx::query(
            "update outbox_events set next_run_at = now(6) - interval 1 second \
             where status = 'waiting'",
        )
        .execute(&self.db)
        .await
        .unwrap();
    }

    /// Recipients SENDING under a lease that has not run out, other than retries waiting for
    /// their due time.
    pub async fn leased_recipients(&self) -> i64 {
        sqlx::query_scalar(
            "select count(*) from sms_status s where s.status = 'SENDING' and s.locked_until > now(6) \
             and coalesce((select e.status from sms_events e where e.status_id = s.id \
                           order by e.id desc limit 1), '') <> 'RETRY'",
        )
        .fetch_one(&self.db)
        .await
        .unwrap()
    }

    /// Every recipient taken by a worker that died: SENDING, one attempt, its lease run out.
    pub async fn strand_every_recipient_with_a_dead_worker(&self) {
        sqlx::query(
            "update sms_status set status = 'SENDING', attempts = 1, \
             locked_until = now(6) - interval 1 second",
        )
        .execute(&self.db)
        .await
        .unwrap();
    }

    /// Records a request's recipients SENT by `operator` with `message_id` (one recipient),
    /// as a worker does when the operator answers.
    pub async fn record_sent_behind_the_gateways_back(
        &self,
        sms_id: &str,
        operator: &str,
        message_id: &str,
    ) {
        sqlx::query(
            "update sms_status set status = 'SENT', provider = ?, provider_message_id = ?, \
             attempts = 1 where sms_identifier = ?",
        )
        .bind(operator)
        .bind(message_id)
        .bind(sms_id)
        .execute(&self.db)
        .await
        .unwrap();
    }

    /// `(priority, status)` of a request's outbox row.
    pub async fn outbox_row(&self, sms_id: &str) -> (i32, String) {
        sqlx::query_as("select priority, status from outbox_events where sms_identifier = ?")
            .bind(sms_id)
            .fetch_one(&self.db)
            .await
            .unwrap()
    }

    /// Outbox rows of a request.
    pub async fn outbox_rows_of(&self, sms_id: &str) -> i64 {
        sqlx::query_scalar("select count(*) from outbox_events where sms_identifier = ?")
            .bind(sms_id)
            .fetch_one(&self.db)
            .await
            .unwrap()
    }

    /// The status of every outbox row, in order.
    pub async fn outbox_statuses(&self) -> Vec<String> {
        sqlx::query_scalar("select status from outbox_events order by id")
            .fetch_all(&self.db)
            .await
            .unwrap()
    }

    /// Outbox rows a publisher has claimed.
    pub async fn claimed_outbox_rows(&self) -> i64 {
        sqlx::query_scalar("select count(*) from outbox_events where status = 'claimed'")
            .fetch_one(&self.db)
            .await
            .unwrap()
    }

    /// Every outbox row, as `(id, sms_identifier, status, attempts, last_error)`.
    pub async fn outbox_dump(&self) -> Vec<(i64, String, String, i32, Option<String>)> {
        sqlx::query_as(
            "select id, sms_identifier, status, attempts, last_error from outbox_events \
             order by id",
        )
        .fetch_all(&self.db)
        .await
        .unwrap()
    }

    /// Empties the outbox (as if every row had been published).
    pub async fn delete_outbox_rows(&self) {
        sqlx::query("delete from outbox_events")
            .execute(&self.db)
            .await
            .unwrap();
    }

    /// `(amount, transaction_id)` of every charge in the ledger, in order.
    pub async fn charges(&self) -> Vec<(i64, String)> {
        sqlx::query_as(
            "select amount, transaction_id from user_transactions \
             where transaction_type = 'charge' order by id",
        )
        .fetch_all(&self.db)
        .await
        .unwrap()
    }

    /// Credits the ledger charged for a request.
    pub async fn charged_for(&self, sms_id: &str) -> i64 {
        sqlx::query_scalar(
            "select cast(coalesce(-sum(amount), 0) as signed) from user_transactions \
             where sms_identifier = ? and transaction_type = 'charge'",
        )
        .bind(sms_id)
        .fetch_one(&self.db)
        .await
        .unwrap()
    }

    /// Credits the ledger charged in all.
    pub async fn total_charged(&self) -> i64 {
        sqlx::query_scalar(
            "select cast(coalesce(-sum(amount), 0) as signed) from user_transactions \
             where transaction_type = 'charge'",
        )
        .fetch_one(&self.db)
        .await
        .unwrap()
    }

    /// Refunds in the ledger.
    pub async fn refund_count(&self) -> i64 {
        sqlx::query_scalar(
            "select count(*) from user_transactions where transaction_type = 'refund'",
        )
        .fetch_one(&self.db)
        .await
        .unwrap()
    }

    /// Locks row `id` of `table` (by its key column) in a transaction of its own, until the
    /// returned transaction is dropped (rolled back).
    pub async fn hold_row(&self, table: &str, key: &str, id: i64) -> HeldLock {
        let mut tx = self.db.begin().await.unwrap();
        let sql = format!("select {key} from {table} where {key} = ? for update");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .execute(&mut *tx)
            .await
            .unwrap();
        tx
    }

    /// Locks a recipient's status row until the returned transaction is dropped.
    pub async fn hold_status_row(&self, status_id: i64) -> HeldLock {
        self.hold_row("sms_status", "id", status_id).await
    }

    /// Locks a customer's balance row until the returned transaction is dropped.
    pub async fn hold_balance(&self, customer_id: i64) -> HeldLock {
        self.hold_row("user_balances", "user_id", customer_id).await
    }

    /// An acceptance caught before its commit: a transaction that holds the customer's
    /// balance row and has written a request row `sms_id` (no recipients, no charge), as
    /// intake's does; it commits or rolls back when the caller says.
    pub async fn acceptance_before_its_commit(&self, customer_id: i64, sms_id: &str) -> HeldLock {
        let mut tx = self.hold_balance(customer_id).await;
        sqlx::query(
            "insert into sms_requests (sms_identifier, user_id, sms_type, body, encoding, \
             segments, recipients, price_per_segment, cost) \
             values (?, ?, 'normal', 'hi', 'GSM-7', 1, 0, 1, 0)",
        )
        .bind(sms_id)
        .bind(customer_id)
        .execute(&mut *tx)
        .await
        .unwrap();
        // Counted as intake counts it, in the same transaction.
        sqlx::query(
            "insert into daily_counts (user_id, day, sms_type, slot, requests) \
             select user_id, date(created_at), sms_type, 0, 1 from sms_requests \
             where sms_identifier = ? on duplicate key update requests = requests + 1",
        )
        .bind(sms_id)
        .execute(&mut *tx)
        .await
        .unwrap();
        tx
    }

    /// `(Com_stmt_prepare, Com_stmt_close, connection id)` of one pooled connection (the
    /// only one, on a pool of one).
    pub async fn statement_counters(&self) -> (i64, i64, i64) {
        let mut conn = self.db.acquire().await.unwrap();
        let rows: Vec<(String, String)> = sqlx::query_as(
            "show session status where variable_name in ('Com_stmt_prepare', 'Com_stmt_close')",
        )
        .fetch_all(&mut *conn)
        .await
        .unwrap();
        let get = |name: &str| -> i64 {
            rows.iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.parse().unwrap())
                .unwrap_or_else(|| panic!("{name} missing from {rows:?}"))
        };
        let id: i64 = sqlx::query_scalar("select cast(connection_id() as signed)")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        (get("Com_stmt_prepare"), get("Com_stmt_close"), id)
    }
}

/// Adds a delivery attempt to a recipient inside the caller's transaction (a write that takes
/// the row's lock); the error is kept so a deadlock can be retried.
pub async fn add_attempt(conn: &mut MySqlConnection, status_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("update sms_status set attempts = attempts + 1 where id = ?")
        .bind(status_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Whether the database server has a database of this name.
pub async fn database_exists(server: &str, name: &str) -> bool {
    let pool = MySqlPoolOptions::new()
        .max_connections(1)
        .connect(server)
        .await
        .expect("connect to the database server");
    let found: i64 = sqlx::query_scalar(
        "select count(*) from information_schema.schemata where schema_name = ?",
    )
    .bind(name)
    .fetch_one(&pool)
    .await
    .unwrap();
    pool.close().await;
    found > 0
}

impl TestApp {
    /// How many status rows of a request store a text of their own (personalized bulk).
    pub async fn personal_texts_of(&self, sms_id: &str) -> i64 {
        sqlx::query_scalar(
            "select count(*) from sms_status where sms_identifier = ? and body is not null",
        )
        .bind(sms_id)
        .fetch_one(&self.db)
        .await
        .unwrap()
    }
}
