//! Which callback receivers are slow, so that their deliveries leave the queue batch and never hold up another receiver's callbacks.
//!
//! A queue consumer gets its messages in batches, and the queue sends the next batch only when
//! the consumer is done with this one (locally always; on Cloudflare each concurrent consumer
//! is held just the same). One receiver that holds every request up to the 15 s timeout would
//! then delay every callback that shares a batch with it. The consumer therefore waits for an
//! attempt only `slow_after_ms` (`CALLBACK_SLOW_MS`); an attempt still unanswered then carries
//! on outside the batch, and its receiver is remembered here as slow, so that its next attempts
//! go outside the batch from the start. A receiver that answers one attempt within the patience
//! is fast again. The memory is per isolate, bounded and forgets after [`SLOW_FOR_MS`].
//!
//! A receiver is a tenant's callback origin (scheme, host and port): one tenant's slow receiver
//! never changes how another tenant's callbacks to the same host are sent.

use std::collections::HashMap;

/// How long a receiver stays slow without a new slow attempt.
pub const SLOW_FOR_MS: u64 = 5 * 60 * 1000;
/// At most this many receivers are remembered; the one that would be forgotten first goes.
pub const MAX_REMEMBERED: usize = 1024;

/// The key of a tenant's receiver: the tenant and the callback URL's origin. The path and query
/// (which may hold a receiver's own token) are not part of it.
pub fn receiver_key(tenant: &str, url: &url::Url) -> String {
    format!(
        "{tenant} {}://{}:{}",
        url.scheme(),
        url.host_str().unwrap_or(""),
        url.port_or_known_default().unwrap_or(0)
    )
}

/// Whether an attempt waits in its batch or goes outside it from the start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// Wait for it in the batch, at most the patience.
    InBatch,
    /// Its receiver is slow: send it outside the batch at once.
    Detached,
}

#[derive(Debug, Default, Clone)]
pub struct SlowReceivers {
    slow_until_ms: HashMap<String, u64>,
}

impl SlowReceivers {
    /// The lane for an attempt to `key` now.
    pub fn lane(&self, key: &str, now_ms: u64) -> Lane {
        match self.slow_until_ms.get(key) {
            Some(&until) if now_ms < until => Lane::Detached,
            _ => Lane::InBatch,
        }
    }

    /// An attempt to `key` was still unanswered after the patience.
    pub fn mark_slow(&mut self, key: &str, now_ms: u64) {
        let until = now_ms.saturating_add(SLOW_FOR_MS);
        if !self.slow_until_ms.contains_key(key) && self.slow_until_ms.len() >= MAX_REMEMBERED {
            self.slow_until_ms.retain(|_, &mut u| u > now_ms);
            if self.slow_until_ms.len() >= MAX_REMEMBERED {
                if let Some(first) = self
                    .slow_until_ms
                    .iter()
                    .min_by_key(|(_, &u)| u)
                    .map(|(k, _)| k.clone())
                {
                    self.slow_until_ms.remove(&first);
                }
            }
        }
        self.slow_until_ms.insert(key.to_owned(), until);
    }

    /// An attempt to `key` was answered (or failed) within the patience: it is not slow.
    pub fn answered_quickly(&mut self, key: &str) {
        self.slow_until_ms.remove(key);
    }

    /// How many receivers are remembered as slow (expired ones included until pushed out).
    pub fn len(&self) -> usize {
        self.slow_until_ms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slow_until_ms.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> url::Url {
        url::Url::parse(s).unwrap()
    }

    #[test]
    fn key_is_tenant_and_origin_without_path_or_query() {
        assert_eq!(
            receiver_key("t1", &url("https://hooks.example.com/a/b?token=x")),
            "t1 https://hooks.example.com:443"
        );
        assert_eq!(
            receiver_key("t1", &url("http://127.0.0.1:9000/slow")),
            "t1 http://127.0.0.1:9000"
        );
        assert_ne!(
            receiver_key("t1", &url("https://h.example/")),
            receiver_key("t2", &url("https://h.example/"))
        );
    }

    #[test]
    fn unknown_receivers_wait_in_the_batch() {
        let slow = SlowReceivers::default();
        assert_eq!(slow.lane("t h", 0), Lane::InBatch);
    }

    #[test]
    fn a_slow_receiver_is_detached_until_it_expires_or_answers_quickly() {
        let mut slow = SlowReceivers::default();
        slow.mark_slow("t h", 1_000);
        assert_eq!(slow.lane("t h", 1_001), Lane::Detached);
        assert_eq!(slow.lane("other h", 1_001), Lane::InBatch);
        assert_eq!(slow.lane("t h", 1_000 + SLOW_FOR_MS - 1), Lane::Detached);
        assert_eq!(slow.lane("t h", 1_000 + SLOW_FOR_MS), Lane::InBatch);
        slow.mark_slow("t h", 2_000);
        slow.answered_quickly("t h");
        assert_eq!(slow.lane("t h", 2_001), Lane::InBatch);
    }

    #[test]
    fn memory_is_bounded_and_drops_what_expires_first() {
        let mut slow = SlowReceivers::default();
        for i in 0..MAX_REMEMBERED as u64 {
            slow.mark_slow(&format!("k{i}"), 10_000 + i);
        }
        assert_eq!(slow.len(), MAX_REMEMBERED);
        slow.mark_slow("new", 20_000);
        assert_eq!(slow.len(), MAX_REMEMBERED);
        assert_eq!(slow.lane("new", 20_001), Lane::Detached);
        // k0 was marked first, so it would have expired first: it is the one forgotten.
        assert_eq!(slow.lane("k0", 20_001), Lane::InBatch);
        assert_eq!(slow.lane("k1", 20_001), Lane::Detached);
        // Once entries have expired, they make room before anything live is dropped.
        slow.mark_slow("later", 10_000 + SLOW_FOR_MS + MAX_REMEMBERED as u64);
        assert_eq!(slow.lane("new", 20_002), Lane::Detached);
    }
}
