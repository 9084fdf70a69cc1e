//! The OpenAPI document is an insta snapshot kept as plain JSON in
//! `tests/snapshots/openapi.snap.json` (the metadata beside it is `openapi.snap`): a change
//! to the API must be accepted on purpose with `make openapi` (`INSTA_UPDATE=always`).

use crate::helpers::spawn_app;

#[test]
fn openapi_matches_the_snapshot() {
    let spec = sms_gateway::http::openapi::spec_json();
    insta::with_settings!({
        snapshot_path => concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots"),
        prepend_module_to_snapshot => false,
        omit_expression => true,
        description => "the served OpenAPI document; accept a change with `make openapi`",
    }, {
        insta::assert_binary_snapshot!("openapi.json", spec.into_bytes());
    });
}

#[test]
fn openapi_describes_every_endpoint_of_the_contract() {
    let spec: serde_json::Value =
        serde_json::from_str(&sms_gateway::http::openapi::spec_json()).unwrap();
    for (path, method) in [
        ("/admin/customers", "post"),
        ("/balance/add", "post"),
        ("/balance", "get"),
        ("/sms/send", "post"),
        ("/sms/history", "get"),
        ("/sms/{sms_identifier}", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
    ] {
        assert!(
            spec["paths"][path][method].is_object(),
            "{method} {path} missing from the OpenAPI document"
        );
    }
    assert!(spec["components"]["schemas"]["Problem"].is_object());
}

#[tokio::test]
async fn spec_and_swagger_ui_are_served() {
    let app = spawn_app().await;
    let r = app.get("/api-docs/openapi.json", None).await;
    r.assert_status(200);
    assert_eq!(r.body["info"]["title"], "SMS gateway");
    // What is served is the document of the snapshot.
    let snapshot: serde_json::Value =
        serde_json::from_str(&sms_gateway::http::openapi::spec_json()).unwrap();
    assert_eq!(r.body, snapshot);
    let ui = app.get("/swagger-ui/", None).await;
    ui.assert_status(200);
    assert!(
        ui.text.contains("swagger"),
        "swagger UI page: {}",
        &ui.text[..ui.text.len().min(200)]
    );
    app.finish().await;
}

#[test]
fn openapi_states_the_limits_the_handlers_enforce() {
    use sms_gateway::http::{customers::MAX_CREDIT, extract::MAX_IDEMPOTENCY_KEY_LEN, pagination};
    let spec: serde_json::Value =
        serde_json::from_str(&sms_gateway::http::openapi::spec_json()).unwrap();
    let param = |path: &str, method: &str, name: &str| {
        spec["paths"][path][method]["parameters"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["name"] == name))
            .unwrap_or_else(|| panic!("{method} {path} has no parameter {name}"))["schema"]
            .clone()
    };
    for path in ["/balance", "/sms/history"] {
        let limit = param(path, "get", "limit");
        assert_eq!(limit["minimum"], 1, "{path}");
        assert_eq!(limit["maximum"], pagination::MAX_LIMIT, "{path}");
    }
    for name in ["from", "to"] {
        assert_eq!(param("/sms/history", "get", name)["format"], "date-time");
    }
    for (path, method) in [
        ("/sms/send", "post"),
        ("/balance/add", "post"),
        ("/admin/customers", "post"),
    ] {
        let key = param(path, method, "Idempotency-Key");
        assert_eq!(key["maxLength"], MAX_IDEMPOTENCY_KEY_LEN, "{path}");
        assert_eq!(key["minLength"], 1, "{path}");
    }
    let schemas = &spec["components"]["schemas"];
    let send = &schemas["SendRequest"]["properties"];
    assert_eq!(send["recipients"]["minItems"], 1);
    assert_eq!(send["recipients"]["maxItems"], 1000);
    assert_eq!(send["validity_seconds"]["minimum"], 1);
    let top_up = &schemas["AddBalanceRequest"]["properties"];
    assert_eq!(top_up["balance"]["minimum"], 1);
    assert_eq!(top_up["balance"]["maximum"], MAX_CREDIT);
    assert_eq!(top_up["description"]["maxLength"], 255);
    // Every answer a route gives is documented, e.g. a bad user_id (400) or another
    // customer's (403) on the detail route.
    let detail = &spec["paths"]["/sms/{sms_identifier}"]["get"]["responses"];
    for status in ["200", "400", "401", "403", "404", "503"] {
        assert!(
            detail[status].is_object(),
            "GET /sms/{{id}} does not document {status}"
        );
    }
}
