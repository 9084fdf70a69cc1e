//! One request: builds `POST /sms/send` from the plan's choices, sends it, classifies the
//! answer, and keeps the live counters the sampler and the report read.

use std::sync::atomic::{AtomicU64, Ordering};

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use sms_gateway::http::sms::{SendRequest, SendResponse};

use crate::clock::now_us;
use crate::report::type_name;
use crate::schedule::Plan;

/// Live counters, shared by request tasks, the sampler and the progress display.
#[derive(Default)]
pub struct Counters {
    /// Requests sent (answered or not).
    pub requests: AtomicU64,
    /// 202 answers.
    pub accepted: AtomicU64,
    /// Recipients in the 202 answers.
    pub accepted_recipients: AtomicU64,
    /// Every other outcome: non-202 answers and requests without an answer.
    pub non_accepted: AtomicU64,
    /// Requests waiting for their answer.
    pub in_flight: AtomicU64,
    /// Open loop: how far behind its due time a request was sent at worst, in µs.
    pub max_lag_us: AtomicU64,
}

/// What one request came to.
pub struct Outcome {
    /// Its sequence number in the run.
    pub seq: u32,
    /// Sent as express.
    pub express: bool,
    /// Open loop: the due time; closed loop: when it was sent.
    pub started_us: u64,
    /// When the answer (or the error) came.
    pub answered_us: u64,
    /// The answer, or why there is none ("timeout", "connect", "other", "unreadable 202").
    pub result: Result<Answer, &'static str>,
}

/// An answer of the gateway.
pub enum Answer {
    /// 202, for this many recipients.
    Accepted {
        /// Recipients the answer counts.
        recipients: u64,
    },
    /// Any other status.
    Status(u16),
}

/// Where the requests go.
pub enum Endpoint {
    /// The gateway's `<base>/sms/send`.
    Gateway(String),
    /// Kannel's smsbox: its base URL and the sendsms-user's credentials.
    Kannel {
        /// smsbox's base URL.
        base: String,
        /// The sendsms-user.
        user: String,
        /// Its password.
        password: String,
    },
}

/// What the request tasks share.
pub struct Shared {
    /// The client, one connection pool for the run.
    pub client: reqwest::Client,
    /// Where the requests go.
    pub endpoint: Endpoint,
    /// `Bearer <key>` per customer, indexed like the plan's customers.
    pub auth: Vec<HeaderValue>,
    /// The per-request choices.
    pub plan: Plan,
    /// The run id, in every text's tag.
    pub run_id: u32,
    /// The live counters.
    pub counters: Counters,
}

impl Shared {
    /// Sends request `seq`, counted as started at `started_us`.
    pub async fn send(&self, seq: u64, started_us: u64) -> Outcome {
        let pick = self.plan.pick(seq);
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        self.counters.in_flight.fetch_add(1, Ordering::Relaxed);
        let result = match &self.endpoint {
            Endpoint::Gateway(url) => {
                self.post(url, pick.customer, self.body(seq, pick.kind, pick.express))
                    .await
            }
            Endpoint::Kannel {
                base,
                user,
                password,
            } => {
                let text = crate::text::tagged_text(pick.kind, self.run_id, seq as u32);
                let to = &self.plan.recipients_of(seq)[0];
                self.get_kannel(&crate::kannel::sendsms_url(base, user, password, to, &text))
                    .await
            }
        };
        self.counters.in_flight.fetch_sub(1, Ordering::Relaxed);
        let answered_us = now_us();
        match &result {
            Ok(Answer::Accepted { recipients }) => {
                self.counters.accepted.fetch_add(1, Ordering::Relaxed);
                self.counters
                    .accepted_recipients
                    .fetch_add(*recipients, Ordering::Relaxed);
            }
            _ => {
                self.counters.non_accepted.fetch_add(1, Ordering::Relaxed);
            }
        }
        Outcome {
            seq: seq as u32,
            express: pick.express,
            started_us,
            answered_us,
            result,
        }
    }

    /// The JSON body of request `seq`.
    fn body(&self, seq: u64, kind: crate::text::TextKind, express: bool) -> Vec<u8> {
        let body = SendRequest {
            text: Some(crate::text::tagged_text(kind, self.run_id, seq as u32)),
            recipients: Some(self.plan.recipients_of(seq)),
            messages: None,
            sms_type: Some(type_name(express).into()),
            customer_id: None,
            allow_partial: false,
            validity_seconds: None,
            operators: None,
            from: None,
            reference: None,
            send_at: None,
            callback_url: None,
        };
        serde_json::to_vec(&body).expect("request serializes")
    }

    /// `GET` of a Kannel sendsms URL: 202 (`0: Accepted for delivery`) counts one recipient.
    async fn get_kannel(&self, url: &str) -> Result<Answer, &'static str> {
        let response = self.client.get(url).send().await.map_err(classify)?;
        let status = response.status().as_u16();
        response.bytes().await.map_err(classify)?;
        Ok(match status {
            202 => Answer::Accepted { recipients: 1 },
            s => Answer::Status(s),
        })
    }

    /// Posts `body` as customer `customer` and reads the answer.
    async fn post(
        &self,
        url: &str,
        customer: usize,
        body: Vec<u8>,
    ) -> Result<Answer, &'static str> {
        let response = self
            .client
            .post(url)
            .header(AUTHORIZATION, self.auth[customer].clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(body)
            .send()
            .await
            .map_err(classify)?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(classify)?;
        if status != 202 {
            return Ok(Answer::Status(status));
        }
        match serde_json::from_slice::<SendResponse>(&bytes) {
            Ok(r) => Ok(Answer::Accepted {
                recipients: r.recipients as u64,
            }),
            Err(_) => Err("unreadable 202"),
        }
    }
}

/// Why a request got no answer: "timeout", "connect" or "other".
pub fn classify(e: reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else {
        "other"
    }
}
