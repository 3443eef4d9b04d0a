//! The Zai-dialect answer for a request: the backend's result verbatim, `502` for a failed request, or `202` with the status object.

use crate::http::answer::Answer;
use crate::payment::request_record::{Links, RequestView, FAILED_STATUS};
use crate::payment::request_state::RequestState;
use crate::payment::wait::WaitDecision;

pub fn answer(view: &RequestView, origin: &str, decision: &WaitDecision) -> Answer {
    let links = Links::new(origin, &view.request_id, view.has_callback);
    let body = match (&view.result, view.state) {
        (Some(result), _) => Answer::new(
            result.status,
            &result.content_type,
            result.body.clone().into_bytes(),
        ),
        (None, RequestState::Failed) => Answer::json(FAILED_STATUS, &view.status_object(&links)),
        (None, _) => Answer::json(202, &view.status_object(&links)),
    };
    body.about_request(view, &links, decision)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payment::new_payment::Dialect;
    use crate::payment::request_record::StoredResult;
    use crate::payment::wait::{Preferences, WaitSecs};

    fn view(state: RequestState, result: Option<StoredResult>) -> RequestView {
        RequestView {
            request_id: "abc".into(),
            dialect: Dialect::Zai,
            state,
            submission_count: 1,
            last_updated_ms: 0,
            result,
            failure_reason: Some("down".into()),
            has_callback: false,
        }
    }

    fn decide(prefer: &str) -> WaitDecision {
        WaitDecision::decide(None, Preferences::parse(Some(prefer)), WaitSecs::ZERO)
    }

    #[test]
    fn a_result_is_answered_verbatim_with_its_status_link() {
        let result = StoredResult {
            status: 422,
            content_type: "application/json".into(),
            body: r#"{"errors":{}}"#.into(),
        };
        let a = answer(
            &view(RequestState::Completed, Some(result)),
            "https://g",
            &decide(""),
        );
        assert_eq!(
            (a.status(), a.content_type()),
            (422, Some("application/json"))
        );
        assert_eq!(a.body(), br#"{"errors":{}}"#);
        assert_eq!(
            a.header("content-location"),
            Some("https://g/request/abc/status")
        );
        assert_eq!(a.header("location"), None);
    }

    #[test]
    fn a_failed_request_is_502_and_a_pending_one_202_with_retry_after() {
        let failed = answer(&view(RequestState::Failed, None), "https://g", &decide(""));
        assert_eq!(failed.status(), 502);
        assert!(failed.header("retry-after").is_none());
        let pending = answer(
            &view(RequestState::Submitted, None),
            "https://g",
            &decide("wait=3"),
        );
        assert_eq!(pending.status(), 202);
        assert_eq!(
            pending.header("location"),
            Some("https://g/request/abc/status")
        );
        assert!(pending.header("retry-after").is_some());
        assert_eq!(pending.header("preference-applied"), Some("wait=3"));
    }
}
