//! What every route shares: the one error type, problem+json, request bodies, bounded peer bodies, CORS and the request log line.

pub mod answer;
pub mod api_error;
pub mod body_prefix;
pub mod cors;
pub mod problem_json;
pub mod rate_limit;
pub mod request_body;
pub mod request_log;
