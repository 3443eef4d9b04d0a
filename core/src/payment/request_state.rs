//! The request state machine: `accepted → submitted → completed | failed`; terminal states never change.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    /// Stored; the backend has not acknowledged it yet.
    Accepted,
    /// The backend acknowledged it (202) and will deliver the result later.
    Submitted,
    /// The backend answered, whatever its status.
    Completed,
    /// The backend never answered successfully, or the request expired.
    Failed,
}

/// What happened to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    BackendAcknowledged,
    ResultArrived,
    GaveUp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlreadyTerminal(pub RequestState);

impl RequestState {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Accepted => "accepted",
            RequestState::Submitted => "submitted",
            RequestState::Completed => "completed",
            RequestState::Failed => "failed",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, RequestState::Completed | RequestState::Failed)
    }

    /// The state after `event`, or an error if the request is already terminal.
    pub fn on(self, event: Event) -> Result<RequestState, AlreadyTerminal> {
        if self.is_terminal() {
            return Err(AlreadyTerminal(self));
        }
        Ok(match event {
            Event::BackendAcknowledged => RequestState::Submitted,
            Event::ResultArrived => RequestState::Completed,
            Event::GaveUp => RequestState::Failed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Event::*;
    use RequestState::*;

    #[test]
    fn transition_table() {
        let table = [
            (Accepted, BackendAcknowledged, Ok(Submitted)),
            (Accepted, ResultArrived, Ok(Completed)),
            (Accepted, GaveUp, Ok(Failed)),
            (Submitted, BackendAcknowledged, Ok(Submitted)),
            (Submitted, ResultArrived, Ok(Completed)),
            (Submitted, GaveUp, Ok(Failed)),
            (Completed, ResultArrived, Err(AlreadyTerminal(Completed))),
            (Completed, GaveUp, Err(AlreadyTerminal(Completed))),
            (Failed, ResultArrived, Err(AlreadyTerminal(Failed))),
            (Failed, BackendAcknowledged, Err(AlreadyTerminal(Failed))),
        ];
        for (from, event, to) in table {
            assert_eq!(from.on(event), to, "{from:?} + {event:?}");
        }
    }

    #[test]
    fn wire_names() {
        assert_eq!(serde_json::to_string(&Submitted).unwrap(), "\"submitted\"");
        assert_eq!(Failed.as_str(), "failed");
        assert!(Completed.is_terminal() && !Accepted.is_terminal());
    }
}
