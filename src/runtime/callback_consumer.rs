//! The callback queue consumers: one signed POST per message, reported back to the request's object.
//!
//! Each message is handled on its own and acknowledged or retried on its own;
//! the handler never returns `Err` (that would panic in the generated glue and
//! reset the instance). The schedule lives in the payment-request object, not
//! in the queue: a failed attempt is acknowledged here, and the object puts the
//! next attempt on the queue when it is due.

use futures_util::future::join_all;
use worker::{Env, MessageBatch, MessageExt, RawMessage};

use crate::objects::client::call;
use crate::runtime::backend_client::signed_post;
use crate::runtime::env_config::{config, now_ms};
use crate::runtime::log;
use edgepay_core::callback::delivery::{
    classify, describe, AttemptOutcome, CallbackJob, CallbackMessage,
};
use edgepay_core::callback::template::{CallbackTemplate, CallbackVars};
use edgepay_core::callback::zai_signature;
use edgepay_core::http::api_error::ApiError;
use edgepay_core::log_line::LogLine;
use edgepay_core::objects::commands::{ConfirmDeadLettered, FetchCallbackJob, ReportCallback};

/// Producer bindings in `wrangler.toml`.
pub const CALLBACKS_QUEUE_BINDING: &str = "CALLBACKS";
pub const DEAD_LETTER_QUEUE_BINDING: &str = "CALLBACKS_DLQ";
/// The dead-letter queue's name, to tell its batches apart.
pub const DEAD_LETTER_QUEUE_NAME: &str = "edgepay-callbacks-dlq";

fn parse(message: &RawMessage) -> Option<CallbackMessage> {
    serde_wasm_bindgen::from_value::<CallbackMessage>(message.body())
        .ok()
        .filter(|m| m.v == CallbackMessage::VERSION)
}

/// Entry point for both queues.
pub async fn consume(batch: MessageBatch<serde_json::Value>, env: Env) {
    let dead_letters = batch.queue() == DEAD_LETTER_QUEUE_NAME;
    let messages: Vec<RawMessage> = batch.raw_iter().collect();
    let env = &env;
    join_all(messages.iter().map(|message| async move {
        let Some(parsed) = parse(message) else {
            // An unknown shape can never succeed; keep it out of the retry loop.
            log::emit(&LogLine::error("malformed callback message acknowledged"));
            message.ack();
            return;
        };
        let handled = if dead_letters {
            call(env, &parsed.request_id, &ConfirmDeadLettered {})
                .await
                .map(|_| ())
        } else {
            deliver(env, &parsed).await
        };
        match handled {
            Ok(()) => message.ack(),
            // The object could not be reached: let the queue retry, then dead-letter it.
            Err(_) => message.retry(),
        }
    }))
    .await;
}

/// One attempt: ask the object what to send, send it, report how it went.
async fn deliver(env: &Env, message: &CallbackMessage) -> Result<(), ApiError> {
    let cfg = config(env)?;
    let CallbackJob::Send {
        request_id,
        tenant,
        delivery_id,
        template,
        item,
        account,
        body,
        result_status,
    } = call(
        env,
        &message.request_id,
        &FetchCallbackJob {
            attempt: message.attempt,
        },
    )
    .await?
    .unwrap_or_else(|| CallbackJob::skip("no such request"))
    else {
        return Ok(());
    };
    let executed_ms = now_ms();
    let vars = CallbackVars {
        item: &item,
        account: &account,
        uuid: &request_id,
    };
    let secrets = cfg.clients.callback_secrets_for_tenant(&tenant);
    let (http_response, detail, outcome) =
        match CallbackTemplate::from_stored(template).render(&vars, cfg.callback_policy) {
            Err(why) => (
                None,
                format!("refused before sending: {why}"),
                AttemptOutcome::Stop,
            ),
            Ok(_) if secrets.is_empty() => (
                None,
                "refused: no callback signing secret is configured".to_owned(),
                AttemptOutcome::Stop,
            ),
            Ok(url) => {
                let status_text = result_status.to_string();
                let zai_signature = zai_signature::header_value(
                    &cfg.clients.zai_webhook_secrets_for_tenant(&tenant),
                    executed_ms / 1000,
                    body.as_bytes(),
                );
                let mut headers = vec![
                    ("edgepay-request-id", request_id.as_str()),
                    ("edgepay-result-status", status_text.as_str()),
                ];
                if let Some(value) = zai_signature.as_deref() {
                    headers.push((zai_signature::HEADER, value));
                }
                match signed_post(
                    url.as_str(),
                    &body,
                    &secrets,
                    &delivery_id,
                    &headers,
                    executed_ms,
                    cfg.callbacks.timeout_ms,
                )
                .await
                {
                    Ok(reply) => (
                        Some(reply.status),
                        describe(Some(reply.status), None),
                        classify(Some(reply.status), reply.retry_after.as_deref()),
                    ),
                    Err(why) => (None, describe(None, Some(&why)), classify(None, None)),
                }
            }
        };
    let report = ReportCallback {
        attempt: message.attempt,
        executed_ms,
        http_response,
        detail,
        outcome,
    };
    call(env, &request_id, &report).await.map(|_| ())
}
