//! The object side of the protocol: decode a command, run its handler, answer its typed reply, once for every object.

use std::future::Future;

use worker::Response;

use crate::runtime::http_io::json_response;
use edgepay_core::http::api_error::ApiError;
use edgepay_core::objects::commands::Command;

/// Decodes `body` as `C`, runs `handler`, and answers its `C::Reply` as JSON (`None`: `404`).
pub async fn serve<C, F, Fut>(body: &str, handler: F) -> Result<Response, ApiError>
where
    C: Command,
    F: FnOnce(C) -> Fut,
    Fut: Future<Output = Result<Option<C::Reply>, ApiError>>,
{
    let command: C = serde_json::from_str(body).map_err(|_| ApiError::Internal)?;
    match handler(command).await? {
        Some(reply) => json_response(
            200,
            &serde_json::to_value(reply).map_err(|_| ApiError::Internal)?,
        ),
        None => Err(ApiError::NotFound {
            detail: "no such request",
        }),
    }
}

/// A path no command of this object has.
pub fn unknown_command() -> ApiError {
    ApiError::NotFound {
        detail: "no such command",
    }
}
