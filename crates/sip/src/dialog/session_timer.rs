//! Session timers (RFC 4028): reading Session-Expires and Min-SE, deciding
//! who refreshes, and when a refresh or the closing BYE is due.

use std::time::Duration;

use rsip::prelude::*;
use rsip::{Header, Headers};

use crate::message::{self, param};

/// The smallest interval we accept (RFC 4028 section 4: 90 s at least).
pub const MIN_SE: u32 = 90;

/// A running session timer, seen from our side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTimer {
    /// Session-Expires, in seconds.
    pub interval: u32,
    /// We send the refreshes; otherwise the peer does and we watch.
    pub we_refresh: bool,
    /// The peer said `Supported: timer` (it refreshes, and we may `Require` it).
    pub peer_supports: bool,
}

/// The peer asked for less than [`MIN_SE`]: answer 422 with `Min-SE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Session-Expires {asked} below our Min-SE {MIN_SE}")]
pub struct TooSmall {
    /// What the peer asked for.
    pub asked: u32,
}

impl SessionTimer {
    /// The timer a request we answer sets (RFC 4028 section 9): `None` when
    /// the peer asks for none. We never impose one.
    pub fn for_answer(request: &Headers) -> Result<Option<SessionTimer>, TooSmall> {
        let Some((interval, refresher)) = session_expires(request) else {
            return Ok(None);
        };
        if interval < MIN_SE {
            return Err(TooSmall { asked: interval });
        }
        let peer_supports = supports_timer(request);
        // The request's sender is the UAC of this transaction. Without its
        // choice, a peer that supports timers refreshes; one that does not
        // (a proxy added Session-Expires) leaves it to us.
        let we_refresh = match refresher {
            Some(Refresher::Uac) => false,
            Some(Refresher::Uas) => true,
            None => !peer_supports,
        };
        Ok(Some(SessionTimer {
            interval,
            we_refresh,
            peer_supports,
        }))
    }

    /// The timer a 2xx to one of our requests sets (RFC 4028 section 7.2).
    pub fn from_answer(response: &Headers) -> Option<SessionTimer> {
        let (interval, refresher) = session_expires(response)?;
        Some(SessionTimer {
            interval: interval.max(MIN_SE),
            we_refresh: refresher != Some(Refresher::Uas),
            peer_supports: true,
        })
    }

    /// The headers our 2xx carries for this timer.
    pub fn answer_headers(&self) -> Vec<Header> {
        let who = if self.we_refresh { "uas" } else { "uac" };
        let mut headers = vec![Header::Other(
            "Session-Expires".into(),
            format!("{};refresher={who}", self.interval),
        )];
        if self.peer_supports {
            headers.push(Header::Require("timer".into()));
        }
        headers
    }

    /// The headers of a refresh we send (we are its UAC).
    pub fn refresh_headers(&self) -> Vec<Header> {
        vec![
            Header::Other(
                "Session-Expires".into(),
                format!("{};refresher=uac", self.interval),
            ),
            Header::Supported("timer".into()),
        ]
    }

    /// How long after a refresh the session is over if no other came:
    /// the interval less min(32 s, a third), when we send the BYE.
    pub fn expiry(&self) -> Duration {
        Duration::from_secs(u64::from(self.interval - (self.interval / 3).min(32)))
    }

    /// When, after a refresh, the next one is due (we refresh) or the
    /// session is over without one (the peer refreshes): half the
    /// interval, or the interval less min(32 s, a third) (RFC 4028 section 10).
    pub fn next_deadline(&self) -> Duration {
        if self.we_refresh {
            Duration::from_secs(u64::from(self.interval / 2))
        } else {
            self.expiry()
        }
    }
}

/// The `Min-SE` header of a 422.
pub fn min_se_header() -> Header {
    Header::Other("Min-SE".into(), MIN_SE.to_string())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refresher {
    Uac,
    Uas,
}

fn session_expires(headers: &Headers) -> Option<(u32, Option<Refresher>)> {
    let value = message::other_header(headers, "Session-Expires")?;
    let (num, params) = match value.find(';') {
        Some(i) => value.split_at(i),
        None => (value, ""),
    };
    let interval = num.trim().parse().ok()?;
    let refresher = match param(params, "refresher").map(str::trim) {
        Some(r) if r.eq_ignore_ascii_case("uac") => Some(Refresher::Uac),
        Some(r) if r.eq_ignore_ascii_case("uas") => Some(Refresher::Uas),
        _ => None,
    };
    Some((interval, refresher))
}

fn supports_timer(headers: &Headers) -> bool {
    headers.iter().any(|h| match h {
        Header::Supported(v) => v
            .value()
            .split(',')
            .any(|t| t.trim().eq_ignore_ascii_case("timer")),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(lines: &[(&str, &str)]) -> Headers {
        let mut h = Headers::default();
        for (k, v) in lines {
            match *k {
                "Supported" => h.push(Header::Supported((*v).into())),
                _ => h.push(Header::Other((*k).into(), (*v).into())),
            }
        }
        h
    }

    #[test]
    fn the_peer_refreshes_when_it_supports_timers() {
        let h = headers(&[("Session-Expires", "1800"), ("Supported", "100rel, timer")]);
        let t = SessionTimer::for_answer(&h).unwrap().unwrap();
        assert!(!t.we_refresh);
        assert_eq!(t.next_deadline(), Duration::from_secs(1800 - 32));
        let text: Vec<String> = t.answer_headers().iter().map(|h| h.to_string()).collect();
        assert_eq!(
            text,
            ["Session-Expires: 1800;refresher=uac", "Require: timer"]
        );
    }

    #[test]
    fn we_refresh_when_a_proxy_asked_or_the_peer_said_uas() {
        let h = headers(&[("Session-Expires", "120")]);
        let t = SessionTimer::for_answer(&h).unwrap().unwrap();
        assert!(t.we_refresh && !t.peer_supports);
        assert_eq!(t.next_deadline(), Duration::from_secs(60));
        let h = headers(&[
            ("Session-Expires", "300;refresher=uas"),
            ("Supported", "timer"),
        ]);
        assert!(SessionTimer::for_answer(&h).unwrap().unwrap().we_refresh);
    }

    #[test]
    fn too_small_or_absent() {
        let h = headers(&[("Session-Expires", "30;refresher=uac")]);
        assert_eq!(SessionTimer::for_answer(&h), Err(TooSmall { asked: 30 }));
        assert_eq!(SessionTimer::for_answer(&Headers::default()), Ok(None));
        let h = headers(&[("Session-Expires", "soon")]);
        assert_eq!(SessionTimer::for_answer(&h), Ok(None));
    }

    #[test]
    fn from_a_2xx() {
        let h = headers(&[("Session-Expires", "600;refresher=uac")]);
        let t = SessionTimer::from_answer(&h).unwrap();
        assert!(t.we_refresh);
        let h = headers(&[("Session-Expires", "600;refresher=uas")]);
        assert!(!SessionTimer::from_answer(&h).unwrap().we_refresh);
    }
}
