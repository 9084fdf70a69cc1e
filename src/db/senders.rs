//! The sender ids of each customer (`customer_senders`): what the admin adds and removes, and
//! which one is the default. Acceptance reads them with the customer's settings
//! (`fair_share::settings`), in its transaction.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, MySqlPool};

use super::Tx;

/// At most this many sender ids per customer (acceptance reads them all in one
/// `group_concat`, which MySQL bounds at 1,024 bytes by default: 50 x 18 fits).
pub const MAX_PER_CUSTOMER: i64 = 50;

/// One sender id of a customer.
#[derive(Debug, Clone, FromRow)]
pub struct SenderRow {
    pub sender: String,
    pub is_default: bool,
    pub created_at: DateTime<Utc>,
}

/// A customer's sender ids, the default first, then by name.
pub async fn list(pool: &MySqlPool, customer_id: i64) -> Result<Vec<SenderRow>, sqlx::Error> {
    sqlx::query_as(
        "select sender, coalesce(is_default, 0) = 1 as is_default, created_at \
         from customer_senders where customer_id = ? order by is_default is null, sender",
    )
    .bind(customer_id)
    .fetch_all(pool)
    .await
}

/// What [`add`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    Added,
    /// The customer has this sender already (nothing changed).
    Exists,
    /// The customer has [`MAX_PER_CUSTOMER`] senders.
    Full,
    UnknownCustomer,
}

/// Adds a sender id to a customer, as its default when `default` (the previous default stops
/// being one). The customer row is locked first, so concurrent changes of one customer's
/// senders run one after the other and the count stays within [`MAX_PER_CUSTOMER`].
pub async fn add(
    tx: &mut Tx,
    customer_id: i64,
    sender: &str,
    default: bool,
) -> Result<Added, sqlx::Error> {
    if !lock_customer(tx, customer_id).await? {
        return Ok(Added::UnknownCustomer);
    }
    let (count, exists): (i64, i64) = sqlx::query_as(
        "select count(*), cast(coalesce(sum(sender = ?), 0) as signed) from customer_senders \
         where customer_id = ?",
    )
    .bind(sender)
    .bind(customer_id)
    .fetch_one(&mut **tx)
    .await?;
    if exists > 0 {
        return Ok(Added::Exists);
    }
    if count >= MAX_PER_CUSTOMER {
        return Ok(Added::Full);
    }
    if default {
        clear_default(tx, customer_id).await?;
    }
    sqlx::query("insert into customer_senders (customer_id, sender, is_default) values (?, ?, ?)")
        .bind(customer_id)
        .bind(sender)
        .bind(default.then_some(1i8))
        .execute(&mut **tx)
        .await?;
    Ok(Added::Added)
}

/// Makes a sender the customer's default; false when the customer has no such sender.
pub async fn set_default(tx: &mut Tx, customer_id: i64, sender: &str) -> Result<bool, sqlx::Error> {
    if !lock_customer(tx, customer_id).await? {
        return Ok(false);
    }
    clear_default(tx, customer_id).await?;
    Ok(sqlx::query(
        "update customer_senders set is_default = 1 where customer_id = ? and sender = ?",
    )
    .bind(customer_id)
    .bind(sender)
    .execute(&mut **tx)
    .await?
    .rows_affected()
        == 1)
}

/// Removes a sender (the default too: the customer then has none); false when it had none
/// such.
///
/// It locks the customer's row first, as adding a sender and setting the default do, so the
/// three queue on that row instead of on each other's index locks of `customer_senders` (a
/// lone `delete` answered 503 under schemathesis's concurrent admin requests); a deadlock or
/// lock wait timeout is retried.
pub async fn remove(pool: &MySqlPool, customer_id: i64, sender: &str) -> Result<bool, sqlx::Error> {
    super::retry_transient(3, || async {
        let mut tx = pool.begin().await?;
        if !lock_customer(&mut tx, customer_id).await? {
            return Ok(false);
        }
        let removed =
            sqlx::query("delete from customer_senders where customer_id = ? and sender = ?")
                .bind(customer_id)
                .bind(sender)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1;
        tx.commit().await?;
        Ok(removed)
    })
    .await
}

async fn lock_customer(tx: &mut Tx, customer_id: i64) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query("select id from customers where id = ? for update")
            .bind(customer_id)
            .fetch_optional(&mut **tx)
            .await?
            .is_some(),
    )
}

async fn clear_default(tx: &mut Tx, customer_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update customer_senders set is_default = null where customer_id = ? and is_default = 1",
    )
    .bind(customer_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
