//! `seed`: creates customers with a balance and writes their keys, either through the admin
//! API (`POST /admin/customers`, concurrency-limited) or in bulk through the database.
//!
//! The database path writes exactly what `accounts::create_customer` writes, in multi-row
//! statements: the customer (SHA-256 of the key, its hint), its `user_balances` row, and the
//! `initial` ledger row `initial:<id>`, so balance = sum of the ledger holds.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use sms_gateway::accounts::new_api_key;
use sqlx::{MySql, QueryBuilder, Row};
use tokio::sync::Semaphore;

use crate::keys::CustomerKey;

/// Customers per multi-row statement.
const CHUNK: usize = 500;

/// Through the admin API.
pub async fn via_api(
    base_url: &str,
    admin_token: &str,
    prefix: &str,
    count: usize,
    balance: i64,
    concurrency: usize,
) -> anyhow::Result<Vec<CustomerKey>> {
    let client = reqwest::Client::builder().http1_only().build()?;
    let url = format!("{}/admin/customers", base_url.trim_end_matches('/'));
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    let started = Instant::now();
    for i in 0..count {
        let permit = permits.clone().acquire_owned().await?;
        let (client, url, token) = (client.clone(), url.clone(), admin_token.to_string());
        let name = format!("{prefix}-{i}");
        tasks.spawn(async move {
            let _permit = permit;
            let r = client
                .post(&url)
                .bearer_auth(&token)
                .json(&serde_json::json!({"name": name, "balance": balance}))
                .send()
                .await
                .context("POST /admin/customers")?;
            let status = r.status();
            let body: serde_json::Value = r.json().await.unwrap_or_default();
            if status.as_u16() != 201 {
                bail!("POST /admin/customers for {name} answered {status}: {body}");
            }
            Ok::<_, anyhow::Error>((
                i,
                CustomerKey {
                    customer_id: body["customer_id"].as_i64().context("no customer_id")?,
                    api_key: body["api_key"].as_str().context("no api_key")?.to_string(),
                },
            ))
        });
    }
    let mut keys = Vec::with_capacity(count);
    while let Some(r) = tasks.join_next().await {
        keys.push(r??);
    }
    keys.sort_by_key(|(i, _)| *i);
    eprintln!(
        "seed: {count} customers through the API in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(keys.into_iter().map(|(_, k)| k).collect())
}

/// In bulk through the database.
pub async fn via_db(
    database_url: &str,
    prefix: &str,
    count: usize,
    balance: i64,
) -> anyhow::Result<Vec<CustomerKey>> {
    if balance < 0 {
        bail!("--balance must not be negative");
    }
    let pool = sqlx::mysql::MySqlPoolOptions::new()
        .max_connections(2)
        .connect(database_url)
        .await
        .context("connecting to --database-url")?;
    let started = Instant::now();
    let mut out = Vec::with_capacity(count);
    let indices: Vec<usize> = (0..count).collect();
    for chunk in indices.chunks(CHUNK) {
        let generated: Vec<(String, sms_gateway::accounts::NewApiKey)> = chunk
            .iter()
            .map(|i| (format!("{prefix}-{i}"), new_api_key()))
            .collect();
        let mut tx = pool.begin().await?;
        let mut qb: QueryBuilder<MySql> =
            QueryBuilder::new("insert into customers (name, api_key_hash, api_key_hint) ");
        qb.push_values(&generated, |mut b, (name, key)| {
            b.push_bind(name.as_str())
                .push_bind(&key.hash[..])
                .push_bind(key.hint.as_str());
        });
        qb.build().execute(&mut *tx).await?;
        // Ids by name: consecutive auto-increment values are not guaranteed on every server.
        let mut qb: QueryBuilder<MySql> =
            QueryBuilder::new("select id, name from customers where name in (");
        let mut names = qb.separated(", ");
        for (name, _) in &generated {
            names.push_bind(name.as_str());
        }
        qb.push(")");
        let rows = qb.build().fetch_all(&mut *tx).await?;
        let mut ids = std::collections::HashMap::with_capacity(rows.len());
        for row in rows {
            ids.insert(row.try_get::<String, _>(1)?, row.try_get::<i64, _>(0)?);
        }
        let with_ids: Vec<(i64, &str)> = generated
            .iter()
            .map(|(name, key)| {
                Ok((
                    *ids.get(name).context("inserted customer not found")?,
                    key.key.as_str(),
                ))
            })
            .collect::<anyhow::Result<_>>()?;

        let mut qb: QueryBuilder<MySql> =
            QueryBuilder::new("insert into user_balances (user_id, balance) ");
        qb.push_values(&with_ids, |mut b, (id, _)| {
            b.push_bind(*id).push_bind(balance);
        });
        qb.build().execute(&mut *tx).await?;
        if balance > 0 {
            let mut qb: QueryBuilder<MySql> = QueryBuilder::new(
                "insert into user_transactions (user_id, amount, transaction_type, description, \
                 transaction_id, sms_identifier) ",
            );
            qb.push_values(&with_ids, |mut b, (id, _)| {
                b.push_bind(*id)
                    .push_bind(balance)
                    .push_bind("initial")
                    .push_bind("initial balance")
                    .push_bind(format!("initial:{id}"))
                    .push_bind(None::<String>);
            });
            qb.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        out.extend(with_ids.into_iter().map(|(id, key)| CustomerKey {
            customer_id: id,
            api_key: key.to_string(),
        }));
    }
    pool.close().await;
    eprintln!(
        "seed: {count} customers in the database in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(out)
}
