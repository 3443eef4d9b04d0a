//! Every command the Worker sends a Durable Object, and every object's reply, as types.
//!
//! A command names its object, its path and its reply type in one place (the [`Command`]
//! impl), so the sender (`call::<C>` in the Worker's `objects/client.rs`) and the object's
//! router (which matches on `C::PATH`) cannot disagree. On the wire each is a JSON POST.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::callback::delivery::{AttemptLogEntry, AttemptOutcome, CallbackJob};
use crate::ids::RequestId;
use crate::payment::idempotency::Claim;
use crate::payment::item_lock::HolderProbe;
use crate::payment::new_payment::NewPayment;
use crate::payment::request_record::{RequestView, StoredResult};
use crate::payment::request_state::RequestState;

/// The three object classes, by their `wrangler.toml` binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Object {
    /// One per lane (`payment::lane`): the payments of many subjects, each with its record, its
    /// held callers, its callback outbox and its item lock. A payment accepted before lanes
    /// lives alone in an object of this class named by its request id.
    PaymentRequest,
    /// The item locks of before lanes, one shard per (tenant, subject hash): asked only during
    /// the upgrade window (`LEGACY_ITEM_LOCKS_UNTIL`).
    ItemLock,
    /// One per (tenant, owner, `Idempotency-Key`).
    IdempotencyKey,
}

impl Object {
    pub fn binding(self) -> &'static str {
        match self {
            Object::PaymentRequest => "PAYMENT_REQUEST",
            Object::ItemLock => "ITEM_LOCK",
            Object::IdempotencyKey => "IDEMPOTENCY",
        }
    }
}

/// A command: sent to `OBJECT` at `PATH`, answered with `Reply` (or `404` for "no such request").
pub trait Command: Serialize + DeserializeOwned {
    const OBJECT: Object;
    const PATH: &'static str;
    type Reply: Serialize + DeserializeOwned;

    /// How long the object may hold the caller before answering (the call's deadline grows by it).
    fn hold_ms(&self) -> u64 {
        0
    }
}

macro_rules! command {
    ($command:ty, $object:ident, $path:literal, $reply:ty) => {
        impl Command for $command {
            const OBJECT: Object = Object::$object;
            const PATH: &'static str = $path;
            type Reply = $reply;
        }
    };
    ($command:ty, $object:ident, $path:literal, $reply:ty, hold = $hold:ident) => {
        impl Command for $command {
            const OBJECT: Object = Object::$object;
            const PATH: &'static str = $path;
            type Reply = $reply;
            fn hold_ms(&self) -> u64 {
                self.$hold
            }
        }
    };
}

/// An empty acknowledgement.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {}

// ---- the payment-request object ----
//
// Every command here is about one payment, whose request id travels beside the command
// (`objects/client.rs::call_payment`): a lane holds many.

/// Store, dispatch, and hold the caller up to `wait_ms`, unless another payment on the same
/// subject is in flight.
#[derive(Debug, Serialize, Deserialize)]
pub struct CreatePayment {
    pub request_id: RequestId,
    pub payment: NewPayment,
    pub wait_ms: u64,
    /// The origin the client called, for absolute links in callbacks.
    pub origin: String,
}

/// What a create did.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Created {
    /// The payment, new or (the same request id again) found, after holding the caller.
    Payment(RequestView),
    /// Another payment on the same subject is in flight: the `409`.
    InFlight { holder: String },
}
command!(
    CreatePayment,
    PaymentRequest,
    "/create",
    Created,
    hold = wait_ms
);

/// The request's view, for `tenant` only (and a client token's `owner` only), after holding up
/// to `wait_ms`.
#[derive(Debug, Serialize, Deserialize)]
pub struct ReadStatus {
    pub tenant: String,
    #[serde(default)]
    pub owner: Option<String>,
    pub wait_ms: u64,
}
command!(
    ReadStatus,
    PaymentRequest,
    "/status",
    RequestView,
    hold = wait_ms
);

/// A verified asynchronous result from the backend.
#[derive(Debug, Serialize, Deserialize)]
pub struct DeliverResult {
    pub message_id: String,
    pub result: StoredResult,
}

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
command!(DeliverResult, PaymentRequest, "/result", ResultReply);

/// Whether the request exists and is terminal (the old item locks heal stale holders with it,
/// and a repeated `Idempotency-Key` finds its request with it).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ProbeHolder {}
command!(ProbeHolder, PaymentRequest, "/probe", HolderProbe);

/// What attempt `attempt` of the callback must send, if anything.
#[derive(Debug, Serialize, Deserialize)]
pub struct FetchCallbackJob {
    pub attempt: u32,
}
command!(
    FetchCallbackJob,
    PaymentRequest,
    "/callback/job",
    CallbackJob
);

/// How attempt `attempt` went.
#[derive(Debug, Serialize, Deserialize)]
pub struct ReportCallback {
    pub attempt: u32,
    pub executed_ms: u64,
    #[serde(default)]
    pub http_response: Option<u16>,
    pub detail: String,
    pub outcome: AttemptOutcome,
}
command!(ReportCallback, PaymentRequest, "/callback/report", Ack);

/// The dead-letter consumer saw this request's message.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ConfirmDeadLettered {}
command!(
    ConfirmDeadLettered,
    PaymentRequest,
    "/callback/dead-lettered",
    Ack
);

/// A page of the delivery log, for `tenant` only (`callback::delivery_log`).
#[derive(Debug, Serialize, Deserialize)]
pub struct ReadCallbackLog {
    pub tenant: String,
    /// Entries at most (`PAGE_DEFAULT` when absent, as from an edge of before pages).
    #[serde(default)]
    pub limit: Option<u32>,
    /// Only entries after this position.
    #[serde(default)]
    pub after: Option<u64>,
}

/// A page of the delivery log, oldest first.
#[derive(Debug, Serialize, Deserialize)]
pub struct CallbackLog {
    pub has_callback: bool,
    pub entries: Vec<AttemptLogEntry>,
    /// The cursor of the next page, when there is more.
    #[serde(default)]
    pub next_after: Option<u64>,
}
command!(
    ReadCallbackLog,
    PaymentRequest,
    "/callback/log",
    CallbackLog
);

/// Deliver the callback again, for `tenant` only.
#[derive(Debug, Serialize, Deserialize)]
pub struct ReplayCallback {
    pub tenant: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplayReply {
    Started,
    NotTerminal,
    NoCallback,
    /// The previous replay's delivery is still pending: `attempts` made so far, and when the
    /// next is due (`None` while one is on its way).
    InFlight {
        attempts: u32,
        next_due_ms: Option<u64>,
    },
    /// The replays allowed per payment per window are spent: the next is allowed in
    /// `retry_after_secs`.
    TooMany {
        retry_after_secs: u64,
    },
}
command!(
    ReplayCallback,
    PaymentRequest,
    "/callback/replay",
    ReplayReply
);

/// Test-only (`FAULT_INJECTION`): what the object is asked to do to itself.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InjectFault {
    Panic,
    Reset,
}
command!(InjectFault, PaymentRequest, "/fault", Ack);

/// Test-only (`FAULT_INJECTION`): store `payment` as an upgrade finds a payment of before lanes,
/// alone in the object named by its id, in the one-payment layout, due for its first submission.
#[derive(Debug, Serialize, Deserialize)]
pub struct SeedLegacyPayment {
    pub request_id: RequestId,
    pub payment: NewPayment,
}
command!(SeedLegacyPayment, PaymentRequest, "/fault/seed-legacy", Ack);

// ---- the item-lock object ----

/// Asked of the old shard only during the upgrade window, before a lane grants a subject.
#[derive(Debug, Serialize, Deserialize)]
pub struct AcquireLock {
    /// The lock's name (`NewPayment::lock_name`); its shard object is `item_lock::shard_object`.
    pub lock: String,
    pub request_id: RequestId,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct LockReply {
    pub acquired: bool,
    pub holder: String,
}
command!(AcquireLock, ItemLock, "/acquire", LockReply);

/// Only the holder's release frees the lock.
#[derive(Debug, Serialize, Deserialize)]
pub struct ReleaseLock {
    pub lock: String,
    pub request_id: RequestId,
}
command!(ReleaseLock, ItemLock, "/release", Ack);

/// Asks a lock object of before the shards (one per subject, named by the lock) whether a
/// request still holds it: asked during the upgrade window (`LEGACY_ITEM_LOCKS_UNTIL`) only.
#[derive(Debug, Serialize, Deserialize)]
pub struct PeekLegacyLock {}

#[derive(Debug, Serialize, Deserialize)]
pub struct LegacyHolder {
    /// The request that holds it and still needs it; `None` when free or stale.
    pub holder: Option<String>,
}
command!(PeekLegacyLock, ItemLock, "/peek-legacy", LegacyHolder);

// ---- the idempotency-key object ----

#[derive(Debug, Serialize, Deserialize)]
pub struct ClaimKey {
    pub fingerprint: String,
    /// The request id to use if this is the key's first use.
    pub request_id: RequestId,
    /// How long the claiming call will hold its caller (sizes the answering lease).
    pub hold_ms: u64,
}
command!(ClaimKey, IdempotencyKey, "/claim", Claim);

/// The first call for `request_id` has answered: its answering lease is given back.
#[derive(Debug, Serialize, Deserialize)]
pub struct SettleKey {
    pub request_id: RequestId,
}
command!(SettleKey, IdempotencyKey, "/settle", bool);

#[cfg(test)]
mod tests {
    use super::*;

    fn route<C: Command>() -> (&'static str, &'static str) {
        (C::OBJECT.binding(), C::PATH)
    }

    #[test]
    fn no_two_commands_of_an_object_share_a_path() {
        let all = [
            route::<CreatePayment>(),
            route::<ReadStatus>(),
            route::<DeliverResult>(),
            route::<ProbeHolder>(),
            route::<FetchCallbackJob>(),
            route::<ReportCallback>(),
            route::<ConfirmDeadLettered>(),
            route::<ReadCallbackLog>(),
            route::<ReplayCallback>(),
            route::<InjectFault>(),
            route::<SeedLegacyPayment>(),
            route::<AcquireLock>(),
            route::<ReleaseLock>(),
            route::<PeekLegacyLock>(),
            route::<ClaimKey>(),
            route::<SettleKey>(),
        ];
        for (i, a) in all.iter().enumerate() {
            for b in all.iter().skip(i + 1) {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn holding_commands_say_how_long() {
        let status = ReadStatus {
            tenant: "t".into(),
            owner: None,
            wait_ms: 7_000,
        };
        assert_eq!(status.hold_ms(), 7_000);
        assert_eq!(ProbeHolder {}.hold_ms(), 0);
    }
}
