//! The OpenAPI document is a snapshot: a change to the API must be accepted on purpose with
//! `make openapi` (which sets UPDATE_SNAPSHOTS=1).

use crate::helpers::spawn_app;

const SNAPSHOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots/openapi.json");

#[test]
fn openapi_matches_the_snapshot() {
    let spec = sms_gateway::http::openapi::spec_json();
    if std::env::var("UPDATE_SNAPSHOTS").is_ok() {
        std::fs::create_dir_all(std::path::Path::new(SNAPSHOT).parent().unwrap()).unwrap();
        std::fs::write(SNAPSHOT, &spec).unwrap();
        return;
    }
    let stored = std::fs::read_to_string(SNAPSHOT)
        .expect("tests/snapshots/openapi.json is missing; run `make openapi`");
    assert!(
        stored == spec,
        "the OpenAPI document changed; review the diff and run `make openapi` to accept it"
    );
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
    let ui = app.get("/swagger-ui/", None).await;
    ui.assert_status(200);
    assert!(
        ui.text.contains("swagger"),
        "swagger UI page: {}",
        &ui.text[..ui.text.len().min(200)]
    );
    app.finish().await;
}
