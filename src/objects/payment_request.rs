//! The payment-request Durable Object: one per request id; stores the record in SQLite, submits
//! at once and retries from its alarm, and holds callers open until the result arrives.
//!
//! Held callers park on a oneshot channel raced against a timer; storing a
//! terminal result wakes them all at once. Nothing depends on memory surviving
//! a restart: the record, the due times and the alarm are all in storage, and
//! an alarm that fires after a restart resumes where the record says.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use futures_channel::oneshot;
use futures_util::future::select;
use futures_util::pin_mut;
use serde::Deserialize;
use worker::{
    durable_object, js_sys, wasm_bindgen_futures, Delay, DurableObject, Env, Request, Response,
    SqlStorageValue, State,
};

use crate::objects::client::call;
use crate::objects::serve::{serve, unknown_command};
use crate::objects::storage::{self, sql, DocTable};
use crate::runtime::backend_client;
use crate::runtime::callback_consumer;
use crate::runtime::env_config::{config, now_ms};
use crate::runtime::http_io::{json_response, OrInternal};
use crate::runtime::log;
use crate::runtime::payments_index;
use edgepay_core::backend::breaker::{self, Breaker, Gate};
use edgepay_core::backend::contract::BackendReply;
use edgepay_core::callback::delivery::{AttemptLogEntry, CallbackJob, CallbackMessage, Recorded};
use edgepay_core::http::api_error::ApiError;
use edgepay_core::log_line::LogLine;
use edgepay_core::objects::commands::{
    Ack, CallbackLog, Command, ConfirmDeadLettered, CreatePayment, DeliverResult, FetchCallbackJob,
    InjectFault, ProbeHolder, ReadCallbackLog, ReadStatus, ReleaseLock, ReplayCallback,
    ReplayReply, ReportCallback, ResultReply,
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

/// Accepted result deliveries are remembered this long to refuse replays; older ones are stale anyway.
const SEEN_DELIVERY_TTL_MS: u64 = 15 * 60 * 1000;

/// How long after accepting a payment the alarm looks again, should this instance die before
/// its first submission (run at once, in the object) was stored as begun.
const FIRST_SUBMISSION_SAFETY_NET_MS: u64 = 1_000;

#[durable_object]
pub struct PaymentRequest {
    /// Shared, so the first submission can run on after the call that accepted the payment.
    this: Rc<RequestObject>,
}

/// The object's state and behaviour; `PaymentRequest` is the runtime's handle on it.
struct RequestObject {
    state: State,
    env: Env,
    /// Callers held open on this request; all are woken when it turns terminal.
    waiters: RefCell<Vec<oneshot::Sender<()>>>,
    /// The request record (one JSON document).
    record: DocTable,
    /// This instance created the log tables (once, not per call).
    schema_ready: Cell<bool>,
}

#[derive(Deserialize)]
struct CountRow {
    n: f64,
}

impl RequestObject {
    fn ensure_schema(&self) -> Result<(), ApiError> {
        if self.schema_ready.get() {
            return Ok(());
        }
        sql(
            &self.state,
            "CREATE TABLE IF NOT EXISTS seen_delivery (message_id TEXT PRIMARY KEY, seen_ms INTEGER NOT NULL)",
            vec![],
        )?;
        sql(
            &self.state,
            "CREATE TABLE IF NOT EXISTS callback_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, attempt INTEGER NOT NULL, \
             executed_ms INTEGER NOT NULL, http_response INTEGER, detail TEXT NOT NULL)",
            vec![],
        )?;
        self.schema_ready.set(true);
        Ok(())
    }

    /// The stored record; `None` for an object that was never created (reading stores nothing).
    fn load(&self) -> Result<Option<RequestRecord>, ApiError> {
        self.record.read(&self.state)
    }

    fn save(&self, record: &RequestRecord) -> Result<(), ApiError> {
        self.record.write(&self.state, record)
    }

    async fn schedule_alarm(&self, record: &RequestRecord) -> Result<(), ApiError> {
        let cfg = config(&self.env)?;
        let at = record.next_alarm_ms(now_ms(), &cfg.lifetimes);
        storage::set_alarm_at(&self.state, at).await
    }

    fn wake_all(&self) {
        for waiter in self.waiters.borrow_mut().drain(..) {
            // A caller that already timed out dropped its receiver; nothing to do.
            let _ = waiter.send(());
        }
    }

    /// Parks the caller until the request turns terminal or `wait_ms` passes.
    async fn hold(&self, wait_ms: u64) {
        if wait_ms == 0 {
            return;
        }
        let (tx, rx) = oneshot::channel();
        {
            let mut waiters = self.waiters.borrow_mut();
            waiters.retain(|w| !w.is_canceled());
            waiters.push(tx);
        }
        let timer = Delay::from(Duration::from_millis(wait_ms));
        pin_mut!(timer);
        // Either outcome ends the hold; the caller then reads the stored state.
        let _ = select(rx, timer).await;
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
            self.hold(wait_ms).await;
            self.load()?.unwrap_or(record)
        };
        Ok(record.view())
    }

    async fn create(self: &Rc<Self>, cmd: CreatePayment) -> Result<RequestView, ApiError> {
        self.ensure_schema()?;
        if let Some(existing) = self.load()? {
            return self.hold_then_view(existing, cmd.wait_ms).await;
        }
        let cfg = config(&self.env)?;
        let now = now_ms();
        let record =
            RequestRecord::accept(cmd.request_id, cmd.payment, cmd.origin, now, &cfg.lifetimes);
        self.save(&record)?;
        log_transition(&record, "accepted");
        // The first submission starts now, in this object but outside this call, so it goes on
        // if the caller leaves; the alarm is the safety net should this instance die first.
        storage::set_alarm_at(
            &self.state,
            now.saturating_add(FIRST_SUBMISSION_SAFETY_NET_MS),
        )
        .await?;
        let this = Rc::clone(self);
        let payment_id = record.request_id().to_string();
        wasm_bindgen_futures::spawn_local(async move {
            if let Err(e) = this.run_alarm().await {
                log::emit(
                    &LogLine::warn("first submission failed; the alarm resumes it")
                        .with("payment_id", &payment_id)
                        .with("detail", format!("{e:?}")),
                );
            }
        });
        self.hold_then_view(record, cmd.wait_ms).await
    }

    async fn status(&self, query: ReadStatus) -> Result<Option<RequestView>, ApiError> {
        match self.load()? {
            Some(record) if record.visible_to(&query.tenant, query.owner.as_deref()) => {
                self.hold_then_view(record, query.wait_ms).await.map(Some)
            }
            _ => Ok(None),
        }
    }

    fn remember_delivery(&self, message_id: &str, now: u64) -> Result<bool, ApiError> {
        let cutoff = now.saturating_sub(SEEN_DELIVERY_TTL_MS);
        sql(
            &self.state,
            "DELETE FROM seen_delivery WHERE seen_ms < ?",
            vec![(cutoff as i64).into()],
        )?;
        let seen: Vec<CountRow> = sql(
            &self.state,
            "SELECT COUNT(*) AS n FROM seen_delivery WHERE message_id = ?",
            vec![message_id.into()],
        )?
        .to_array()
        .or_internal()?;
        if seen.first().is_some_and(|r| r.n >= 1.0) {
            return Ok(false);
        }
        sql(
            &self.state,
            "INSERT INTO seen_delivery (message_id, seen_ms) VALUES (?, ?)",
            vec![message_id.into(), (now as i64).into()],
        )?;
        Ok(true)
    }

    async fn deliver_result(&self, cmd: DeliverResult) -> Result<ResultReply, ApiError> {
        let Some(mut record) = self.load()? else {
            return Ok(ResultReply::NotFound);
        };
        let now = now_ms();
        if !self.remember_delivery(&cmd.message_id, now)? {
            return Ok(ResultReply::Replayed);
        }
        let from = record.state();
        Ok(match record.deliver_result(cmd.result, now) {
            ResultOutcome::Stored => {
                self.save(&record)?;
                log_transition(&record, "result delivered");
                self.on_terminal(&mut record).await?;
                ResultReply::Stored { from }
            }
            ResultOutcome::AlreadyStored => ResultReply::AlreadyStored,
            ResultOutcome::Conflict => ResultReply::Conflict,
        })
    }

    /// Wakes every held caller, sends any callback that is due, then frees the item.
    async fn on_terminal(&self, record: &mut RequestRecord) -> Result<(), ApiError> {
        self.wake_all();
        self.pump_callback(record).await?;
        if !record.lock_released() && self.release_lock(record).await {
            // Marked on the record as stored now: a callback report may have changed it while
            // the lock answered, and saving the older copy would undo that.
            if let Some(mut current) = self.load()? {
                current.mark_lock_released();
                self.save(&current)?;
                *record = current;
            }
        }
        self.schedule_alarm(record).await
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

    fn log_attempt(
        &self,
        attempt: u32,
        executed_ms: u64,
        http_response: Option<u16>,
        detail: &str,
    ) -> Result<(), ApiError> {
        let status: SqlStorageValue =
            http_response.map_or(SqlStorageValue::Null, |s| i64::from(s).into());
        sql(&self.state,
            "INSERT INTO callback_log (attempt, executed_ms, http_response, detail) VALUES (?, ?, ?, ?)",
            vec![i64::from(attempt).into(), (executed_ms as i64).into(), status, detail.into()],
        )?;
        Ok(())
    }

    fn callback_job(&self, query: FetchCallbackJob) -> Result<CallbackJob, ApiError> {
        Ok(match self.load()? {
            Some(record) => record.callback_job(query.attempt),
            None => CallbackJob::skip("no such request"),
        })
    }

    async fn callback_report(&self, report: ReportCallback) -> Result<Ack, ApiError> {
        let Some(mut record) = self.load()? else {
            return Ok(Ack {});
        };
        let cfg = config(&self.env)?;
        self.log_attempt(
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
        self.schedule_alarm(&record).await?;
        Ok(Ack {})
    }

    /// The dead-letter consumer saw this request's message: the log records the exhaustion, once.
    async fn callback_dead_lettered(&self) -> Result<Ack, ApiError> {
        let Some(mut record) = self.load()? else {
            return Ok(Ack {});
        };
        if let Some(attempts) = record.confirm_dead_lettered() {
            self.log_attempt(
                attempts,
                now_ms(),
                None,
                "exhausted: every scheduled attempt failed; dead-lettered",
            )?;
            log_callback(&record, "dead-lettered", attempts);
            self.save(&record)?;
            self.schedule_alarm(&record).await?;
        }
        Ok(Ack {})
    }

    fn callback_log(&self, query: ReadCallbackLog) -> Result<Option<CallbackLog>, ApiError> {
        let Some(record) = self.load()?.filter(|r| r.tenant() == query.tenant) else {
            return Ok(None);
        };
        #[derive(Deserialize)]
        struct Row {
            attempt: f64,
            executed_ms: f64,
            http_response: Option<f64>,
            detail: String,
        }
        let rows: Vec<Row> = sql(
            &self.state,
            "SELECT attempt, executed_ms, http_response, detail FROM callback_log ORDER BY seq",
            vec![],
        )?
        .to_array()
        .or_internal()?;
        let entries = rows
            .into_iter()
            .map(|r| AttemptLogEntry {
                executed_utc: rfc3339_millis(r.executed_ms as u64),
                http_response: r.http_response.map(|s| s as u16),
                detail: r.detail,
                attempt: r.attempt as u32,
            })
            .collect();
        Ok(Some(CallbackLog {
            has_callback: record.has_callback(),
            entries,
        }))
    }

    async fn callback_replay(
        &self,
        query: ReplayCallback,
    ) -> Result<Option<ReplayReply>, ApiError> {
        let Some(mut record) = self.load()?.filter(|r| r.tenant() == query.tenant) else {
            return Ok(None);
        };
        match record.replay_callback(now_ms()) {
            Replay::NoCallback => return Ok(Some(ReplayReply::NoCallback)),
            Replay::NotTerminal => return Ok(Some(ReplayReply::NotTerminal)),
            Replay::Started => {}
        }
        log_callback(&record, "replay", 0);
        self.save(&record)?;
        self.pump_callback(&mut record).await?;
        self.schedule_alarm(&record).await?;
        Ok(Some(ReplayReply::Started))
    }

    async fn release_lock(&self, record: &RequestRecord) -> bool {
        // A failure is logged by the client; the alarm retries until it succeeds.
        let release = ReleaseLock {
            lock: record.lock_name().to_owned(),
            request_id: record.request_id().to_owned(),
        };
        let shard = item_lock::shard_object(record.tenant(), record.lock_name());
        call(&self.env, &shard, &release).await.is_ok()
    }

    /// One submission to the backend, then the reply applied to the freshly reloaded record
    /// (a result may have arrived on the async path meanwhile).
    async fn submit(&self, mut record: RequestRecord) -> Result<RequestRecord, ApiError> {
        let cfg = config(&self.env)?;
        record.begin_submission(now_ms(), &cfg.dispatch);
        self.save(&record)?;
        self.schedule_alarm(&record).await?;
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
        let mut current = self.load()?.unwrap_or(record);
        let applied = current.apply_reply(reply, now_ms(), &cfg.dispatch);
        if applied != Applied::Ignored {
            self.save(&current)?;
            log_transition(&current, &format!("{applied:?}"));
        }
        Ok(current)
    }

    async fn run_alarm(&self) -> Result<(), ApiError> {
        let Some(mut record) = self.load()? else {
            return Ok(());
        };
        let cfg = config(&self.env)?;
        if record.dispatch_due(now_ms()) {
            let policy = cfg.dispatch.breaker;
            match BACKEND_BREAKER.with(|b| b.borrow_mut().gate(now_ms(), &policy)) {
                Gate::Submit => record = self.submit(record).await?,
                Gate::WaitUntil(until) => {
                    // The backend is down: wait without spending a try, and come back spread
                    // over one cool-down.
                    record.defer_dispatch(until, policy.open_ms);
                    self.save(&record)?;
                }
            }
        }
        if record.expire_if_due(now_ms()) {
            self.save(&record)?;
            log_transition(&record, "expired");
        }
        if record.purgeable(now_ms(), &cfg.lifetimes) {
            // The index row goes first: a record is never deleted while the index still shows it.
            let tenant = record.tenant().to_owned();
            let id = record.request_id().to_string();
            if let Err(why) = payments_index::remove(&self.env, &cfg, &tenant, &id).await {
                // Noted on the record as stored now (a replay may have changed it meanwhile).
                let mut current = self.load()?.unwrap_or(record);
                log_index_failure(&current, &why);
                current.index_failed(now_ms());
                self.save(&current)?;
                return self.schedule_alarm(&current).await;
            }
            // A call that came in while D1 answered (a replay) may have made it worth keeping:
            // then it stays, and its row is written again.
            if let Some(mut current) = self
                .load()?
                .filter(|r| !r.purgeable(now_ms(), &cfg.lifetimes))
            {
                current.index_removed();
                self.save(&current)?;
                return self.schedule_alarm(&current).await;
            }
            self.state.storage().delete_alarm().await.or_internal()?;
            self.state.storage().delete_all().await.or_internal()?;
            self.record.forget();
            self.schema_ready.set(false);
            return Ok(());
        }
        if record.state().is_terminal() {
            self.on_terminal(&mut record).await?;
        }
        // Last, after every caller this run may have woken: nobody waits for the index.
        self.write_index(&mut record).await?;
        self.schedule_alarm(&record).await
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
        let Some(mut current) = self.load()? else {
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

    fn probe(&self) -> Result<HolderProbe, ApiError> {
        let record = self.load()?;
        Ok(HolderProbe {
            exists: record.is_some(),
            terminal: record.is_some_and(|r| r.state().is_terminal()),
        })
    }

    async fn route(self: &Rc<Self>, mut req: Request) -> Result<Response, ApiError> {
        let body = req.text().await.or_internal()?;
        match req.path().as_str() {
            CreatePayment::PATH => {
                serve(&body, |c| async move { self.create(c).await.map(Some) }).await
            }
            ReadStatus::PATH => serve(&body, |c| self.status(c)).await,
            DeliverResult::PATH => {
                serve(
                    &body,
                    |c| async move { self.deliver_result(c).await.map(Some) },
                )
                .await
            }
            ProbeHolder::PATH => {
                serve(
                    &body,
                    |_: ProbeHolder| async move { self.probe().map(Some) },
                )
                .await
            }
            FetchCallbackJob::PATH => {
                serve(&body, |c| async move { self.callback_job(c).map(Some) }).await
            }
            ReportCallback::PATH => {
                serve(
                    &body,
                    |c| async move { self.callback_report(c).await.map(Some) },
                )
                .await
            }
            ConfirmDeadLettered::PATH => {
                serve(&body, |_: ConfirmDeadLettered| async move {
                    self.callback_dead_lettered().await.map(Some)
                })
                .await
            }
            ReadCallbackLog::PATH => serve(&body, |c| async move { self.callback_log(c) }).await,
            ReplayCallback::PATH => serve(&body, |c| self.callback_replay(c)).await,
            InjectFault::PATH => {
                let fault: InjectFault =
                    serde_json::from_str(&body).map_err(|_| ApiError::Internal)?;
                self.inject_fault(fault).await
            }
            _ => Err(unknown_command()),
        }
    }
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
                record: DocTable::new("record"),
                schema_ready: Cell::new(false),
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
        if let Err(e) = self.this.run_alarm().await {
            // Returning an error makes the runtime retry the alarm, which is what we want.
            return Err(worker::Error::RustError(format!("alarm failed: {e:?}")));
        }
        Response::ok("")
    }
}
