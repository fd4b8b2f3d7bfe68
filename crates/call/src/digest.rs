//! The digest authenticator the registrar and the trunks share: the sans-IO
//! `sip::auth::DigestServer` behind a lock, on the real clock, swept every
//! second. Shared so one source's failures count against it whether it
//! guesses an agent's password by REGISTER or a trunk's by INVITE.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sip::auth::{Attempt, AuthStats, DigestConfig, DigestServer, Outcome, Secret};

/// Digest authentication with failure limits; cheap to share.
#[derive(Debug)]
pub struct SipAuth {
    server: Mutex<DigestServer>,
    stats: Arc<AuthStats>,
}

impl SipAuth {
    /// The authenticator, configured by `cfg`; run [`SipAuth::run_sweep`] beside
    /// it to sweep its tables.
    pub fn new(cfg: DigestConfig) -> Arc<Self> {
        let server = DigestServer::new(cfg, Instant::now());
        let stats = server.stats();
        Arc::new(SipAuth {
            server: Mutex::new(server),
            stats,
        })
    }

    /// Live counters for `/metrics` (failures, refusals, locks).
    pub fn stats(&self) -> &Arc<AuthStats> {
        &self.stats
    }

    fn server(&self) -> std::sync::MutexGuard<'_, DigestServer> {
        // A panic elsewhere while holding it leaves consistent tables.
        self.server.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Authenticate one request now.
    pub fn handle(
        &self,
        attempt: &Attempt<'_>,
        lookup: impl FnOnce(&str) -> Option<Secret>,
    ) -> Outcome {
        self.server().handle(Instant::now(), attempt, lookup)
    }

    /// Sweep every second: log lifted locks, forget old nonces and failures.
    pub async fn run_sweep(self: Arc<Self>) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            self.server().tick(Instant::now());
        }
    }
}

/// `Retry-After` seconds for a wait: rounded up, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(900)), 900);
    }
}
