//! `transfer`: call a number through a trunk (or a SIP URI) and bridge the
//! caller with it. Controlled: the caller stays on our B2BUA, the far end
//! cannot transfer it further, and the call's record keeps both ends. While
//! it rings the caller hears `ringback` (default: the `wait` prompt).
//! Refused, busy or unanswered within `ring_timeout_s`: `fallback` (else
//! the call ends). When the far end hangs up: `after` (e.g. a survey), else
//! the call ends.

use std::time::Duration;

use call::{Destination, HungUp};
use call::{LegEvent, LegFailure};
use serde::Deserialize;

use crate::node::PromptRef;
use crate::run::{Ctx, Step};

/// A `transfer` node: calls out and bridges the caller with the far
/// end.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transfer {
    /// A number (`0184903422`, `+33184903422`), a SIP URI with an IP
    /// address host (`sip:desk@10.1.2.3:5060`), or `$var` for either.
    pub to: String,
    /// The trunk a number goes out through (its `outbound_proxy`).
    pub trunk: Option<String>,
    /// Seconds to let it ring before giving up (default 30; at least 1).
    #[serde(default = "default_ring_timeout")]
    pub ring_timeout_s: u64,
    /// What the caller hears while it rings (repeated).
    pub ringback: Option<PromptRef>,
    /// Where to go when the far end does not answer.
    pub fallback: Option<String>,
    /// Where to go when the far end hangs up first.
    pub after: Option<String>,
}

fn default_ring_timeout() -> u64 {
    30
}

/// Why a transfer's `to` cannot be called.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DestinationError {
    /// `to` is neither a number nor a `sip:` URI.
    #[error("to = {0:?}: expected a number (digits, optional leading +), a sip: URI or $variable")]
    NotANumber(String),
    /// `to` is a number but no `trunk` was given.
    #[error("to = {0:?} is a number: `trunk` must name the trunk it goes out through")]
    NoTrunk(String),
}

/// `to` as written, when it names no variable: a number needs a trunk.
pub fn destination(to: &str, trunk: Option<&str>) -> Result<Destination, DestinationError> {
    if to.starts_with("sip:") {
        return Ok(Destination::Uri(to.to_string()));
    }
    let digits = to.strip_prefix('+').unwrap_or(to);
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(DestinationError::NotANumber(to.to_string()));
    }
    match trunk {
        Some(t) => Ok(Destination::Number {
            number: to.to_string(),
            trunk: t.to_string(),
        }),
        None => Err(DestinationError::NoTrunk(to.to_string())),
    }
}

impl Transfer {
    /// Every (key, node) it can lead to: `fallback`, then `after`, when set.
    pub fn targets(&self) -> Vec<(String, &str)> {
        let mut t = Vec::new();
        if let Some(f) = &self.fallback {
            t.push(("fallback".into(), f.as_str()));
        }
        if let Some(a) = &self.after {
            t.push(("after".into(), a.as_str()));
        }
        t
    }

    /// Every (key, prompt) it may play: `ringback`, when set.
    pub fn prompts(&self) -> Vec<(&'static str, &PromptRef)> {
        self.ringback.iter().map(|p| ("ringback", p)).collect()
    }

    /// Checks of `to` (unless a `$var`) and `ring_timeout_s`: (key,
    /// message) per problem.
    pub fn check(&self) -> Vec<(&'static str, String)> {
        let mut errors = Vec::new();
        if !self.to.starts_with('$') {
            if let Err(e) = destination(&self.to, self.trunk.as_deref()) {
                errors.push(("to", e.to_string()));
            }
        }
        if self.ring_timeout_s == 0 {
            errors.push(("ring_timeout_s", "expected 1 second or more".into()));
        }
        errors
    }

    fn failed(&self, why: &str) -> Step {
        match &self.fallback {
            Some(f) => Step::Next(f.clone()),
            None => Step::Hangup(format!("transfer_{why}")),
        }
    }

    /// Dial `to` (a `$var` is read now) with ringback, then bridge the two.
    /// Busy, refused, unanswered or unreachable: `fallback`; the far end
    /// hanging up: `after`. Either unset: the call ends.
    pub async fn run(&self, cx: &mut Ctx<'_>) -> Result<Step, HungUp> {
        let to = match self.to.strip_prefix('$') {
            Some(var) => cx.vars.get(var).cloned().unwrap_or_default(),
            None => self.to.clone(),
        };
        let dest = match destination(&to, self.trunk.as_deref()) {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(flow = %cx.flow.name, error = %e, "transfer: bad destination");
                return Ok(self.failed("bad_destination"));
            }
        };
        let Some(dialer) = cx.dialer.clone() else {
            tracing::error!(flow = %cx.flow.name, "transfer node reached but calls out are not set up");
            return Ok(self.failed("unavailable"));
        };
        cx.call.record(cdr::EventKind::TransferStarted {
            to: to.clone(),
            trunk: self.trunk.clone(),
        });
        let mut out = match dialer.dial(&cx.call.shared_info(), &dest) {
            Ok(o) => o,
            Err(e) => {
                tracing::error!(destination = %dest, error = %e, "transfer: cannot call out");
                cx.call.record(cdr::EventKind::TransferFailed {
                    reason: "unavailable".into(),
                    sip_code: None,
                });
                return Ok(self.failed("unavailable"));
            }
        };
        tracing::info!(destination = %dest, "transferring the call");
        let ringback = self
            .ringback
            .clone()
            .unwrap_or_else(|| PromptRef::Name("wait".into()));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(self.ring_timeout_s);
        let media = loop {
            let ev = tokio::select! {
                ev = out.next() => ev,
                played = cx.play(&ringback, false) => {
                    if played?.is_none() {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    continue;
                }
                _ = tokio::time::sleep_until(deadline) => {
                    tracing::info!(destination = %dest, "transfer: no answer in time");
                    cx.call.record(cdr::EventKind::TransferFailed { reason: "no_answer".into(), sip_code: None });
                    return Ok(self.failed("no_answer"));
                }
            };
            match ev {
                Some(LegEvent::Answered { media, .. }) => break media,
                Some(LegEvent::Failed { why, code }) => {
                    let reason = match why {
                        LegFailure::Declined => "busy",
                        LegFailure::NoAnswer => "no_answer",
                        LegFailure::Unreachable => "unreachable",
                    };
                    tracing::info!(destination = %dest, code, reason, "transfer: not answered");
                    cx.call.record(cdr::EventKind::TransferFailed {
                        reason: reason.into(),
                        sip_code: code,
                    });
                    return Ok(self.failed(reason));
                }
                Some(
                    LegEvent::Ringing | LegEvent::TransferAsked { .. } | LegEvent::Hold { .. },
                ) => {}
                Some(LegEvent::Ended { .. }) | None => {
                    cx.call.record(cdr::EventKind::TransferFailed {
                        reason: "unreachable".into(),
                        sip_code: None,
                    });
                    return Ok(self.failed("unreachable"));
                }
            }
        };
        cx.call.bridge(media);
        cx.call.record(cdr::EventKind::TransferAnswered);
        loop {
            tokio::select! {
                ev = out.next() => match ev {
                    Some(LegEvent::Ended { .. }) | None => break,
                    Some(_) => {}
                },
                _ = cx.call.hung_up() => {
                    cx.call.record(cdr::EventKind::TransferEnded { by: cdr::Party::Caller });
                    return Err(HungUp); // dropping `out` hangs the far end up
                }
            }
        }
        cx.call.unbridge();
        cx.call.record(cdr::EventKind::TransferEnded {
            by: cdr::Party::Agent,
        });
        Ok(match &self.after {
            Some(a) => Step::Next(a.clone()),
            None => Step::Hangup("transferred".into()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations() {
        assert_eq!(
            destination("0184903422", Some("oxe")),
            Ok(Destination::Number {
                number: "0184903422".into(),
                trunk: "oxe".into()
            })
        );
        assert!(destination("+33184903422", Some("oxe")).is_ok());
        let err = destination("0184903422", None).unwrap_err();
        assert_eq!(err, DestinationError::NoTrunk("0184903422".into()));
        assert!(err.to_string().contains("`trunk`"), "{err}");
        assert_eq!(
            destination("01 84", Some("oxe")),
            Err(DestinationError::NotANumber("01 84".into()))
        );
        assert_eq!(
            destination("sip:desk@10.0.0.1", None),
            Ok(Destination::Uri("sip:desk@10.0.0.1".into()))
        );
    }
}
