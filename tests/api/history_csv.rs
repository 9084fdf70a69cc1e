//! `GET /sms/history.csv`: the history's rows and filters as streamed CSV.

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use serde_json::json;
use tower::ServiceExt;

use crate::helpers::{ADMIN_TOKEN, TestApp, spawn_app, spawn_app_with};

/// The CSV's columns, in order: the fields of a `GET /sms/history` item.
const COLUMNS: [&str; 11] = [
    "sms_identifier",
    "recipient",
    "status",
    "type",
    "provider",
    "segments",
    "from",
    "reference",
    "created_at",
    "updated_at",
    "send_at",
];

/// The CSV's records, each split into fields (the test data quotes only where it says so).
fn records(text: &str) -> Vec<Vec<String>> {
    text.split_terminator("\r\n")
        .map(|line| line.split(',').map(str::to_string).collect())
        .collect()
}

#[tokio::test]
async fn the_csv_has_the_rows_and_filters_of_the_history() {
    let app = spawn_app().await;
    let (id, key) = app.create_customer("acme", 100).await;
    let (_, other) = app.create_customer("other", 100).await;
    let first = app
        .send_ok(
            &key,
            json!({"text": "hi", "recipients": ["+989121234567", "+989127654321"]}),
        )
        .await;
    app.send_ok(
        &key,
        json!({"text": "hello", "recipients": ["09121234567"], "type": "express",
               "send_at": (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339()}),
    )
    .await;
    app.send_ok(
        &other,
        json!({"text": "x", "recipients": ["+989121234567"]}),
    )
    .await;

    // For each filter, the CSV's rows are the JSON list's items, in the same order.
    for q in [
        "",
        "status=pending",
        "type=Express",
        &format!("sms_identifier={first}"),
        "recipient=09121234567",
        "reference=none-has-it",
        "from=2000-01-01T00:00:00Z",
        "to=2000-01-01T00:00:00Z",
    ] {
        let r = app.get(&format!("/sms/history.csv?{q}"), Some(&key)).await;
        r.assert_status(200);
        assert_eq!(r.headers["content-type"], "text/csv; charset=utf-8", "{q}");
        let csv = records(&r.text);
        assert_eq!(csv[0], COLUMNS);
        let list = app.get(&format!("/sms/history?{q}"), Some(&key)).await;
        list.assert_status(200);
        let items: Vec<Vec<String>> = list.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                COLUMNS
                    .iter()
                    .map(|f| match &i[*f] {
                        serde_json::Value::String(s) => s.clone(),
                        serde_json::Value::Null => String::new(),
                        v => v.to_string(),
                    })
                    .collect()
            })
            .collect();
        assert_eq!(csv[1..], items[..], "{q}: {}", r.text);
    }
    // The admin names the customer, as for the list.
    let r = app
        .get(&format!("/sms/history.csv?user_id={id}"), Some(ADMIN_TOKEN))
        .await;
    r.assert_status(200);
    assert_eq!(records(&r.text).len(), 4);
    app.get("/sms/history.csv", Some(ADMIN_TOKEN))
        .await
        .assert_problem(400);
    app.get("/sms/history.csv", None).await.assert_problem(401);
    app.get(&format!("/sms/history.csv?user_id={}", id + 1), Some(&key))
        .await
        .assert_problem(403);
    // Bad filters are refused as the list refuses them, and paging is not a filter here.
    for bad in [
        "status=done",
        "type=fast",
        "sms_identifier=42",
        "recipient=abc",
        "from=yesterday",
        "limit=10",
        "cursor=zz",
        "bogus=1",
    ] {
        let r = app
            .get(&format!("/sms/history.csv?{bad}"), Some(&key))
            .await;
        let problem = r.assert_problem(400);
        let list = app.get(&format!("/sms/history?{bad}"), Some(&key)).await;
        if problem.get("errors").is_some() {
            assert_eq!(
                problem["errors"],
                list.assert_problem(400)["errors"],
                "{bad}"
            );
        }
    }
    app.finish().await;
}

/// Inserts 10^`digits` DELIVERED status rows in SQL (most of `customer`'s, about one in
/// a thousand of `other`'s in between; recipient `+989120054321`, if there is one, has a
/// provider that needs quoting).
async fn insert_rows(app: &TestApp, customer: i64, other: i64, digits: usize) {
    let digit = "(select 0 d union all select 1 union all select 2 union all select 3 \
                 union all select 4 union all select 5 union all select 6 union all select 7 \
                 union all select 8 union all select 9)";
    let names = ["a", "b", "c", "e", "f"];
    let n: Vec<String> = (0..digits)
        .map(|i| format!("{} * {}.d", 10_i64.pow(i as u32), names[i]))
        .collect();
    let n = n.join(" + ");
    let from: Vec<String> = names[..digits]
        .iter()
        .map(|t| format!("{digit} {t}"))
        .collect();
    let sql = format!(
        "insert into sms_status (request_id, user_id, sms_identifier, recipient, status, \
         sms_type, segments, provider) \
         select 1 + ({n}) div 1000, if(({n}) % 997 = 5, ?, ?), \
         '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b', concat('+98912', lpad({n}, 7, '0')), \
         'DELIVERED', 'normal', 1, if(({n}) = 54321, 'op \"x\", y', 'opA') \
         from {}",
        from.join(", ")
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(other)
        .bind(customer)
        .execute(&app.db)
        .await
        .unwrap();
}

/// `Com_select` of the pool's only connection.
async fn selects(app: &TestApp) -> i64 {
    let (_, value): (String, String) = sqlx::query_as("show session status like 'Com_select'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    value.parse().unwrap()
}

fn csv_request(key: &str) -> Request<Body> {
    Request::builder()
        .uri("/sms/history.csv")
        .header("authorization", format!("Bearer {key}"))
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn a_download_the_client_leaves_reads_no_further_page() {
    // One connection, so its session counters see every query of the download.
    let app = spawn_app_with(&[("DB_MAX_CONNECTIONS", "1")]).await;
    let (customer, key) = app.create_customer("acme", 0).await;
    let (other, _) = app.create_customer("other", 0).await;
    app.expect_daily_counts_untracked();
    insert_rows(&app, customer, other, 4).await;

    let resp = app.router.clone().oneshot(csv_request(&key)).await.unwrap();
    assert_eq!(resp.status(), 200);
    let mut body = resp.into_body();
    // The header and the first page (whose writing read the second, ahead).
    for _ in 0..2 {
        body.frame().await.unwrap().unwrap();
    }
    let before = selects(&app).await;
    drop(body);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        selects(&app).await,
        before,
        "pages read after the client left"
    );

    // The same download read to its end does read its ten pages.
    let before = selects(&app).await;
    let resp = app.router.clone().oneshot(csv_request(&key)).await.unwrap();
    let text = resp.into_body().collect().await.unwrap().to_bytes();
    assert!(text.len() > 900_000);
    assert!(selects(&app).await - before >= 10);
    app.finish().await;
}

#[tokio::test]
async fn a_100000_row_history_streams_in_pages_newest_first_with_quoted_fields() {
    let app = spawn_app().await;
    let (customer, key) = app.create_customer("acme", 0).await;
    let (other, _) = app.create_customer("other", 0).await;
    // Rows written in SQL (the test is about reading them): 100,000 of this customer, one
    // with a provider that needs quoting, and some of another customer's in between.
    app.expect_daily_counts_untracked();
    insert_rows(&app, customer, other, 5).await;
    let expected: Vec<String> =
        sqlx::query_scalar("select recipient from sms_status where user_id = ? order by id desc")
            .bind(customer)
            .fetch_all(&app.db)
            .await
            .unwrap();
    assert!(expected.len() > 99_000, "{}", expected.len());

    let resp = app.router.clone().oneshot(csv_request(&key)).await.unwrap();
    assert_eq!(resp.status(), 200);
    // Read frame by frame: the body comes a page at a time, never as a whole.
    let mut body = resp.into_body();
    let (mut text, mut frames, mut largest) = (String::new(), 0, 0);
    while let Some(frame) = body.frame().await {
        let data = frame.unwrap().into_data().unwrap();
        frames += 1;
        largest = largest.max(data.len());
        text.push_str(std::str::from_utf8(&data).unwrap());
    }
    let rows = expected.len();
    assert!(
        frames >= rows / 1_000,
        "{frames} frames for {rows} rows: not streamed in pages"
    );
    assert!(largest < 200_000, "a frame of {largest} bytes");
    let lines: Vec<&str> = text.split_terminator("\r\n").collect();
    assert_eq!(lines.len(), rows + 1, "a header and every row once");
    assert!(lines[0].starts_with("sms_identifier,recipient,"));
    let recipients: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    assert_eq!(recipients, expected, "newest first, each once");
    let quoted: Vec<&&str> = lines
        .iter()
        .filter(|l| l.contains("+989120054321"))
        .collect();
    assert_eq!(quoted.len(), 1);
    assert!(
        quoted[0].contains(",\"op \"\"x\"\", y\",1,"),
        "the provider quoted, its quotes doubled: {}",
        quoted[0]
    );
    app.finish().await;
}
