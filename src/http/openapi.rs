//! The OpenAPI document (`/api-docs/openapi.json`) and Swagger UI (`/swagger-ui/`, served from
//! assets vendored at build time).

use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{
    admin, balance, callbacks, customer_limits, customer_list, customers, dead_letters, dlr, error,
    health, reports, senders, session, sms,
};
use crate::domain;

/// The whole API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "SMS gateway",
        description = "Balance-aware SMS gateway. Errors are RFC 9457 problem documents \
            (application/problem+json). Money is integer credits. Timestamps are RFC 3339 UTC.",
        license(name = "MIT")
    ),
    paths(
        customers::create_customer,
        customer_list::list_customers,
        customer_list::get_customer,
        customers::rotate_api_key,
        customers::rotate_own_api_key,
        session::sign_in,
        session::get_session,
        session::sign_out,
        session::revoke_customer_sessions,
        customer_limits::get_limits,
        customer_limits::put_limits,
        senders::own_senders,
        senders::list_senders,
        senders::add_sender,
        senders::remove_sender,
        senders::set_default_sender,
        admin::pause,
        admin::resume,
        admin::operators,
        admin::lanes,
        dead_letters::list,
        dead_letters::replay,
        callbacks::get_settings,
        callbacks::put_settings,
        callbacks::rotate_secret,
        callbacks::deliveries::list_deliveries,
        callbacks::deliveries::list_parked,
        callbacks::deliveries::replay,
        balance::add_balance,
        balance::get_balance,
        sms::send::send,
        sms::quote::quote,
        sms::history::history,
        sms::history_csv::history_csv,
        sms::detail::get_sms,
        sms::cancel::cancel_sms,
        sms::events::recipient_events,
        reports::daily_report,
        dlr::receive,
        health::healthz,
        health::readyz,
        health::metrics,
    ),
    components(schemas(
        error::Problem,
        domain::SmsStatus,
        domain::SmsType,
        domain::Encoding,
        crate::callbacks::payload::CallbackBatch,
        crate::callbacks::payload::CallbackEvent,
    )),
    modifiers(&SecuritySchemes),
    tags(
        (name = "sms", description = "Sending and tracking messages"),
        (name = "balance", description = "Prepaid balance and its ledger"),
        (name = "reports", description = "Daily counts per customer and type"),
        (name = "admin", description = "Customer management (admin token)"),
        (name = "senders", description = "Sender ids a customer may send from (managed with the admin token)"),
        (name = "callbacks", description = "Delivery-status callbacks: the webhook, its signing secret, recent POSTs, parked events and their replay. The POST body is the CallbackBatch schema"),
        (name = "delivery reports", description = "Operators reporting delivery"),
        (name = "operations", description = "Health and readiness"),
        (name = "account", description = "A customer's own API key"),
        (name = "session", description = "Console sessions: a key or the admin token exchanged for a cookie"),
    )
)]
pub struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = |desc: &str| {
            let mut http = Http::new(HttpAuthScheme::Bearer);
            http.description = Some(desc.to_string());
            SecurityScheme::Http(http)
        };
        components.add_security_scheme(
            "api_key",
            bearer("A customer's API key (from POST /admin/customers)"),
        );
        components.add_security_scheme("admin_token", bearer("The ADMIN_TOKEN of the gateway"));
        components.add_security_scheme(
            "operator_key",
            bearer("The operator's api_key from OPERATORS / EXPRESS_OPERATORS"),
        );
        // Every endpoint that takes `api_key` or `admin_token` also takes this cookie instead
        // (no Authorization header), with the session's X-CSRF-Token on any write.
        let mut cookie = ApiKeyValue::new(super::session_auth::SESSION_COOKIE);
        cookie.description = Some(
            "A console session (POST /session), in place of api_key or admin_token on any \
             endpoint; writes also need its X-CSRF-Token header"
                .to_string(),
        );
        components.add_security_scheme(
            "console_session",
            SecurityScheme::ApiKey(ApiKey::Cookie(cookie)),
        );
    }
}

/// The document as pretty JSON (what the snapshot test compares).
pub fn spec_json() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .expect("the OpenAPI document serializes")
}
