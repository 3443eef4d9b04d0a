//! The sandbox payment backend under `/sandbox/`: deterministic outcomes for development and tests.
//!
//! It plays the internal business system: verifies edgepay's signed dispatch,
//! answers per the magic account ids in `edgepay_core::sandbox`, and for
//! the delayed scenario POSTs a signed result back to edgepay's result endpoint.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Map, Value};
use worker::{Context, Delay, Env, Request, Response, Url};

use crate::runtime::backend_client::{signed_post, Bounds};
use crate::runtime::env_config::{config, now_ms};
use crate::runtime::http_io::{json_response, origin, read_body, verify_signed};
use crate::runtime::log;
use edgepay_core::http::api_error::{ApiError, FieldError};
use edgepay_core::log_line::LogLine;
use edgepay_core::sandbox::{reply_for, scenario_for, SandboxReply};

#[derive(Deserialize)]
struct Dispatch {
    request_id: String,
    subject: String,
    fields: Map<String, Value>,
    submission_count: u32,
}

pub async fn payments(
    mut req: Request,
    env: &Env,
    ctx: &Context,
    url: &Url,
) -> Result<Response, ApiError> {
    let cfg = config(env)?;
    let body = read_body(&mut req).await?;
    verify_signed(&req, &body, &cfg.backend_secrets, now_ms())?;
    let dispatch: Dispatch = serde_json::from_slice(&body).map_err(|_| {
        ApiError::Validation(vec![FieldError::new(
            "body",
            "malformed",
            "the body is not an edgepay dispatch",
        )])
    })?;

    let scenario = scenario_for(&dispatch.fields);
    match reply_for(
        scenario,
        &dispatch.subject,
        &dispatch.request_id,
        dispatch.submission_count,
        now_ms(),
    ) {
        SandboxReply::Now { status, body } => json_response(status, &body),
        SandboxReply::Accepted { later } => {
            if let Some((after_secs, item)) = later {
                let result_url = format!(
                    "{}/internal/requests/{}/result",
                    origin(url),
                    dispatch.request_id
                );
                let secrets = cfg.backend_secrets.get(..1).unwrap_or_default().to_vec();
                let msg_id = format!("sandbox-{}", dispatch.request_id);
                // Names its request, as the contract asks of every backend.
                let delivery =
                    json!({"request_id": dispatch.request_id, "status": 200, "body": item})
                        .to_string();
                ctx.wait_until(async move {
                    Delay::from(Duration::from_secs(u64::from(after_secs))).await;
                    let sent = signed_post(
                        &result_url,
                        &delivery,
                        &secrets,
                        &msg_id,
                        &[],
                        now_ms(),
                        Bounds {
                            timeout_ms: 10_000,
                            max_body: 0,
                        },
                    )
                    .await;
                    if let Err(why) = sent.map(|r| r.status).and_then(|s| {
                        if s == 200 {
                            Ok(s)
                        } else {
                            Err(format!("HTTP {s}"))
                        }
                    }) {
                        log::emit(
                            &LogLine::warn("sandbox result delivery failed").with("detail", &why),
                        );
                    }
                });
            }
            json_response(202, &json!({"status": "accepted"}))
        }
    }
}
