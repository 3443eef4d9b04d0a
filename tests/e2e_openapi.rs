//! The OpenAPI document checked against behaviour: schemathesis (from `.venv/`) fuzzes every documented operation of a sandbox gateway.

mod support;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Instant;

use serde_json::Value;
use support::gateway::Gateway;
use support::*;

fn gateway() -> &'static Gateway {
    static GATEWAY: OnceLock<Gateway> = OnceLock::new();
    GATEWAY.get_or_init(|| {
        // The sandbox is the backend, so every generated payment reaches a real outcome.
        // On the `high` rate tier: schemathesis sends a burst that the `standard` limit would
        // cut short with (documented) 429s, leaving the rest of the surface unexplored.
        sandbox_gateway(
            "openapi",
            &[
                ("ALLOW_INSECURE_CALLBACKS", "false"),
                (
                    "TENANTS",
                    r#"[{"tenant": "tenant-a", "rate_tier": "high"}]"#,
                ),
            ],
        )
    })
}

async fn document() -> Value {
    let reply = Call::new("GET", format!("{}/openapi.json", gateway().base))
        .without("authorization")
        .send()
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    reply.json
}

#[tokio::test]
async fn the_document_is_served_and_documents_every_public_route() {
    let doc = document().await;
    assert_eq!(doc["openapi"], "3.1.0");
    let mut paths: Vec<String> = doc["paths"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    paths.sort();
    assert_eq!(
        paths,
        [
            "/api/MakePaymentRequest",
            "/callbacks/dead-letters",
            "/callbacks/dead-letters/replay",
            "/client-tokens",
            "/dashboard",
            "/dashboard/{asset}",
            "/healthz",
            "/internal/requests/{request_id}/result",
            "/items/{item}/make_payment",
            "/json/oneway/MakePaymentRequest",
            "/json/reply/MakePaymentRequest",
            "/mobile/payments/makePayment",
            "/mobile/payments/makePayment.json",
            "/openapi.json",
            "/request/{request_id}/callbacks",
            "/request/{request_id}/callbacks/replay",
            "/request/{request_id}/status",
            "/requests",
            "/types/{language}",
        ]
    );
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["basicAuth"]["scheme"], "basic");
    assert_eq!(schemes["bearerAuth"]["scheme"], "bearer");
    let headers: Vec<&str> = doc["components"]["parameters"]
        .as_object()
        .into_iter()
        .flat_map(|p| p.values())
        .filter_map(|p| p["name"].as_str())
        .collect();
    for name in ["Idempotency-Key", "Prefer", "X-Request-Id"] {
        assert!(headers.contains(&name), "{name} is documented: {headers:?}");
    }
}

/// schemathesis from the project's virtual environment (`make test` installs it).
fn schemathesis() -> PathBuf {
    let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/schemathesis");
    assert!(
        bin.exists(),
        "{} is missing: `make test` installs it (Makefile target .venv/.installed)",
        bin.display()
    );
    bin
}

#[tokio::test]
async fn every_documented_operation_conforms_under_property_based_fuzzing() {
    let base = gateway().base.clone();
    let bin = schemathesis();
    let examples = std::env::var("OPENAPI_EXAMPLES").unwrap_or_else(|_| "30".to_owned());
    let seed = std::env::var("OPENAPI_SEED").unwrap_or_else(|_| "20261121".to_owned());
    let scratch = std::env::temp_dir().join(format!("edgepay-schemathesis-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).expect("scratch dir");
    let started = Instant::now();
    let mut command = Command::new(bin);
    command
        .current_dir(&scratch)
        .args([
            "--config-file",
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/schemathesis.toml"),
            "run",
            &format!("{base}/openapi.json"),
            "--url",
            &base,
            "--auth",
            &format!("{TENANT_A_KEY}:{TENANT_A_SECRET}"),
            // No 5xx; documented status codes, content types, headers and bodies; invalid
            // input refused with a 4xx.
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_headers_conformance,response_schema_conformance,negative_data_rejection",
            "--max-examples",
            &examples,
            "--seed",
            &seed,
            "--request-timeout",
            "60",
            "--wait-for-schema",
            "30",
        ])
        .env("NO_COLOR", "1");
    let run = tokio::task::spawn_blocking(move || command.output().expect("run schemathesis"))
        .await
        .expect("schemathesis thread");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    // The summary, for the test log: operations, cases generated, warnings.
    println!(
        "schemathesis (seed {seed}, {:.0?}):\n{}",
        started.elapsed(),
        stdout
            .lines()
            .skip_while(|l| !l.contains("SUMMARY"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        run.status.success(),
        "schemathesis found failures (seed {seed}):\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("Selected: 19/19") && stdout.contains("Tested: 19"),
        "every documented operation was tested:\n{stdout}"
    );
    assert!(
        gateway().log().contains("\"msg\":\"request\""),
        "the gateway served the run"
    );
}
