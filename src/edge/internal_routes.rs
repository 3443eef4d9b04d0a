//! `POST /internal/requests/{uuid}/result`: the backend's asynchronous results, signature-checked.

use worker::{Env, Request, Response};

use super::do_client;
use super::do_protocol::{ResultCommand, ResultReply};
use super::env_config::{config, now_ms};
use super::http_io::{header, json_response, read_body};
use crate::domain::api_error::ApiError;
use crate::domain::backend_contract::parse_result_delivery;
use crate::domain::ids::RequestId;
use crate::domain::signing::{verify, SignedHeaders, DEFAULT_TOLERANCE_SECS};

pub async fn backend_result(
    mut req: Request,
    env: &Env,
    id_raw: &str,
) -> Result<Response, ApiError> {
    let cfg = config(env)?;
    let body = read_body(&mut req).await?;
    // Authenticate before revealing anything about the request id.
    let (id, ts, sig) = (
        header(&req, "webhook-id"),
        header(&req, "webhook-timestamp"),
        header(&req, "webhook-signature"),
    );
    let signed = SignedHeaders {
        id: id.as_deref(),
        timestamp: ts.as_deref(),
        signature: sig.as_deref(),
    };
    let message_id = verify(
        &cfg.backend_secrets,
        signed,
        &body,
        now_ms() / 1000,
        DEFAULT_TOLERANCE_SECS,
    )
    .map_err(|e| ApiError::BadSignature {
        detail: e.describe(),
    })?
    .to_owned();
    let request_id = RequestId::parse(id_raw).ok_or(ApiError::NotFound {
        detail: "no request with this id",
    })?;
    let result = parse_result_delivery(&body)?;
    let cmd = ResultCommand { message_id, result };
    match do_client::deliver_result(env, &request_id.to_string(), &cmd).await? {
        ResultReply::Stored => json_response(200, &serde_json::json!({"result": "stored"})),
        ResultReply::AlreadyStored => {
            json_response(200, &serde_json::json!({"result": "already_stored"}))
        }
        ResultReply::Replayed => Err(ApiError::ResultConflict {
            detail: "this delivery (webhook-id) was already received; replays are refused",
        }),
        ResultReply::Conflict => Err(ApiError::ResultConflict {
            detail: "the request is already terminal with a different result",
        }),
        ResultReply::NotFound => Err(ApiError::NotFound {
            detail: "no request with this id",
        }),
    }
}
