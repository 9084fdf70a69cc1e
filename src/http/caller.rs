//! Who a request acts as: the admin or one customer (how it was authenticated is the
//! extractors' business, `extract` and `session_auth`).

use super::error::ApiError;
use crate::db;
use crate::state::AppState;

/// The authenticated caller of a customer endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// `ADMIN_TOKEN`: may act for any customer by naming it.
    Admin,
    /// A customer's API key: acts for that customer only.
    Customer(i64),
}

impl Caller {
    /// The customer a request acts for. A customer naming another customer gets 403; the
    /// admin must name one (400) that exists (404).
    pub async fn target(
        self,
        state: &AppState,
        named: Option<i64>,
        field: &str,
    ) -> Result<i64, ApiError> {
        match (self, named) {
            (Caller::Customer(id), None) => Ok(id),
            (Caller::Customer(id), Some(n)) if n == id => Ok(id),
            (Caller::Customer(_), Some(_)) => Err(ApiError::Forbidden(format!(
                "this API key may only act for its own customer; {field} names another"
            ))),
            (Caller::Admin, None) => Err(ApiError::field(
                field,
                "required when authenticating with the admin token",
            )),
            (Caller::Admin, Some(n)) => {
                if db::customers::exists(&state.db, n).await? {
                    Ok(n)
                } else {
                    Err(ApiError::unknown_customer(n))
                }
            }
        }
    }

    /// Scope of this caller's idempotency keys.
    pub fn idempotency_scope(self) -> String {
        match self {
            Caller::Admin => "admin".into(),
            Caller::Customer(id) => format!("c:{id}"),
        }
    }
}
