//! `GET /reports/daily`: per UTC day and type, what was accepted (requests, recipients,
//! segments, cost) and how its recipients ended, read from the daily counters
//! (`db::daily`), never from the status rows.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::ApiError;
use super::extract::{ApiQuery, Caller};
use super::responses::LookupErrors;
use crate::db::customers;
use crate::db::daily::{self, Counts};
use crate::domain::{FieldErrors, SmsType};
use crate::state::AppState;

/// The longest range of one report, in days (`from` and `to` included).
pub const MAX_DAYS: i64 = 366;
/// The most lines (customer x day x type) one report answers; the admin's report of every
/// customer over a long range may hold more: it is refused with a 400 (name a customer or
/// shorten the range).
pub const MAX_LINES: u32 = 50_000;

/// Query of `GET /reports/daily`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// First day, UTC (YYYY-MM-DD), included.
    #[param(required = true, format = Date, value_type = String, example = "2026-12-01")]
    pub from: Option<String>,
    /// Last day, UTC (YYYY-MM-DD), included; at most 366 days from `from`.
    #[param(required = true, format = Date, value_type = String, example = "2026-12-31")]
    pub to: Option<String>,
    /// normal or express; empty means both.
    #[serde(rename = "type")]
    #[param(
        rename = "type",
        pattern = r"^\s*([Nn][Oo][Rr][Mm][Aa][Ll]|[Ee][Xx][Pp][Rr][Ee][Ss][Ss])?\s*$"
    )]
    pub sms_type: Option<String>,
    /// The customer: with an API key only its own (the default); with the admin token any,
    /// or none for every customer. `user_id` is a synonym.
    #[serde(alias = "user_id")]
    pub customer_id: Option<i64>,
}

/// What was accepted on a day and how its recipients ended (so far).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct ReportCounts {
    /// Accepted requests.
    pub requests: i64,
    /// Their accepted recipients.
    pub recipients: i64,
    /// Segments charged: each recipient's segments, summed.
    pub segments: i64,
    /// Credits charged for them.
    pub cost: i64,
    /// Recipients DELIVERED so far.
    pub delivered: i64,
    /// Recipients UNDELIVERED so far.
    pub undelivered: i64,
    /// Recipients FAILED so far (each refunded).
    pub failed: i64,
    /// Recipients CANCELLED so far (each refunded).
    pub cancelled: i64,
    /// Recipients not in a final state yet:
    /// `recipients - delivered - undelivered - failed - cancelled`.
    pub in_progress: i64,
    /// Credits refunded for the FAILED and CANCELLED ones.
    pub refunded: i64,
}

impl From<Counts> for ReportCounts {
    fn from(c: Counts) -> Self {
        Self {
            requests: c.requests,
            recipients: c.recipients,
            segments: c.segments,
            cost: c.cost,
            delivered: c.delivered,
            undelivered: c.undelivered,
            failed: c.failed,
            cancelled: c.cancelled,
            in_progress: c.recipients - c.delivered - c.undelivered - c.failed - c.cancelled,
            refunded: c.refunded,
        }
    }
}

/// One customer's counts of one day and type.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReportLine {
    #[schema(value_type = String, format = Date)]
    pub day: NaiveDate,
    pub customer_id: i64,
    #[serde(rename = "type")]
    pub sms_type: SmsType,
    #[serde(flatten)]
    pub counts: ReportCounts,
}

/// One day's counts, every line of the report summed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DayTotal {
    #[schema(value_type = String, format = Date)]
    pub day: NaiveDate,
    #[serde(flatten)]
    pub counts: ReportCounts,
}

/// The daily report.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DailyReport {
    #[schema(value_type = String, format = Date)]
    pub from: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub to: NaiveDate,
    /// The type asked for; `null`: both.
    #[serde(rename = "type")]
    pub sms_type: Option<SmsType>,
    /// The customer reported; `null`: every customer (admin).
    pub customer_id: Option<i64>,
    /// By day, customer and type; days without accepted requests are left out.
    pub lines: Vec<ReportLine>,
    /// By day, the lines of that day summed (every customer's, for the admin).
    pub totals: Vec<DayTotal>,
    /// The whole range summed.
    pub total: ReportCounts,
}

/// A required date parameter: the day, or `None` with its error noted.
fn required_day(errors: &mut FieldErrors, field: &str, value: Option<&str>) -> Option<NaiveDate> {
    let value = value.map(str::trim).filter(|v| !v.is_empty());
    if value.is_none() {
        errors.add(field, "required (YYYY-MM-DD)");
    }
    errors.parse(field, value, |v| {
        NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| "must be a date, YYYY-MM-DD".into())
    })
}

/// Per UTC day and type: accepted requests, recipients, segments and cost, and the
/// recipients' final states so far. Outcomes count on the day their request was accepted.
#[utoipa::path(
    get, path = "/reports/daily", tag = "reports",
    security(("api_key" = []), ("admin_token" = [])),
    params(ReportQuery),
    responses(
        (status = 200, description = "The report", body = DailyReport),
        LookupErrors,
    )
)]
pub async fn daily_report(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> Result<Response, ApiError> {
    let mut errors = FieldErrors::default();
    let from = required_day(&mut errors, "from", q.from.as_deref());
    let to = required_day(&mut errors, "to", q.to.as_deref());
    let sms_type = errors.parse(
        "type",
        q.sms_type.as_deref().filter(|s| !s.trim().is_empty()),
        |s| s.parse::<SmsType>(),
    );
    if let (Some(from), Some(to)) = (from, to) {
        let days = (to - from).num_days() + 1;
        errors.check(days < 1, "to", "must not be before from");
        errors.check(
            days > MAX_DAYS,
            "to",
            format!("at most {MAX_DAYS} days from from (both included)"),
        );
    }
    errors.finish()?;
    let (Some(from), Some(to)) = (from, to) else {
        unreachable!("finish() returned the missing dates' errors");
    };
    let customer_id = match (caller, q.customer_id) {
        (Caller::Customer(id), None) => Some(id),
        (Caller::Customer(id), Some(n)) if n == id => Some(id),
        (Caller::Customer(_), Some(_)) => {
            return Err(ApiError::Forbidden(
                "this API key may only act for its own customer; customer_id names another".into(),
            ));
        }
        (Caller::Admin, None) => None,
        (Caller::Admin, Some(n)) => {
            if !customers::exists(&state.db, n).await? {
                return Err(ApiError::unknown_customer(n));
            }
            Some(n)
        }
    };
    let rows = daily::report(&state.db, customer_id, from, to, sms_type, MAX_LINES + 1).await?;
    if rows.len() > MAX_LINES as usize {
        return Err(ApiError::field(
            "to",
            format!(
                "the report holds more than {MAX_LINES} lines (customers x days x types): name a \
                 customer_id or shorten the range"
            ),
        ));
    }
    // The rows come by day: each day's lines are summed as they pass.
    let mut days: Vec<(NaiveDate, Counts)> = Vec::new();
    let mut total = Counts::default();
    for row in &rows {
        total.add(&row.counts);
        match days.last_mut() {
            Some((day, sum)) if *day == row.day => sum.add(&row.counts),
            _ => days.push((row.day, row.counts)),
        }
    }
    let report = DailyReport {
        from,
        to,
        sms_type,
        customer_id,
        lines: rows
            .into_iter()
            .map(|r| ReportLine {
                day: r.day,
                customer_id: r.customer_id,
                sms_type: r.sms_type,
                counts: r.counts.into(),
            })
            .collect(),
        totals: days
            .into_iter()
            .map(|(day, counts)| DayTotal {
                day,
                counts: counts.into(),
            })
            .collect(),
        total: total.into(),
    };
    Ok(crate::http::json_response(StatusCode::OK, &report))
}
