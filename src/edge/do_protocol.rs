//! Messages between the edge and the Durable Objects (JSON over the stub's `fetch`).

use serde::{Deserialize, Serialize};

use crate::domain::payment::NewPayment;
use crate::domain::request_record::StoredResult;

/// `POST /create` on a payment-request object: store, dispatch, hold the caller up to `wait_ms`.
#[derive(Debug, Serialize, Deserialize)]
pub struct CreateCommand {
    pub request_id: String,
    pub payment: NewPayment,
    pub wait_ms: u64,
}

/// `POST /status`: the request's view, for `tenant` only, after holding up to `wait_ms`.
#[derive(Debug, Serialize, Deserialize)]
pub struct StatusQuery {
    pub tenant: String,
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
    Stored,
    AlreadyStored,
    Replayed,
    Conflict,
    NotFound,
}
