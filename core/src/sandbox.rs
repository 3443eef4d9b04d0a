//! The sandbox backend's deterministic outcomes, chosen by magic account ids (like test card numbers).
//!
//! The scenario is picked from the first group of the paying account id
//! (`account_id` for Zai; any UUID value in `paymentMethod` for ServiceStack).
//! Where a scenario takes a number N, it is the last group read as decimal,
//! e.g. `a5c00000-0000-4000-8000-000000000003` answers after 3 seconds.

use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::time::rfc3339_millis;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Any other account: `200`, item `completed` (22500).
    Succeed,
    /// `a5c00000-…-N`: `202` now, then `completed` through the async result path after N s (1–25, default 2).
    SucceedLater { after_secs: u32 },
    /// `dec11e00-…`: `422`, item stays `payment_required` (22100) with a decline error.
    Decline,
    /// `5e500000-…-N`: `500` for the first N submissions (0 = every one), then `200`.
    ServerError { failing_submissions: u32 },
    /// `deadbeef-…`: `202` and no result ever; the request expires.
    NeverAnswer,
    /// `4e1d0000-…`: `200`, item `payment_held` (22175) — a completed request whose payment is held.
    Held,
}

/// Longest async delay: the sandbox delivers from the same invocation, which may outlive its
/// response by about 30 s.
pub const MAX_ASYNC_SECS: u32 = 25;

fn last_group_decimal(uuid: &Uuid) -> Option<u32> {
    let simple = uuid.simple().to_string();
    let last = simple.get(20..)?;
    last.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| last.parse().ok())
        .flatten()
}

fn scenario_of(uuid: &Uuid) -> Option<Scenario> {
    let simple = uuid.simple().to_string();
    let n = last_group_decimal(uuid);
    Some(match simple.get(..8)? {
        "a5c00000" => Scenario::SucceedLater {
            after_secs: n.filter(|n| *n > 0).unwrap_or(2).min(MAX_ASYNC_SECS),
        },
        "dec11e00" => Scenario::Decline,
        "5e500000" => Scenario::ServerError {
            failing_submissions: n.unwrap_or(0),
        },
        "deadbeef" => Scenario::NeverAnswer,
        "4e1d0000" => Scenario::Held,
        _ => return None,
    })
}

fn strings_in(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Object(map) => map.values().for_each(|v| strings_in(v, out)),
        Value::Array(items) => items.iter().for_each(|v| strings_in(v, out)),
        _ => {}
    }
}

/// Picks the scenario from a dispatch's validated fields.
pub fn scenario_for(fields: &Map<String, Value>) -> Scenario {
    let mut candidates = Vec::new();
    for key in ["account_id", "payment_method"] {
        if let Some(v) = fields.get(key) {
            strings_in(v, &mut candidates);
        }
    }
    candidates
        .iter()
        .filter_map(|s| Uuid::try_parse(s).ok())
        .find_map(|u| scenario_of(&u))
        .unwrap_or(Scenario::Succeed)
}

/// What the sandbox answers to one submission.
#[derive(Debug, Clone, PartialEq)]
pub enum SandboxReply {
    Now {
        status: u16,
        body: Value,
    },
    /// `202`, and `later` is delivered to the result endpoint after `after_secs`.
    Accepted {
        later: Option<(u32, Value)>,
    },
}

/// A Zai-style item response.
pub fn item_response(
    subject: &str,
    request_id: &str,
    state: &str,
    status: u32,
    now_ms: u64,
) -> Value {
    json!({
        "items": {
            "id": subject,
            "state": state,
            "status": status,
            "request_id": request_id,
            "updated_at": rfc3339_millis(now_ms),
            "description": "edgepay sandbox item",
        }
    })
}

/// The sandbox's answer to submission number `submission_count` (1-based).
pub fn reply_for(
    scenario: Scenario,
    subject: &str,
    request_id: &str,
    submission_count: u32,
    now_ms: u64,
) -> SandboxReply {
    let item = |state: &str, status: u32| item_response(subject, request_id, state, status, now_ms);
    match scenario {
        Scenario::Succeed => SandboxReply::Now {
            status: 200,
            body: item("completed", 22500),
        },
        Scenario::Held => SandboxReply::Now {
            status: 200,
            body: item("payment_held", 22175),
        },
        Scenario::Decline => {
            let mut body = item("payment_required", 22100);
            if let Some(members) = body.as_object_mut() {
                members.insert(
                    "errors".into(),
                    json!({ "base": ["The payment was declined (sandbox)"] }),
                );
            }
            SandboxReply::Now { status: 422, body }
        }
        Scenario::ServerError {
            failing_submissions,
        } => {
            if failing_submissions == 0 || submission_count <= failing_submissions {
                SandboxReply::Now {
                    status: 500,
                    body: json!({ "errors": { "base": ["sandbox backend error"] } }),
                }
            } else {
                SandboxReply::Now {
                    status: 200,
                    body: item("completed", 22500),
                }
            }
        }
        Scenario::SucceedLater { after_secs } => SandboxReply::Accepted {
            later: Some((after_secs, item("completed", 22500))),
        },
        Scenario::NeverAnswer => SandboxReply::Accepted { later: None },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zai(account: &str) -> Scenario {
        let mut fields = Map::new();
        fields.insert("account_id".into(), json!(account));
        scenario_for(&fields)
    }

    #[test]
    fn magic_accounts() {
        let cases = [
            ("0b0e3f6e-5b8a-4c1e-9d2f-3a4b5c6d7e8f", Scenario::Succeed),
            (
                "a5c00000-0000-4000-8000-000000000003",
                Scenario::SucceedLater { after_secs: 3 },
            ),
            (
                "a5c00000-0000-4000-8000-000000000000",
                Scenario::SucceedLater { after_secs: 2 },
            ),
            (
                "a5c00000-0000-4000-8000-000000000099",
                Scenario::SucceedLater { after_secs: 25 },
            ),
            (
                "a5c00000-0000-4000-8000-00000000000f",
                Scenario::SucceedLater { after_secs: 2 },
            ),
            ("dec11e00-0000-4000-8000-000000000000", Scenario::Decline),
            (
                "5e500000-0000-4000-8000-000000000002",
                Scenario::ServerError {
                    failing_submissions: 2,
                },
            ),
            (
                "5e500000-0000-4000-8000-000000000000",
                Scenario::ServerError {
                    failing_submissions: 0,
                },
            ),
            (
                "deadbeef-0000-4000-8000-000000000000",
                Scenario::NeverAnswer,
            ),
            ("4e1d0000-0000-4000-8000-000000000000", Scenario::Held),
        ];
        for (account, scenario) in cases {
            assert_eq!(zai(account), scenario, "{account}");
        }
    }

    #[test]
    fn payment_method_values_also_select() {
        let mut fields = Map::new();
        fields.insert(
            "payment_method".into(),
            json!({"token": "dec11e00-0000-4000-8000-000000000000"}),
        );
        assert_eq!(scenario_for(&fields), Scenario::Decline);
        assert_eq!(scenario_for(&Map::new()), Scenario::Succeed);
    }

    #[test]
    fn replies() {
        let status = |s, n| match reply_for(s, "i", "r", n, 0) {
            SandboxReply::Now { status, .. } => status,
            SandboxReply::Accepted { .. } => 202,
        };
        assert_eq!(status(Scenario::Succeed, 1), 200);
        assert_eq!(status(Scenario::Decline, 1), 422);
        assert_eq!(
            status(
                Scenario::ServerError {
                    failing_submissions: 2
                },
                2
            ),
            500
        );
        assert_eq!(
            status(
                Scenario::ServerError {
                    failing_submissions: 2
                },
                3
            ),
            200
        );
        assert_eq!(
            status(
                Scenario::ServerError {
                    failing_submissions: 0
                },
                99
            ),
            500
        );
        assert_eq!(status(Scenario::NeverAnswer, 1), 202);
        match reply_for(Scenario::SucceedLater { after_secs: 3 }, "i", "r", 1, 0) {
            SandboxReply::Accepted {
                later: Some((3, body)),
            } => assert_eq!(body["items"]["status"], 22500),
            other => panic!("{other:?}"),
        }
        match reply_for(Scenario::Decline, "order-9", "r", 1, 0) {
            SandboxReply::Now { body, .. } => {
                assert_eq!(body["items"]["id"], "order-9");
                assert_eq!(body["items"]["state"], "payment_required");
            }
            other => panic!("{other:?}"),
        }
    }
}
