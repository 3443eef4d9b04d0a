//! The payment-request Durable Object: one per lane, holding the payments of many subjects with their item locks; stores each record in SQLite, submits at once and retries from its alarm, and holds callers open until the result arrives.
//!
//! A payment's lane is written in its request id (`edgepay_core::payment::lane`), so one
//! object call takes the item lock, stores the payment and holds the caller, and every later
//! call finds it by id alone. Held callers park on a oneshot channel raced against a timer;
//! storing a terminal result wakes all of that payment's at once. Nothing depends on memory
//! surviving a restart: the records, the due times and the alarm are all in storage
//! (`objects/payment_store.rs`), and an alarm that fires after a restart resumes every
//! payment where its record says. An object made before lanes holds one payment, named by its
//! request id, and runs the same code over its old layout until that payment is purged.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use futures_channel::oneshot;
use futures_util::future::{join_all, select};
use futures_util::pin_mut;
use worker::{
    durable_object, js_sys, wasm_bindgen_futures, Delay, DurableObject, Env, Request, Response,
    State,
};

use crate::objects::client::{call, PAYMENT_HEADER, UNKNOWN_PAYMENT_HEADER};
use crate::objects::payment_store::{Layout, PaymentStore};
use crate::objects::serve::{serve, unknown_command};
use crate::runtime::backend_client;
use crate::runtime::callback_consumer;
use crate::runtime::env_config::{config, now_ms};
use crate::runtime::http_io::{json_response, OrInternal};
use crate::runtime::log;
use crate::runtime::payments_index;
use crate::runtime::usage;
use edgepay_core::backend::breaker::{self, Breaker, Gate};
use edgepay_core::backend::contract::BackendReply;
use edgepay_core::callback::delivery::{
    self, AttemptLogEntry, CallbackJob, CallbackMessage, Recorded, ReplayRefused,
};
use edgepay_core::callback::delivery_log::{self, PageQuery, PAGE_DEFAULT, PAGE_MAX};
use edgepay_core::http::api_error::ApiError;
use edgepay_core::ids::RequestId;
use edgepay_core::log_line::LogLine;
use edgepay_core::objects::commands::{
    Ack, CallbackLog, Command, ConfirmDeadLettered, CreatePayment, Created, DeliverResult,
    FetchCallbackJob, InjectFault, ProbeHolder, ReadCallbackLog, ReadStatus, ReleaseLock,
    ReplayCallback, ReplayReply, ReportCallback, ResultReply, SeedLegacyPayment,
};
use edgepay_core::payment::item_lock::{self, HolderProbe};
use edgepay_core::payment::request_record::{
    Applied, CallbackQueue, Replay, RequestRecord, RequestView, ResultOutcome,
};
use edgepay_core::time::rfc3339_millis;

thread_local! {
    /// One breaker per isolate, shared by every payment object it runs (`backend::breaker`).
    static BACKEND_BREAKER: RefCell<Breaker> = RefCell::new(Breaker::default());
}

/// How many due payments one alarm of a lane runs at once; the rest are due at once after.
const DUE_PER_ALARM: u32 = 64;

/// When a payment's due run failed, how long until it is tried again (the runtime's own alarm
/// retry serves an object of before lanes).
const DUE_RETRY_MS: u64 = 2_000;

#[durable_object]
pub struct PaymentRequest {
    /// Shared, so a payment's first submission can run on after the call that accepted it.
    this: Rc<RequestObject>,
}

/// The object's state and behaviour; `PaymentRequest` is the runtime's handle on it.
struct RequestObject {
    state: State,
    env: Env,
    /// Callers held open, each with its payment; all of a payment's are woken when it turns
    /// terminal. A lane holds a few hundred at most, so a list is enough.
    waiters: RefCell<Vec<(RequestId, oneshot::Sender<()>)>>,
    /// The payments, in this object's layout.
    store: PaymentStore,
}

impl RequestObject {
    fn load(&self, id: &RequestId) -> Result<Option<RequestRecord>, ApiError> {
        self.store.load(&self.state, id)
    }

    fn save(&self, record: &RequestRecord) -> Result<(), ApiError> {
        self.store.save(&self.state, record)
    }

    async fn schedule(&self, record: &RequestRecord) -> Result<(), ApiError> {
        let cfg = config(&self.env)?;
        let at = record.next_alarm_ms(now_ms(), &cfg.lifetimes);
        self.store
            .set_due(&self.state, record.request_id(), at)
            .await
    }

    fn wake_all(&self, id: &RequestId) {
        let held = std::mem::take(&mut *self.waiters.borrow_mut());
        let (woken, kept): (Vec<_>, Vec<_>) = held.into_iter().partition(|(of, _)| of == id);
        *self.waiters.borrow_mut() = kept;
        for (_, waiter) in woken {
            // A caller that already timed out dropped its receiver; nothing to do.
            let _ = waiter.send(());
        }
    }

    /// Parks the caller until payment `id` turns terminal or `wait_ms` passes.
    async fn hold(&self, id: &RequestId, wait_ms: u64) {
        if wait_ms == 0 {
            return;
        }
        let (tx, rx) = oneshot::channel();
        self.waiters.borrow_mut().push((id.clone(), tx));
        {
            let timer = Delay::from(Duration::from_millis(wait_ms));
            pin_mut!(timer);
            // Either outcome ends the hold; the caller then reads the stored state.
            let _ = select(rx, timer).await;
        }
        // This caller's sender (if it timed out) is now cancelled: forget it, and any other's.
        self.waiters
            .borrow_mut()
            .retain(|(_, waiter)| !waiter.is_canceled());
    }

    /// The request's view after holding the caller while it is not terminal.
    async fn hold_then_view(
        &self,
        record: RequestRecord,
        wait_ms: u64,
    ) -> Result<RequestView, ApiError> {
        let record = if record.state().is_terminal() {
            record
        } else {
            let id = record.request_id().clone();
            self.hold(&id, wait_ms).await;
            self.load(&id)?.unwrap_or(record)
        };
        Ok(record.view())
    }

    /// Accepts the payment in this lane unless another on its subject is in flight here, then
    /// starts its first submission and holds the caller.
    async fn create(self: &Rc<Self>, cmd: CreatePayment) -> Result<Created, ApiError> {
        if self.store.layout(&self.state)? != Layout::Lane {
            // An object of before lanes holds its one payment and never takes another.
            return Err(ApiError::Internal);
        }
        if let Some(existing) = self.load(&cmd.request_id)? {
            return self
                .hold_then_view(existing, cmd.wait_ms)
                .await
                .map(Created::Payment);
        }
        let lock = cmd.payment.lock_name();
        if let Some(holder) = self.store.open_holder(&self.state, &lock)? {
            return Ok(Created::InFlight { holder });
        }
        let cfg = config(&self.env)?;
        let now = now_ms();
        let mut record =
            RequestRecord::accept(cmd.request_id, cmd.payment, cmd.origin, now, &cfg.lifetimes)
                .with_lock_in_own_row();
        // Accepted and its first submission begun in one write, one commit for the POST to
        // wait for. The submission is started below, outside this call so it goes on if the
        // caller leaves; should this instance die first, the record's next submission is due
        // after the submission's timeout, and the alarm makes it.
        let submit = self.take_submission(&mut record)?;
        self.save(&record)?;
        log_transition(&record, "accepted");
        self.schedule(&record).await?;
        // Nothing awaits between the start below and the hold after it, so the caller is
        // parked before the submission can end and wake it.
        if submit {
            let this = Rc::clone(self);
            let first = record.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let id = first.request_id().clone();
                let run = async {
                    let record = this.send_submission(first).await?;
                    this.settle(record, false).await
                };
                if let Err(e) = run.await {
                    log::emit(
                        &LogLine::warn("first submission failed; the alarm resumes it")
                            .with("payment_id", id.as_str())
                            .with("detail", format!("{e:?}")),
                    );
                }
            });
        }
        self.hold_then_view(record, cmd.wait_ms)
            .await
            .map(Created::Payment)
    }

    async fn status(
        &self,
        id: &RequestId,
        query: ReadStatus,
    ) -> Result<Option<RequestView>, ApiError> {
        match self.load(id)? {
            Some(record) if record.visible_to(&query.tenant, query.owner.as_deref()) => {
                self.hold_then_view(record, query.wait_ms).await.map(Some)
            }
            _ => Ok(None),
        }
    }

    async fn deliver_result(
        &self,
        id: &RequestId,
        cmd: DeliverResult,
    ) -> Result<ResultReply, ApiError> {
        let Some(mut record) = self.load(id)? else {
            return Ok(ResultReply::NotFound);
        };
        let now = now_ms();
        if !self
            .store
            .remember_delivery(&self.state, id, &cmd.message_id, now)?
        {
            return Ok(ResultReply::Replayed);
        }
        let from = record.state();
        Ok(match record.deliver_result(cmd.result, now) {
            ResultOutcome::Stored => {
                self.save(&record)?;
                log_transition(&record, "result delivered");
                self.on_terminal(&mut record).await?;
                // The alarm writes the index row, after this reply to the backend.
                self.schedule(&record).await?;
                ResultReply::Stored { from }
            }
            ResultOutcome::AlreadyStored => ResultReply::AlreadyStored,
            ResultOutcome::Conflict => ResultReply::Conflict,
        })
    }

    /// Wakes every held caller, sends any callback that is due, then frees the item. The
    /// caller schedules what is due next (after its index write, if it makes one).
    async fn on_terminal(&self, record: &mut RequestRecord) -> Result<(), ApiError> {
        self.wake_all(record.request_id());
        self.pump_callback(record).await?;
        if !record.lock_released() && self.release_lock(record).await? {
            // Marked on the record as stored now: a callback report may have changed it while
            // the lock answered, and saving the older copy would undo that.
            if let Some(mut current) = self.load(record.request_id())? {
                current.mark_lock_released();
                self.save(&current)?;
                *record = current;
            }
        }
        Ok(())
    }

    /// Puts the due callback attempt (or an exhausted delivery's dead letter) on its queue.
    /// The record is the outbox: it is marked sent before sending, and if the send fails or the
    /// message is lost, the confirm deadline sends it again, without a busy loop.
    async fn pump_callback(&self, record: &mut RequestRecord) -> Result<(), ApiError> {
        let now = now_ms();
        let cfg = config(&self.env)?;
        let Some((queue, attempt)) = record.take_due_callback(now, &cfg.callbacks) else {
            return Ok(());
        };
        let binding = match queue {
            CallbackQueue::Attempts => callback_consumer::CALLBACKS_QUEUE_BINDING,
            CallbackQueue::DeadLetters => callback_consumer::DEAD_LETTER_QUEUE_BINDING,
        };
        self.save(record)?;
        let message = CallbackMessage {
            v: CallbackMessage::VERSION,
            request_id: record.request_id().to_string(),
            attempt,
        };
        usage::count(|u| u.queue_sends += 1);
        if let Err(e) = async { self.env.queue(binding)?.send(message).await }.await {
            log::emit(
                &LogLine::warn("enqueue failed")
                    .with("queue", binding)
                    .with("payment_id", record.request_id())
                    .with("detail", e.to_string()),
            );
        }
        Ok(())
    }

    fn callback_job(
        &self,
        id: &RequestId,
        query: FetchCallbackJob,
    ) -> Result<CallbackJob, ApiError> {
        Ok(match self.load(id)? {
            Some(record) => record.callback_job(query.attempt),
            None => CallbackJob::skip("no such request"),
        })
    }

    async fn callback_report(
        &self,
        id: &RequestId,
        report: ReportCallback,
    ) -> Result<Ack, ApiError> {
        let Some(mut record) = self.load(id)? else {
            return Ok(Ack {});
        };
        let cfg = config(&self.env)?;
        self.store.log_attempt(
            &self.state,
            id,
            report.attempt,
            report.executed_ms,
            report.http_response,
            &report.detail,
        )?;
        let now = now_ms();
        let recorded = record.record_callback(
            report.attempt,
            &report.outcome,
            now,
            &cfg.callbacks,
            js_sys::Math::random(),
        );
        let Some(recorded) = recorded.filter(|r| *r != Recorded::Stale) else {
            return Ok(Ack {});
        };
        log_callback(&record, &format!("{recorded:?}"), report.attempt);
        self.save(&record)?;
        self.pump_callback(&mut record).await?;
        self.schedule(&record).await?;
        Ok(Ack {})
    }

    /// The dead-letter consumer saw this request's message: the log records the exhaustion, once.
    async fn callback_dead_lettered(&self, id: &RequestId) -> Result<Ack, ApiError> {
        let Some(mut record) = self.load(id)? else {
            return Ok(Ack {});
        };
        if let Some(attempts) = record.confirm_dead_lettered() {
            self.store.log_attempt(
                &self.state,
                id,
                attempts,
                now_ms(),
                None,
                "exhausted: every scheduled attempt failed; dead-lettered",
            )?;
            log_callback(&record, "dead-lettered", attempts);
            self.save(&record)?;
            self.schedule(&record).await?;
        }
        Ok(Ack {})
    }

    fn callback_log(
        &self,
        id: &RequestId,
        query: ReadCallbackLog,
    ) -> Result<Option<CallbackLog>, ApiError> {
        let Some(record) = self.load(id)?.filter(|r| r.tenant() == query.tenant) else {
            return Ok(None);
        };
        let page = PageQuery {
            limit: query
                .limit
                .and_then(|l| usize::try_from(l).ok())
                .unwrap_or(PAGE_DEFAULT)
                .clamp(1, PAGE_MAX),
            after: query.after,
        };
        // One more than the page, to know whether another follows.
        let stored = self
            .store
            .attempts(&self.state, id, page.after.unwrap_or(0), page.limit + 1)?
            .into_iter()
            .map(|r| {
                let status = r.http_response.map(|s| s as u16);
                let entry = AttemptLogEntry {
                    executed_utc: rfc3339_millis(r.executed_ms as u64),
                    http_response: status,
                    outcome: delivery::outcome(status, &r.detail),
                    detail: r.detail,
                    attempt: r.attempt as u32,
                    dropped: None,
                };
                (r.seq as u64, entry)
            })
            .collect();
        let gap = self.store.log_gap(&self.state, id)?;
        let page = delivery_log::page(stored, gap, &page);
        Ok(Some(CallbackLog {
            has_callback: record.has_callback(),
            entries: page.entries,
            next_after: page.next_after,
        }))
    }

    async fn callback_replay(
        &self,
        id: &RequestId,
        query: ReplayCallback,
    ) -> Result<Option<ReplayReply>, ApiError> {
        let Some(mut record) = self.load(id)?.filter(|r| r.tenant() == query.tenant) else {
            return Ok(None);
        };
        let now = now_ms();
        match record.replay_callback(now) {
            Replay::NoCallback => return Ok(Some(ReplayReply::NoCallback)),
            Replay::NotTerminal => return Ok(Some(ReplayReply::NotTerminal)),
            Replay::Refused(ReplayRefused::InFlight {
                attempts,
                next_due_ms,
            }) => {
                return Ok(Some(ReplayReply::InFlight {
                    attempts,
                    next_due_ms,
                }))
            }
            Replay::Refused(ReplayRefused::TooMany { retry_at_ms }) => {
                let retry_after_secs = retry_at_ms.saturating_sub(now).div_ceil(1000).max(1);
                return Ok(Some(ReplayReply::TooMany { retry_after_secs }));
            }
            Replay::Started => {}
        }
        log_callback(&record, "replay", 0);
        self.save(&record)?;
        self.pump_callback(&mut record).await?;
        self.schedule(&record).await?;
        Ok(Some(ReplayReply::Started))
    }

    /// Frees the payment's item. In a lane the lock is the payment's own row, free once it is
    /// terminal; a payment of before lanes tells its lock shard. `false` if the shard could not
    /// be told (the client logs it; the next run tries again).
    async fn release_lock(&self, record: &RequestRecord) -> Result<bool, ApiError> {
        if self.store.layout(&self.state)? == Layout::Lane {
            return Ok(true);
        }
        let release = ReleaseLock {
            lock: record.lock_name().to_owned(),
            request_id: record.request_id().to_owned(),
        };
        let shard = item_lock::shard_object(record.tenant(), record.lock_name());
        Ok(call(&self.env, &shard, &release).await.is_ok())
    }

    /// Takes the payment's due submission if the breaker lets it through: counted as begun
    /// (`true`), or held back without spending a try (`false`). The caller stores the record.
    fn take_submission(&self, record: &mut RequestRecord) -> Result<bool, ApiError> {
        let cfg = config(&self.env)?;
        let policy = cfg.dispatch.breaker;
        Ok(
            match BACKEND_BREAKER.with(|b| b.borrow_mut().gate(now_ms(), &policy)) {
                Gate::Submit => {
                    record.begin_submission(now_ms(), &cfg.dispatch);
                    true
                }
                Gate::WaitUntil(until) => {
                    // The backend is down: wait, and come back spread over one cool-down.
                    record.defer_dispatch(until, policy.open_ms);
                    false
                }
            },
        )
    }

    /// Sends a submission already stored as begun, then applies the reply to the freshly
    /// reloaded record (a result may have arrived on the async path meanwhile).
    async fn send_submission(&self, record: RequestRecord) -> Result<RequestRecord, ApiError> {
        let cfg = config(&self.env)?;
        let reply = backend_client::submit(&cfg, &record, now_ms()).await;
        let answered = !matches!(reply, BackendReply::Transient(_));
        let policy = cfg.dispatch.breaker;
        let change = BACKEND_BREAKER.with(|b| b.borrow_mut().record(answered, now_ms(), &policy));
        if let Some(change) = change {
            log::emit(&match change {
                breaker::Change::Opened => LogLine::warn("backend breaker opened")
                    .with("after_failures", policy.trip_after)
                    .with("cool_down_ms", policy.open_ms),
                breaker::Change::Closed => LogLine::info("backend breaker closed"),
            });
        }
        let mut current = self.load(record.request_id())?.unwrap_or(record);
        let applied = current.apply_reply(reply, now_ms(), &cfg.dispatch);
        if applied != Applied::Ignored {
            self.save(&current)?;
            log_transition(&current, &format!("{applied:?}"));
        }
        Ok(current)
    }

    /// Whatever payment `id` is due to do now: submit, expire, purge, call back, index.
    async fn run_payment(&self, id: &RequestId) -> Result<(), ApiError> {
        let Some(mut record) = self.load(id)? else {
            // Purged (or never stored): nothing is due for it any more.
            return self.store.drop_rows(&self.state, id);
        };
        // Only a payment already terminal before this run may be deleted in it: one that ends
        // now still has callers to wake, who read it after this run.
        let may_purge = record.state().is_terminal();
        if record.dispatch_due(now_ms()) {
            let submit = self.take_submission(&mut record)?;
            self.save(&record)?;
            if submit {
                self.schedule(&record).await?;
                record = self.send_submission(record).await?;
            }
        }
        self.settle(record, may_purge).await
    }

    /// Everything after a payment's submission (if one was due): expire, purge (if it `may`),
    /// wake and call back, index, and its next due time.
    async fn settle(&self, mut record: RequestRecord, may_purge: bool) -> Result<(), ApiError> {
        let cfg = config(&self.env)?;
        let id = &record.request_id().clone();
        if record.expire_if_due(now_ms()) {
            self.save(&record)?;
            log_transition(&record, "expired");
        }
        if may_purge && record.purgeable(now_ms(), &cfg.lifetimes) {
            // The index row goes first: a record is never deleted while the index still shows it.
            let tenant = record.tenant().to_owned();
            if let Err(why) = payments_index::remove(&self.env, &cfg, &tenant, id.as_str()).await {
                // Noted on the record as stored now (a replay may have changed it meanwhile).
                let mut current = self.load(id)?.unwrap_or(record);
                log_index_failure(&current, &why);
                current.index_failed(now_ms());
                self.save(&current)?;
                return self.schedule(&current).await;
            }
            // A call that came in while D1 answered (a replay) may have made it worth keeping:
            // then it stays, and its row is written again.
            if let Some(mut current) = self
                .load(id)?
                .filter(|r| !r.purgeable(now_ms(), &cfg.lifetimes))
            {
                current.index_removed();
                self.save(&current)?;
                return self.schedule(&current).await;
            }
            return self.store.purge(&self.state, id).await;
        }
        if record.state().is_terminal() {
            self.on_terminal(&mut record).await?;
        }
        // Last, after every caller this run may have woken: nobody waits for the index.
        self.write_index(&mut record).await?;
        self.schedule(&record).await
    }

    /// The object's alarm: the one payment of an object of before lanes (an error makes the
    /// runtime retry), or every payment of the lane that is due, at once.
    async fn run_alarm(&self) -> Result<(), ApiError> {
        self.store.alarm_fired();
        if self.store.layout(&self.state)? == Layout::Single {
            return match self.store.single_record(&self.state)? {
                Some(record) => self.run_payment(record.request_id()).await,
                None => Ok(()),
            };
        }
        let mut due = Vec::new();
        for raw in self.store.due_now(&self.state, now_ms(), DUE_PER_ALARM)? {
            match RequestId::parse(&raw) {
                Some(id) => due.push(id),
                None => {
                    log::emit(&LogLine::error("corrupt due row dropped").with("payment_id", &raw));
                    self.store.drop_rows_of(&self.state, &raw)?;
                }
            }
        }
        join_all(due.into_iter().map(|id| async move {
            if let Err(e) = self.run_payment(&id).await {
                log::emit(
                    &LogLine::warn("payment run failed; it is tried again")
                        .with("payment_id", id.as_str())
                        .with("detail", format!("{e:?}")),
                );
                let again = now_ms().saturating_add(DUE_RETRY_MS);
                if let Err(e) = self.store.set_due(&self.state, &id, again).await {
                    log::emit(
                        &LogLine::error("could not reschedule a payment")
                            .with("payment_id", id.as_str())
                            .with("detail", format!("{e:?}")),
                    );
                }
            }
        }))
        .await;
        self.store.rearm_after_alarm(&self.state, now_ms()).await
    }

    /// Writes the record's row to the payments index when the index lacks it. A failure (D1
    /// down) fails nothing: the alarm tries again later each time, until the index has it.
    ///
    /// Other calls (a backend result, a callback report) may change the record while D1
    /// answers, so the outcome is noted on the record as stored now, never on the copy that
    /// was written: `record` becomes that current copy. If it changed meanwhile, its row is
    /// still due and the alarm writes it next.
    async fn write_index(&self, record: &mut RequestRecord) -> Result<(), ApiError> {
        if !record.index_due() {
            return Ok(());
        }
        let cfg = config(&self.env)?;
        let row = record.index_row();
        let written = payments_index::write(&self.env, &cfg, &row).await;
        let Some(mut current) = self.load(record.request_id())? else {
            return Ok(());
        };
        match written {
            Ok(()) => current.index_written(row.digest()),
            Err(why) => {
                log_index_failure(&current, &why);
                current.index_failed(now_ms());
            }
        }
        self.save(&current)?;
        *record = current;
        Ok(())
    }

    /// Test-only (`FAULT_INJECTION`, checked again here): do `fault` to this object.
    async fn inject_fault(&self, fault: InjectFault) -> Result<Response, ApiError> {
        if !config(&self.env)?.fault_injection {
            return Err(unknown_command());
        }
        match fault {
            InjectFault::Panic => {
                #[allow(clippy::panic)]
                {
                    panic!("fault injection: panic in a payment-request object");
                }
            }
            InjectFault::Reset => {
                // An `Err` from `blockConcurrencyWhile` makes the runtime reset the object,
                // breaking every call in flight to it.
                let _ = self
                    .state
                    .block_concurrency_while(async {
                        Err::<(), _>(worker::Error::RustError("fault injection: reset".into()))
                    })
                    .await;
                json_response(200, &serde_json::json!({"reset": true}))
            }
        }
    }

    /// Test-only (`FAULT_INJECTION`): this object becomes one of before lanes holding the
    /// payment, due at once, so the upgrade path runs against the real runtime.
    async fn seed_legacy(&self, cmd: SeedLegacyPayment) -> Result<Ack, ApiError> {
        let cfg = config(&self.env)?;
        if !cfg.fault_injection {
            return Err(unknown_command());
        }
        let record = RequestRecord::accept(
            cmd.request_id,
            cmd.payment,
            String::new(),
            now_ms(),
            &cfg.lifetimes,
        );
        self.store.seed_single(&self.state, &record)?;
        self.schedule(&record).await?;
        Ok(Ack {})
    }

    fn probe(&self, id: &RequestId) -> Result<HolderProbe, ApiError> {
        let record = self.load(id)?;
        Ok(HolderProbe {
            exists: record.is_some(),
            terminal: record.is_some_and(|r| r.state().is_terminal()),
        })
    }

    async fn route(self: &Rc<Self>, mut req: Request) -> Result<Response, ApiError> {
        let body = req.text().await.or_internal()?;
        let path = req.path();
        if path == CreatePayment::PATH {
            return serve(&body, |c| async move { self.create(c).await.map(Some) }).await;
        }
        if path == SeedLegacyPayment::PATH {
            return serve(
                &body,
                |c| async move { self.seed_legacy(c).await.map(Some) },
            )
            .await;
        }
        // Every other command is about a payment this object must hold.
        let id = req
            .headers()
            .get(PAYMENT_HEADER)
            .ok()
            .flatten()
            .and_then(|raw| RequestId::parse(&raw))
            .ok_or(ApiError::Internal)?;
        if !self.store.holds(&self.state, &id)? {
            return unknown_payment();
        }
        let id = &id;
        match path.as_str() {
            ReadStatus::PATH => serve(&body, |c| self.status(id, c)).await,
            DeliverResult::PATH => {
                serve(&body, |c| async move {
                    self.deliver_result(id, c).await.map(Some)
                })
                .await
            }
            ProbeHolder::PATH => {
                serve(
                    &body,
                    |_: ProbeHolder| async move { self.probe(id).map(Some) },
                )
                .await
            }
            FetchCallbackJob::PATH => {
                serve(&body, |c| async move { self.callback_job(id, c).map(Some) }).await
            }
            ReportCallback::PATH => {
                serve(&body, |c| async move {
                    self.callback_report(id, c).await.map(Some)
                })
                .await
            }
            ConfirmDeadLettered::PATH => {
                serve(&body, |_: ConfirmDeadLettered| async move {
                    self.callback_dead_lettered(id).await.map(Some)
                })
                .await
            }
            ReadCallbackLog::PATH => {
                serve(&body, |c| async move { self.callback_log(id, c) }).await
            }
            ReplayCallback::PATH => serve(&body, |c| self.callback_replay(id, c)).await,
            InjectFault::PATH => {
                let fault: InjectFault =
                    serde_json::from_str(&body).map_err(|_| ApiError::Internal)?;
                self.inject_fault(fault).await
            }
            _ => Err(unknown_command()),
        }
    }
}

/// The `404` of an object that does not hold the payment asked about (`client::call_payment`
/// then asks the object where a payment of before lanes would live).
fn unknown_payment() -> Result<Response, ApiError> {
    let mut resp = json_response(404, &serde_json::json!({"detail": "no such payment here"}))?;
    resp.headers_mut()
        .set(UNKNOWN_PAYMENT_HEADER, "1")
        .or_internal()?;
    Ok(resp)
}

fn log_callback(record: &RequestRecord, event: &str, attempt: u32) {
    log::emit(
        &LogLine::info("callback")
            .with("payment_id", record.request_id())
            .with("tenant", record.tenant())
            .with("event", event)
            .with("attempt", attempt),
    );
}

fn log_index_failure(record: &RequestRecord, why: &str) {
    log::emit(
        &LogLine::warn("payments index write failed; the alarm tries again")
            .with("payment_id", record.request_id())
            .with("tenant", record.tenant())
            .with("detail", why),
    );
}

fn log_transition(record: &RequestRecord, event: &str) {
    log::emit(
        &LogLine::info("state transition")
            .with("payment_id", record.request_id())
            .with("tenant", record.tenant())
            .with("dialect", record.dialect().as_str())
            .with("state", record.state().as_str())
            .with("event", event)
            .with("submission_count", record.submission_count()),
    );
}

impl DurableObject for PaymentRequest {
    fn new(state: State, env: Env) -> Self {
        Self {
            this: Rc::new(RequestObject {
                state,
                env,
                waiters: RefCell::new(Vec::new()),
                store: PaymentStore::default(),
            }),
        }
    }

    async fn fetch(&self, req: Request) -> worker::Result<Response> {
        match self.this.route(req).await {
            Ok(resp) => Ok(resp),
            Err(e) => crate::runtime::http_io::problem_response(&e, "payment-request"),
        }
    }

    async fn alarm(&self) -> worker::Result<Response> {
        usage::count(|u| u.object_requests += 1);
        if let Err(e) = self.this.run_alarm().await {
            // Returning an error makes the runtime retry the alarm, which is what we want.
            return Err(worker::Error::RustError(format!("alarm failed: {e:?}")));
        }
        Response::ok("")
    }
}
