//! [`HttpOperator::lookup`](super::HttpOperator): `GET {status_url}?reference=<reference>`
//! with the operator's bearer key, bounded by its timeout. 200 `{"message_id", "status"}` is
//! the message the operator has under that reference, 404 says it has none; anything else is
//! an error classified as for a send (a lookup is a read, so never in doubt).

use secrecy::ExposeSecret;

use super::{HttpOperator, classify, root_cause};
use crate::operators::OperatorError;
use crate::operators::wire::MessageStatus;

impl HttpOperator {
    /// The operator's message id for `reference`: `Some` when it has a message under it,
    /// `None` when it answers 404; [`OperatorError::NoStatusUrl`] when it declares no
    /// `status_url`.
    pub async fn look_up(&self, reference: &str) -> Result<Option<String>, OperatorError> {
        let Some(status_url) = &self.status_url else {
            return Err(OperatorError::NoStatusUrl);
        };
        let mut url = reqwest::Url::parse(status_url)
            .map_err(|e| OperatorError::Retryable(format!("status_url is not a URL: {e}")))?;
        url.query_pairs_mut().append_pair("reference", reference);
        let transport = |e: reqwest::Error| {
            OperatorError::Retryable(if e.is_timeout() {
                format!("lookup timed out after {} ms", self.timeout.as_millis())
            } else {
                format!("lookup failed: {}", root_cause(&e.without_url()))
            })
        };
        let response = self
            .client
            .get(url)
            .bearer_auth(self.api_key.expose_secret())
            .timeout(self.timeout)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        let retry_after = super::retry_after(response.headers());
        let body = response.bytes().await.map_err(transport)?;
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(classify(status, retry_after, &body));
        }
        match serde_json::from_slice::<MessageStatus>(&body) {
            Ok(m) if !m.message_id.trim().is_empty() => Ok(Some(m.message_id)),
            Ok(_) => Err(OperatorError::Retryable(format!(
                "lookup: {status} with an empty message_id"
            ))),
            Err(e) => Err(OperatorError::Retryable(format!(
                "lookup: {status} with an unreadable body: {e}"
            ))),
        }
    }
}
