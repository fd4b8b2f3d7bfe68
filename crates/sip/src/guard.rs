//! Overload guard at the SIP transport: a bound on the messages read but
//! not yet taken by the transaction layer.
//!
//! Under a flood of new calls the transaction layer (one task) is what
//! falls behind: measured with 6,000 INVITEs a second and no call-rate
//! limit, its inbound queue grew to 60,000 messages (over ten seconds of
//! waiting), callers retransmitted every message still queued, and each
//! retransmission joined the queue. Past `max_backlog` messages waiting,
//! new requests (out of dialog, not ACK or CANCEL) are answered at once
//! with a stateless 503 and Retry-After, before any transaction exists.
//! What belongs to work under way still goes through: responses, ACKs,
//! CANCELs, requests inside a dialog, and retransmissions of INVITEs
//! already queued (remembered by their Via branch), so no call already
//! taken in is refused late. A retransmission of an INVITE refused here
//! gets the same 503 again, and no second call record.
//!
//! Each INVITE refused here is handed to the call layer on a bounded
//! channel for its call record; if that channel is full too, the refusal
//! is only counted (`shed_unrecorded`).

use std::collections::{HashMap, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use bytes::Bytes;
use rsip::{Header, Method, Request, SipMessage};
use tokio::sync::mpsc;

use crate::endpoint::response_peer;
use crate::message::{self, Essentials};
use crate::transaction::Peer;

/// INVITE branches remembered: at 2,000 new calls a second, the last
/// 65 s, over the 32 s an INVITE is retransmitted for (64 x T1).
const RECENT_INVITES: usize = 131_072;

/// The reason given in the 503's Warning and in the call record.
pub const SHED_REASON: &str = "SIP overload";

/// An INVITE refused by the guard, for its call record.
#[derive(Debug)]
pub struct Shed {
    pub request: Request,
    pub from: Peer,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct GuardConfig {
    /// Messages waiting for the transaction layer beyond which new
    /// requests are refused; 0 = no bound.
    pub max_backlog: usize,
    /// The 503's Retry-After, seconds.
    pub retry_after_s: u32,
}

/// What the guard decided for one message.
pub enum Admit {
    /// Queue it for the transaction layer (counted in the backlog).
    Queue(SipMessage),
    /// Send this stateless 503 back instead, to there.
    Refuse(Bytes, Peer),
}

#[derive(Debug, Default)]
pub struct GuardStats {
    /// Messages read and not yet taken by the transaction layer.
    pub backlog: AtomicUsize,
    /// New requests refused with 503 for the backlog.
    pub shed: AtomicU64,
    /// Refused INVITEs whose call record could not be queued.
    pub shed_unrecorded: AtomicU64,
}

pub struct Guard {
    cfg: GuardConfig,
    pub stats: GuardStats,
    recent: Mutex<RecentInvites>,
    records: Option<mpsc::Sender<Shed>>,
}

impl Guard {
    pub fn new(cfg: GuardConfig, records: Option<mpsc::Sender<Shed>>) -> Guard {
        Guard {
            cfg,
            stats: GuardStats::default(),
            recent: Mutex::new(RecentInvites::default()),
            records,
        }
    }

    /// Decide for a message just read from `from`. A queued message must
    /// be matched by [`Guard::taken`] when the transaction layer takes it.
    pub fn admit(&self, msg: SipMessage, from: Peer) -> Admit {
        let verdict = self.judge(&msg);
        match msg {
            SipMessage::Request(req) if verdict != Verdict::Pass => {
                let to = response_peer(&req, from);
                Admit::Refuse(self.refuse(req, from, verdict), to)
            }
            msg => {
                self.stats.backlog.fetch_add(1, Ordering::Relaxed);
                Admit::Queue(msg)
            }
        }
    }

    /// New INVITEs are remembered with what became of them, so that
    /// their retransmissions meet the same fate: passed on to their
    /// transaction, or refused again without a second call record.
    fn judge(&self, msg: &SipMessage) -> Verdict {
        let SipMessage::Request(req) = msg else {
            return Verdict::Pass; // responses: work under way
        };
        let Ok(ess) = Essentials::of(msg) else {
            return Verdict::Pass; // the transaction layer answers it
        };
        let under_way = ess.to_tag.is_some() || matches!(req.method, Method::Ack | Method::Cancel);
        let over = self.cfg.max_backlog > 0
            && self.stats.backlog.load(Ordering::Relaxed) >= self.cfg.max_backlog;
        if under_way || req.method != Method::Invite {
            return if over && !under_way {
                Verdict::Refuse
            } else {
                Verdict::Pass
            };
        }
        let key = invite_key(&ess);
        let mut recent = self.recent.lock().expect("guard lock");
        match recent.fate(key) {
            Some(Fate::Queued) => Verdict::Pass,
            Some(Fate::Refused) => Verdict::RefuseAgain,
            None if over => {
                recent.insert(key, Fate::Refused);
                Verdict::RefuseInvite
            }
            None => {
                recent.insert(key, Fate::Queued);
                Verdict::Pass
            }
        }
    }

    /// The transaction layer took a queued message.
    pub fn taken(&self) {
        self.stats.backlog.fetch_sub(1, Ordering::Relaxed);
    }

    fn refuse(&self, req: Request, from: Peer, verdict: Verdict) -> Bytes {
        if verdict != Verdict::RefuseAgain {
            self.stats.shed.fetch_add(1, Ordering::Relaxed);
        }
        let mut r = message::response(&req, 503, Some(&message::random_token(8)));
        r.headers.push(Header::RetryAfter(
            self.cfg.retry_after_s.to_string().into(),
        ));
        r.headers.push(Header::Warning(
            format!("399 softswitch \"{SHED_REASON}\"").into(),
        ));
        let reply = Bytes::from(message::encode(&SipMessage::Response(r)));
        if verdict == Verdict::RefuseInvite {
            let recorded = self
                .records
                .as_ref()
                .is_some_and(|tx| tx.try_send(Shed { request: req, from }).is_ok());
            if !recorded {
                self.stats.shed_unrecorded.fetch_add(1, Ordering::Relaxed);
            }
        }
        reply
    }
}

/// An INVITE transaction's identity across retransmissions (RFC 3261
/// 17.2.3: the top Via's branch and sent-by), with its Call-ID.
fn invite_key(ess: &Essentials) -> u64 {
    let mut h = DefaultHasher::new();
    (&ess.branch, &ess.sent_by, &ess.call_id).hash(&mut h);
    h.finish()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Pass,
    /// A new request other than INVITE.
    Refuse,
    /// A new INVITE: 503, and a call record.
    RefuseInvite,
    /// A retransmission of an INVITE refused already: the same 503 again.
    RefuseAgain,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Queued,
    Refused,
}

/// The last [`RECENT_INVITES`] new INVITEs and their fate, oldest
/// forgotten first.
#[derive(Default)]
struct RecentInvites {
    fates: HashMap<u64, Fate>,
    order: VecDeque<u64>,
}

impl RecentInvites {
    fn fate(&self, k: u64) -> Option<Fate> {
        self.fates.get(&k).copied()
    }

    fn insert(&mut self, k: u64, fate: Fate) {
        if self.fates.insert(k, fate).is_some() {
            return;
        }
        self.order.push_back(k);
        if self.order.len() > RECENT_INVITES {
            if let Some(old) = self.order.pop_front() {
                self.fates.remove(&old);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;
    use crate::transaction::Transport;

    fn peer() -> Peer {
        Peer {
            transport: Transport::Udp,
            addr: "127.0.0.1:5099".parse().unwrap(),
            conn: None,
        }
    }

    fn request(method: &str, branch: &str, to_tag: Option<&str>) -> SipMessage {
        let to = match to_tag {
            Some(t) => format!("<sip:7100@127.0.0.1>;tag={t}"),
            None => "<sip:7100@127.0.0.1>".to_string(),
        };
        let text = format!(
            "{method} sip:7100@127.0.0.1 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:5099;branch={branch}\r\n\
             From: <sip:caller@127.0.0.1>;tag=f1\r\n\
             To: {to}\r\n\
             Call-ID: {branch}@test\r\n\
             CSeq: 1 {method}\r\n\
             Max-Forwards: 70\r\n\
             Content-Length: 0\r\n\r\n"
        );
        parse::parse(text.as_bytes()).expect("test request")
    }

    fn queued(a: Admit) -> bool {
        matches!(a, Admit::Queue(_))
    }

    #[test]
    fn no_bound_queues_everything() {
        let g = Guard::new(GuardConfig::default(), None);
        for i in 0..100 {
            assert!(queued(
                g.admit(request("INVITE", &format!("z9hG4bK{i}"), None), peer())
            ));
        }
        assert_eq!(g.stats.backlog.load(Ordering::Relaxed), 100);
        assert_eq!(g.stats.shed.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn past_the_bound_new_requests_get_503_and_work_under_way_passes() {
        let (tx, mut rx) = mpsc::channel(8);
        let cfg = GuardConfig {
            max_backlog: 2,
            retry_after_s: 7,
        };
        let g = Guard::new(cfg, Some(tx));
        assert!(queued(g.admit(request("INVITE", "z9hG4bKa", None), peer())));
        assert!(queued(
            g.admit(request("OPTIONS", "z9hG4bKo", None), peer())
        ));
        // Two waiting: the bound.
        let Admit::Refuse(reply, to) = g.admit(request("INVITE", "z9hG4bKb", None), peer()) else {
            panic!("a new INVITE past the bound is refused");
        };
        let text = String::from_utf8(reply.to_vec()).unwrap();
        assert!(text.starts_with("SIP/2.0 503"), "{text}");
        assert!(text.contains("Retry-After: 7"), "{text}");
        assert!(text.contains("SIP overload"), "{text}");
        assert!(text.contains("branch=z9hG4bKb"), "{text}");
        assert_eq!(to.addr, peer().addr, "back where it came from");
        let shed = rx
            .try_recv()
            .expect("the refused INVITE goes for its record");
        assert_eq!(shed.request.method, Method::Invite);
        assert!(matches!(
            g.admit(request("REGISTER", "z9hG4bKr", None), peer()),
            Admit::Refuse(..)
        ));
        assert!(rx.try_recv().is_err(), "no call record for a REGISTER");
        // The refused INVITE retransmitted: refused again, no second record.
        assert!(matches!(
            g.admit(request("INVITE", "z9hG4bKb", None), peer()),
            Admit::Refuse(..)
        ));
        assert!(rx.try_recv().is_err(), "one record per refused call");
        // Under way: a retransmitted INVITE already queued, its ACK and
        // CANCEL, a request inside a dialog.
        assert!(queued(g.admit(request("INVITE", "z9hG4bKa", None), peer())));
        assert!(queued(g.admit(request("CANCEL", "z9hG4bKa", None), peer())));
        assert!(queued(
            g.admit(request("ACK", "z9hG4bKa", Some("t1")), peer())
        ));
        assert!(queued(
            g.admit(request("BYE", "z9hG4bKy", Some("t1")), peer())
        ));
        assert_eq!(g.stats.shed.load(Ordering::Relaxed), 2);
        // The transaction layer catches up: new calls come in again, but
        // a call refused stays refused (its caller has its 503).
        for _ in 0..6 {
            g.taken();
        }
        assert!(queued(g.admit(request("INVITE", "z9hG4bKc", None), peer())));
        assert!(matches!(
            g.admit(request("INVITE", "z9hG4bKb", None), peer()),
            Admit::Refuse(..)
        ));
        assert_eq!(
            g.stats.shed.load(Ordering::Relaxed),
            2,
            "refusals, not retransmissions"
        );
    }

    #[test]
    fn a_full_record_channel_counts_the_refusal_unrecorded() {
        let (tx, _rx) = mpsc::channel(1);
        let cfg = GuardConfig {
            max_backlog: 1,
            retry_after_s: 5,
        };
        let g = Guard::new(cfg, Some(tx));
        assert!(queued(g.admit(request("INVITE", "z9hG4bK0", None), peer())));
        for i in 1..4 {
            let a = g.admit(request("INVITE", &format!("z9hG4bK{i}"), None), peer());
            assert!(matches!(a, Admit::Refuse(..)));
        }
        assert_eq!(g.stats.shed.load(Ordering::Relaxed), 3);
        assert_eq!(g.stats.shed_unrecorded.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn the_oldest_invites_are_forgotten_first() {
        let mut r = RecentInvites::default();
        for k in 0..(RECENT_INVITES as u64 + 10) {
            r.insert(k, Fate::Queued);
        }
        assert_eq!(r.fate(0), None);
        assert_eq!(r.fate(9), None);
        assert_eq!(r.fate(10), Some(Fate::Queued));
        assert_eq!(r.fate(RECENT_INVITES as u64 + 9), Some(Fate::Queued));
        assert_eq!(r.fates.len(), RECENT_INVITES);
    }
}
