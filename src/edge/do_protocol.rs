//! Messages between the edge and the Durable Objects (JSON over the stub's `fetch`).

use serde::{Deserialize, Serialize};

use crate::domain::payment::NewPayment;
use crate::domain::payment_state::RequestState;
use crate::domain::request_record::StoredResult;

/// `POST /create` on a payment-request object: store, dispatch, hold the caller up to `wait_ms`.
#[derive(Debug, Serialize, Deserialize)]
pub struct CreateCommand {
    pub request_id: String,
    pub payment: NewPayment,
    pub wait_ms: u64,
    /// The origin the client called, for absolute links in callbacks.
    pub origin: String,
}

/// `POST /status`: the request's view, for `tenant` only, after holding up to `wait_ms`.
#[derive(Debug, Serialize, Deserialize)]
pub struct StatusQuery {
    pub tenant: String,
    /// A client token's principal: only its own requests are visible.
    #[serde(default)]
    pub owner: Option<String>,
    pub wait_ms: u64,
}

/// `POST /result`: a verified asynchronous result from the backend.
#[derive(Debug, Serialize, Deserialize)]
pub struct ResultCommand {
    pub message_id: String,
    pub result: StoredResult,
}

/// `POST /probe`: whether the request exists and is terminal (used to heal stale item locks).
#[derive(Debug, Serialize, Deserialize)]
pub struct ProbeReply {
    pub exists: bool,
    pub terminal: bool,
}

/// `POST /acquire` and `POST /release` on an item-lock object.
#[derive(Debug, Serialize, Deserialize)]
pub struct LockCommand {
    pub request_id: String,
}

/// The item lock's answer to `/acquire`.
#[derive(Debug, Serialize, Deserialize)]
pub struct LockReply {
    pub acquired: bool,
    pub holder: String,
}

/// The payment-request object's answer to `/result`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResultReply {
    /// Stored: the request went from `from` to `completed`.
    Stored {
        from: RequestState,
    },
    AlreadyStored,
    Replayed,
    Conflict,
    NotFound,
}

/// `POST /callback/job`: what attempt `attempt` of the callback must send, if anything.
#[derive(Debug, Serialize, Deserialize)]
pub struct CallbackJobQuery {
    pub attempt: u32,
}

/// Everything the queue consumer needs to make one callback attempt.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CallbackJob {
    Send {
        request_id: String,
        tenant: String,
        delivery_id: String,
        template: String,
        item: String,
        account: String,
        /// The body verbatim, and the status edgepay mirrors in `edgepay-result-status`.
        body: String,
        result_status: u16,
    },
    /// Nothing to send (already delivered, replaced by a newer attempt, or unknown).
    Skip { reason: String },
}

/// `POST /callback/report`: how attempt `attempt` went.
#[derive(Debug, Serialize, Deserialize)]
pub struct CallbackReport {
    pub attempt: u32,
    pub executed_ms: u64,
    #[serde(default)]
    pub http_response: Option<u16>,
    pub detail: String,
    pub outcome: crate::domain::callback_delivery::AttemptOutcome,
}

/// `POST /callback/log`, `/callback/replay`: for `tenant` only.
#[derive(Debug, Serialize, Deserialize)]
pub struct TenantQuery {
    pub tenant: String,
}

/// The delivery log, oldest first.
#[derive(Debug, Serialize, Deserialize)]
pub struct CallbackLogReply {
    pub has_callback: bool,
    pub entries: Vec<crate::domain::callback_delivery::AttemptLogEntry>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplayReply {
    Started,
    NotTerminal,
    NoCallback,
}

/// `POST /claim` on an idempotency-key object.
#[derive(Debug, Serialize, Deserialize)]
pub struct ClaimCommand {
    pub fingerprint: String,
    /// The request id to use if this is the key's first use.
    pub request_id: String,
    /// How long the claiming call will hold its caller (sizes the answering lease).
    pub hold_ms: u64,
}

/// `POST /settle` on an idempotency-key object: the first call for `request_id` has answered.
#[derive(Debug, Serialize, Deserialize)]
pub struct SettleCommand {
    pub request_id: String,
}
