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
