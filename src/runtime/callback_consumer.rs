//! The callback queue consumers: one signed POST per message, reported back to the request's object.
//!
//! Each message is handled on its own and acknowledged or retried on its own;
//! the handler never returns `Err` (that would panic in the generated glue and
//! reset the instance). The schedule lives in the payment-request object, not
//! in the queue: a failed attempt is acknowledged here, and the object puts the
//! next attempt on the queue when it is due.
//!
//! A batch waits for an attempt at most `CALLBACK_SLOW_MS`: one still unanswered then carries
//! on outside the batch (`ctx.wait_until`; `wrangler.toml` sets
//! `queue_consumer_no_wait_for_wait_until` so the queue does not wait for it either), its
//! message is acknowledged, and its receiver is remembered as slow, so its next attempts leave
//! the batch at once (`callback::slow_receivers`). A slow receiver therefore never holds up
//! the callbacks that share its batch or come after it. An attempt that is lost outside its
//! batch (the isolate ends first) is never reported, and the object's outbox sends it again
//! after `CALLBACK_CONFIRM_MS`, as for a lost message.
//!
//! A receiver's answer is judged by its status alone. Of its body only the first
//! `RECEIVER_BODY_LIMIT` bytes are read, as bytes (`runtime::bounded_body`), and the rest is
//! cancelled: a body that is large, slow or not UTF-8 neither fails a delivery nor sits in
//! this shared consumer's memory. The log quotes the body of a refusal as sanitised text.

use std::cell::RefCell;
use std::time::Duration;

use futures_util::future::{join_all, select, Either};
use futures_util::FutureExt;
use worker::{Context, Delay, Env, MessageBatch, MessageExt, RawMessage};

use crate::objects::client::call_payment;
use crate::runtime::backend_client::{signed_post, Bounds};
use crate::runtime::env_config::{config, now_ms};
use crate::runtime::{log, usage};
use edgepay_core::callback::delivery::{
    classify, describe, AttemptOutcome, CallbackJob, CallbackMessage, ANSWER_EXCERPT_CHARS,
};
use edgepay_core::callback::slow_receivers::{receiver_key, Lane, SlowReceivers};
use edgepay_core::callback::template::{CallbackTemplate, CallbackVars};
use edgepay_core::callback::zai_signature;
use edgepay_core::http::api_error::ApiError;
use edgepay_core::http::body_prefix::{sanitised_text, RECEIVER_BODY_LIMIT};
use edgepay_core::ids::RequestId;
use edgepay_core::log_line::LogLine;
use edgepay_core::objects::commands::{ConfirmDeadLettered, FetchCallbackJob, ReportCallback};
use edgepay_core::signing::SigningSecret;

thread_local! {
    /// The receivers this isolate has seen hold an attempt past the patience.
    static SLOW_RECEIVERS: RefCell<SlowReceivers> = RefCell::new(SlowReceivers::default());
}

/// Producer bindings in `wrangler.toml`.
pub const CALLBACKS_QUEUE_BINDING: &str = "CALLBACKS";
pub const DEAD_LETTER_QUEUE_BINDING: &str = "CALLBACKS_DLQ";
/// The dead-letter queue's name, to tell its batches apart.
pub const DEAD_LETTER_QUEUE_NAME: &str = "edgepay-callbacks-dlq";

/// The message and the request it is about; `None` for a shape or id this version never sends.
fn parse(message: &RawMessage) -> Option<(CallbackMessage, RequestId)> {
    serde_wasm_bindgen::from_value::<CallbackMessage>(message.body())
        .ok()
        .filter(|m| m.v == CallbackMessage::VERSION)
        .and_then(|m| RequestId::parse(&m.request_id).map(|id| (m, id)))
}

/// Entry point for both queues.
pub async fn consume(batch: MessageBatch<serde_json::Value>, env: Env, ctx: &Context) {
    let dead_letters = batch.queue() == DEAD_LETTER_QUEUE_NAME;
    let messages: Vec<RawMessage> = batch.raw_iter().collect();
    usage::count(|u| u.queue_deliveries += messages.len() as u64);
    let env = &env;
    join_all(messages.iter().map(|message| async move {
        let Some((parsed, id)) = parse(message) else {
            // An unknown shape can never succeed; keep it out of the retry loop.
            log::emit(&LogLine::error("malformed callback message acknowledged"));
            usage::count(|u| u.queue_acks += 1);
            message.ack();
            return;
        };
        let handled = if dead_letters {
            call_payment(env, &id, &ConfirmDeadLettered {})
                .await
                .map(|_| ())
        } else {
            deliver(env, &parsed, &id, ctx).await
        };
        match handled {
            Ok(()) => {
                usage::count(|u| u.queue_acks += 1);
                message.ack()
            }
            // The object could not be reached: let the queue retry, then dead-letter it.
            Err(_) => message.retry(),
        }
    }))
    .await;
}

/// One attempt: ask the object what to send, then send it in the batch or, for a slow
/// receiver, outside it. `Ok` once the attempt is reported or is carrying on outside the batch.
async fn deliver(
    env: &Env,
    message: &CallbackMessage,
    id: &RequestId,
    ctx: &Context,
) -> Result<(), ApiError> {
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
    } = call_payment(
        env,
        id,
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
    let report =
        |http_response: Option<u16>, detail: String, outcome: AttemptOutcome| ReportCallback {
            attempt: message.attempt,
            executed_ms,
            http_response,
            detail,
            outcome,
        };
    let vars = CallbackVars {
        item: &item,
        account: &account,
        uuid: &request_id,
    };
    let secrets = cfg.clients.callback_secrets_for_tenant(&tenant);
    let url = match CallbackTemplate::from_stored(template).render(&vars, cfg.callback_policy) {
        Err(why) => {
            let refused = report(
                None,
                format!("refused before sending: {why}"),
                AttemptOutcome::Stop,
            );
            return call_payment(env, id, &refused).await.map(|_| ());
        }
        Ok(_) if secrets.is_empty() => {
            let refused = report(
                None,
                "refused: no callback signing secret is configured".to_owned(),
                AttemptOutcome::Stop,
            );
            return call_payment(env, id, &refused).await.map(|_| ());
        }
        Ok(url) => url,
    };
    let receiver = receiver_key(&tenant, &url);
    let patience_ms = cfg.callbacks.slow_after_ms;
    let zai_signature = zai_signature::header_value(
        &cfg.clients.zai_webhook_secrets_for_tenant(&tenant),
        executed_ms / 1000,
        body.as_bytes(),
    );
    let post = Post {
        url: url.to_string(),
        body,
        secrets,
        delivery_id,
        result_status,
        zai_signature,
        executed_ms,
        timeout_ms: cfg.callbacks.timeout_ms,
    };
    let lane = SLOW_RECEIVERS.with(|slow| slow.borrow().lane(&receiver, executed_ms));
    let env_owned = env.clone();
    let id_owned = id.clone();
    let base = report(None, String::new(), AttemptOutcome::Stop);
    let receiver_seen = receiver.clone();
    let attempt = async move {
        let (http_response, detail, outcome) = post.send(&request_id).await;
        let took_ms = now_ms().saturating_sub(executed_ms);
        SLOW_RECEIVERS.with(|slow| {
            let mut slow = slow.borrow_mut();
            if took_ms < patience_ms {
                slow.answered_quickly(&receiver_seen);
            } else {
                slow.mark_slow(&receiver_seen, now_ms());
            }
        });
        let reported = ReportCallback {
            http_response,
            detail,
            outcome,
            ..base
        };
        call_payment(&env_owned, &id_owned, &reported)
            .await
            .map(|_| ())
    }
    .boxed_local();

    if lane == Lane::Detached {
        ctx.wait_until(attempt.map(report_lost));
        return Ok(());
    }
    let patience = Delay::from(Duration::from_millis(patience_ms));
    match select(attempt, patience).await {
        Either::Left((reported, _)) => reported,
        Either::Right(((), attempt)) => {
            SLOW_RECEIVERS.with(|slow| slow.borrow_mut().mark_slow(&receiver, now_ms()));
            log::emit(
                &LogLine::warn("callback receiver slow: its attempts leave the batch")
                    .with("tenant", &tenant)
                    .with("receiver", url.origin().ascii_serialization())
                    .with("after_ms", patience_ms),
            );
            ctx.wait_until(attempt.map(report_lost));
            Ok(())
        }
    }
}

/// An attempt outside its batch whose report did not reach the object: the outbox sends it again.
fn report_lost(reported: Result<(), ApiError>) {
    if reported.is_err() {
        log::emit(&LogLine::warn(
            "callback attempt outside its batch was not reported; the outbox sends it again",
        ));
    }
}

/// One signed callback POST, owned, so that it can carry on outside its batch.
struct Post {
    url: String,
    body: String,
    secrets: Vec<SigningSecret>,
    delivery_id: String,
    result_status: u16,
    zai_signature: Option<String>,
    executed_ms: u64,
    timeout_ms: u64,
}

impl Post {
    /// Sends it; the receiver's answer as the delivery log records it.
    async fn send(&self, request_id: &str) -> (Option<u16>, String, AttemptOutcome) {
        let status_text = self.result_status.to_string();
        let mut headers = vec![
            ("edgepay-request-id", request_id),
            ("edgepay-result-status", status_text.as_str()),
        ];
        if let Some(value) = self.zai_signature.as_deref() {
            headers.push((zai_signature::HEADER, value));
        }
        match signed_post(
            &self.url,
            &self.body,
            &self.secrets,
            &self.delivery_id,
            &headers,
            self.executed_ms,
            Bounds {
                timeout_ms: self.timeout_ms,
                max_body: RECEIVER_BODY_LIMIT,
            },
        )
        .await
        {
            // The status decides; the body, however it came, is only quoted: it is the log
            // line's `detail`, as in Zai's log (edgepay's words are its `outcome`).
            Ok(reply) => (
                Some(reply.status),
                answer_excerpt(&reply.body),
                classify(Some(reply.status), reply.retry_after.as_deref()),
            ),
            Err(why) => (None, describe(None, Some(&why)), classify(None, None)),
        }
    }
}

/// The receiver's answer body as the delivery log quotes it: the bounded prefix `signed_post`
/// read (a byte past the limit says there was more), as one line of sanitised text.
fn answer_excerpt(body: &Result<Vec<u8>, String>) -> String {
    match body {
        Ok(bytes) => {
            let kept = bytes.get(..RECEIVER_BODY_LIMIT).unwrap_or(bytes);
            sanitised_text(kept, bytes.len() > kept.len(), ANSWER_EXCERPT_CHARS)
        }
        Err(why) => sanitised_text(
            format!("(its body broke off: {why})").as_bytes(),
            false,
            ANSWER_EXCERPT_CHARS,
        ),
    }
}
