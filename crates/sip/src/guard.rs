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
//!
//! What belongs to work under way still goes through: responses, CANCELs,
//! requests inside a dialog, ACKs of our own answers, and retransmissions
//! of INVITEs already queued. That too has a hard bound, for floods of
//! messages that only look under way: past [`HARD_FACTOR`] times the bound
//! in requests waiting, UDP requests of any kind are dropped (their senders
//! retransmit), and so are UDP responses past as many responses waiting
//! (counted apart, so a flood of forged responses cannot shut requests
//! out). A TCP connection is not read while requests are past the hard
//! bound: TCP senders do not retransmit, flow control holds them. New INVITEs
//! are remembered for as long as they can be retransmitted (64 x T1), with
//! what became of them: a retransmission of a queued INVITE goes on to its
//! transaction, and one of a refused INVITE gets the same 503 again (same
//! To tag, RFC 3261 8.2.7) and no second call record. The ACK of a 503 sent
//! here is dropped here: no transaction waits for it.
//!
//! REGISTER and OPTIONS are new requests like any other: during a flood
//! a phone's registration refresh gets 503 and is retried after
//! Retry-After; a registration lapses only if the flood outlasts it.
//!
//! Each INVITE refused here is handed to the call layer on a bounded
//! channel for its call record; if that channel is full, the refusal is
//! only counted (`shed_unrecorded`).

use std::collections::{HashMap, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rsip::{Header, Method, Request, SipMessage};
use tokio::sync::mpsc;

use crate::endpoint::response_peer;
use crate::message::{self, Essentials};
use crate::transaction::Peer;

/// INVITEs remembered at most, whatever their age: what the transaction
/// layer can take in 32 s at 30,000 a second, and refused ones besides.
/// About 40 bytes each.
const QUEUED_MAX: usize = 1 << 20;
const REFUSED_MAX: usize = 1 << 18;

/// Past this many times `max_backlog`, requests are dropped unanswered.
pub const HARD_FACTOR: usize = 4;

/// The reason given in the 503's Warning and in the call record.
pub const SHED_REASON: &str = "SIP overload";

/// An INVITE refused by the guard, for its call record.
#[derive(Debug)]
pub struct Shed {
    /// The refused INVITE, as read.
    pub request: Request,
    /// Its essential headers.
    pub ess: Essentials,
    /// Where the 503 went (the caller's address as the records give it).
    pub from: Peer,
}

/// Settings of the overload [`Guard`].
#[derive(Debug, Clone, Copy)]
pub struct GuardConfig {
    /// Messages waiting for the transaction layer beyond which new
    /// requests are refused; 0 = no bound (and no guard at all).
    pub max_backlog: usize,
    /// The 503's Retry-After, seconds.
    pub retry_after_s: u32,
    /// How long an INVITE is remembered: as long as it can be
    /// retransmitted (64 x T1).
    pub remember: Duration,
}

impl Default for GuardConfig {
    fn default() -> Self {
        GuardConfig {
            max_backlog: 0,
            retry_after_s: 5,
            remember: Duration::from_secs(32),
        }
    }
}

/// What the guard decided for one message.
pub enum Admit {
    /// Queue it for the transaction layer (counted in the backlog).
    Queue(SipMessage),
    /// Send this stateless 503 back instead, to there.
    Refuse(Bytes, Peer),
    /// Nothing to do (the ACK of a 503 sent here).
    Drop,
}

/// The guard's live gauges and counters (published on `/metrics`).
#[derive(Debug, Default)]
pub struct GuardStats {
    /// Messages read and not yet taken by the transaction layer.
    pub backlog: AtomicUsize,
    /// Of which responses.
    pub responses: AtomicUsize,
    /// New requests refused with 503 for the backlog (not counting
    /// retransmissions of those).
    pub shed: AtomicU64,
    /// Refused INVITEs whose call record was lost.
    pub shed_unrecorded: AtomicU64,
    /// UDP messages dropped past `HARD_FACTOR` x `max_backlog`.
    pub dropped: AtomicU64,
}

/// The overload guard between the SIP transport's readers and the
/// transaction layer; shared by every reader.
pub struct Guard {
    cfg: GuardConfig,
    /// Its live gauges and counters.
    pub stats: GuardStats,
    recent: Mutex<RecentInvites>,
    records: Option<mpsc::Sender<Shed>>,
    /// Refusing now (for the log lines when it starts and stops).
    shedding: AtomicBool,
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
    /// The ACK of a 503 sent here.
    Drop,
    /// Any request, past the hard bound.
    Overflow,
}

impl Guard {
    /// A guard configured by `cfg`. Refused INVITEs are sent on `records` for
    /// their call record; `None`, or a full channel: only counted.
    pub fn new(cfg: GuardConfig, records: Option<mpsc::Sender<Shed>>) -> Guard {
        Guard {
            cfg,
            stats: GuardStats::default(),
            recent: Mutex::new(RecentInvites::default()),
            records,
            shedding: AtomicBool::new(false),
        }
    }

    /// Decide for a message just read from `from` (`ess`: its essential
    /// headers). A queued message must be matched by [`Guard::taken`] when
    /// the transaction layer takes it.
    pub fn admit(&self, msg: SipMessage, ess: Essentials, from: Peer) -> Admit {
        let verdict = self.judge(&msg, &ess, from.transport.reliable());
        if verdict == Verdict::Overflow {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            return Admit::Drop;
        }
        match msg {
            SipMessage::Request(req) if verdict != Verdict::Pass => {
                if verdict == Verdict::Drop {
                    return Admit::Drop;
                }
                let to = response_peer(&req, from);
                Admit::Refuse(self.refuse(req, ess, to, verdict), to)
            }
            msg => {
                if matches!(msg, SipMessage::Response(_)) {
                    self.stats.responses.fetch_add(1, Ordering::Relaxed);
                }
                self.stats.backlog.fetch_add(1, Ordering::Relaxed);
                Admit::Queue(msg)
            }
        }
    }

    /// The transaction layer took a queued message (a response or not).
    pub fn taken(&self, response: bool) {
        if response {
            self.stats.responses.fetch_sub(1, Ordering::Relaxed);
        }
        let backlog = self
            .stats
            .backlog
            .fetch_sub(1, Ordering::Relaxed)
            .saturating_sub(1);
        if backlog <= self.cfg.max_backlog / 2
            && self.shedding.load(Ordering::Relaxed)
            && self.shedding.swap(false, Ordering::Relaxed)
        {
            tracing::info!(backlog, "SIP backlog drained");
        }
    }

    /// Requests waiting (the backlog less its responses).
    fn requests_waiting(&self) -> usize {
        let all = self.stats.backlog.load(Ordering::Relaxed);
        all.saturating_sub(self.stats.responses.load(Ordering::Relaxed))
    }

    fn hard_bound(&self) -> usize {
        self.cfg.max_backlog.saturating_mul(HARD_FACTOR)
    }

    /// A TCP connection should not be read now (requests past the hard
    /// bound): its sender waits, as TCP senders do not retransmit.
    pub fn pause_reading(&self) -> bool {
        self.cfg.max_backlog > 0 && self.requests_waiting() >= self.hard_bound()
    }

    fn judge(&self, msg: &SipMessage, ess: &Essentials, reliable: bool) -> Verdict {
        if self.cfg.max_backlog == 0 {
            return Verdict::Pass;
        }
        let SipMessage::Request(req) = msg else {
            // Responses: work under way, up to the hard bound of their own.
            let responses = self.stats.responses.load(Ordering::Relaxed);
            return if !reliable && responses >= self.hard_bound() {
                Verdict::Overflow
            } else {
                Verdict::Pass
            };
        };
        let requests = self.requests_waiting();
        if !reliable && requests >= self.hard_bound() {
            return Verdict::Overflow;
        }
        let over = requests >= self.cfg.max_backlog;
        match req.method {
            // The ACK of a non-2xx answer has its INVITE's branch.
            Method::Ack => {
                let refused = self
                    .recent
                    .lock()
                    .expect("guard lock")
                    .fate(invite_key(ess));
                if refused == Some(Fate::Refused) {
                    Verdict::Drop
                } else {
                    Verdict::Pass
                }
            }
            Method::Cancel => Verdict::Pass,
            _ if ess.to_tag.is_some() => Verdict::Pass,
            Method::Invite => {
                let key = invite_key(ess);
                let mut recent = self.recent.lock().expect("guard lock");
                // Read under the lock, so the lists stay in time order.
                let now = Instant::now();
                recent.expire(now, self.cfg.remember);
                match recent.fate(key) {
                    Some(Fate::Queued) => Verdict::Pass,
                    Some(Fate::Refused) => Verdict::RefuseAgain,
                    None if over => {
                        recent.insert(key, Fate::Refused, now);
                        Verdict::RefuseInvite
                    }
                    None => {
                        recent.insert(key, Fate::Queued, now);
                        Verdict::Pass
                    }
                }
            }
            _ if over => Verdict::Refuse,
            _ => Verdict::Pass,
        }
    }

    fn refuse(&self, req: Request, ess: Essentials, to: Peer, verdict: Verdict) -> Bytes {
        let key = invite_key(&ess);
        if verdict != Verdict::RefuseAgain {
            self.stats.shed.fetch_add(1, Ordering::Relaxed);
            if !self.shedding.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    backlog = self.stats.backlog.load(Ordering::Relaxed),
                    max_backlog = self.cfg.max_backlog,
                    "SIP backlog at its bound: new requests get 503 while it stays there"
                );
            }
        }
        // The same tag for every retransmission of the request.
        let tag = format!("{key:016x}");
        let mut r = message::response(&req, 503, Some(&tag));
        r.headers.push(Header::RetryAfter(
            self.cfg.retry_after_s.to_string().into(),
        ));
        r.headers.push(Header::Warning(
            format!("399 softswitch \"{SHED_REASON}\"").into(),
        ));
        let reply = Bytes::from(message::encode(&SipMessage::Response(r)));
        if verdict == Verdict::RefuseInvite {
            let shed = Shed {
                request: req,
                ess,
                from: to,
            };
            let recorded = self
                .records
                .as_ref()
                .is_some_and(|tx| tx.try_send(shed).is_ok());
            if !recorded {
                self.stats.shed_unrecorded.fetch_add(1, Ordering::Relaxed);
            }
        }
        reply
    }
}

/// An INVITE transaction's identity across retransmissions (RFC 3261
/// 17.2.3: the top Via's branch and sent-by), with its Call-ID and CSeq
/// number (for senders without a branch: a new attempt has a new CSeq;
/// the ACK of a non-2xx answer keeps its INVITE's number).
fn invite_key(ess: &Essentials) -> u64 {
    let mut h = DefaultHasher::new();
    (&ess.branch, &ess.sent_by, &ess.call_id, ess.cseq).hash(&mut h);
    h.finish()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Queued,
    Refused,
}

/// New INVITEs and their fate, forgotten once they can no longer be
/// retransmitted, or (past a size bound) oldest first, refused ones
/// apart from queued ones: forgetting a queued INVITE early would refuse
/// its retransmission while its call goes on.
#[derive(Default)]
struct RecentInvites {
    fates: HashMap<u64, Fate>,
    queued: VecDeque<(Instant, u64)>,
    refused: VecDeque<(Instant, u64)>,
}

impl RecentInvites {
    fn fate(&self, k: u64) -> Option<Fate> {
        self.fates.get(&k).copied()
    }

    fn insert(&mut self, k: u64, fate: Fate, now: Instant) {
        self.fates.insert(k, fate);
        let (list, max) = match fate {
            Fate::Queued => (&mut self.queued, QUEUED_MAX),
            Fate::Refused => (&mut self.refused, REFUSED_MAX),
        };
        list.push_back((now, k));
        if list.len() > max {
            if let Some((_, old)) = list.pop_front() {
                self.fates.remove(&old);
            }
        }
    }

    fn expire(&mut self, now: Instant, remember: Duration) {
        for list in [&mut self.queued, &mut self.refused] {
            while let Some(&(at, k)) = list.front() {
                if now.saturating_duration_since(at) <= remember {
                    break;
                }
                list.pop_front();
                self.fates.remove(&k);
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

    fn request(method: &str, branch: &str, to_tag: Option<&str>) -> (SipMessage, Essentials) {
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
        let msg = parse::parse(text.as_bytes()).expect("test request");
        let ess = Essentials::of(&msg).expect("test essentials");
        (msg, ess)
    }

    fn admit(g: &Guard, method: &str, branch: &str, to_tag: Option<&str>) -> Admit {
        let (msg, ess) = request(method, branch, to_tag);
        g.admit(msg, ess, peer())
    }

    fn queued(a: Admit) -> bool {
        matches!(a, Admit::Queue(_))
    }

    fn refused(a: Admit) -> Option<String> {
        match a {
            Admit::Refuse(reply, _) => Some(String::from_utf8(reply.to_vec()).unwrap()),
            _ => None,
        }
    }

    fn bounded(max_backlog: usize) -> GuardConfig {
        GuardConfig {
            max_backlog,
            retry_after_s: 7,
            remember: Duration::from_secs(32),
        }
    }

    #[test]
    fn no_bound_queues_everything_and_remembers_nothing() {
        let g = Guard::new(GuardConfig::default(), None);
        for i in 0..100 {
            assert!(queued(admit(&g, "INVITE", &format!("z9hG4bK{i}"), None)));
        }
        assert_eq!(g.stats.backlog.load(Ordering::Relaxed), 100);
        assert_eq!(g.stats.shed.load(Ordering::Relaxed), 0);
        assert!(g.recent.lock().unwrap().fates.is_empty());
    }

    #[test]
    fn past_the_bound_new_requests_get_503_and_work_under_way_passes() {
        let (tx, mut rx) = mpsc::channel(8);
        let g = Guard::new(bounded(2), Some(tx));
        assert!(queued(admit(&g, "INVITE", "z9hG4bKa", None)));
        assert!(queued(admit(&g, "OPTIONS", "z9hG4bKo", None)));
        // Two waiting: the bound.
        let (msg, ess) = request("INVITE", "z9hG4bKb", None);
        let Admit::Refuse(reply, to) = g.admit(msg, ess, peer()) else {
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
        assert_eq!(shed.ess.call_id, "z9hG4bKb@test");
        assert!(refused(admit(&g, "REGISTER", "z9hG4bKr", None)).is_some());
        assert!(rx.try_recv().is_err(), "no call record for a REGISTER");
        // The refused INVITE retransmitted: the same 503 (same tag), no
        // second record.
        let again = refused(admit(&g, "INVITE", "z9hG4bKb", None)).expect("refused again");
        let tag = |t: &str| {
            t.lines()
                .find(|l| l.starts_with("To:"))
                .unwrap()
                .to_string()
        };
        assert_eq!(tag(&again), tag(&text));
        assert!(rx.try_recv().is_err(), "one record per refused call");
        // Its ACK stops here; nothing waits for it.
        assert!(matches!(
            admit(&g, "ACK", "z9hG4bKb", Some("t")),
            Admit::Drop
        ));
        // Under way: a retransmitted INVITE already queued, its ACK and
        // CANCEL, a request inside a dialog.
        assert!(queued(admit(&g, "INVITE", "z9hG4bKa", None)));
        assert!(queued(admit(&g, "CANCEL", "z9hG4bKa", None)));
        assert!(queued(admit(&g, "ACK", "z9hG4bKa", Some("t1"))));
        assert!(queued(admit(&g, "BYE", "z9hG4bKy", Some("t1"))));
        assert_eq!(g.stats.shed.load(Ordering::Relaxed), 2);
        // The transaction layer catches up: new calls come in again, but
        // a call refused stays refused (its caller has its 503).
        for _ in 0..6 {
            g.taken(false);
        }
        assert!(queued(admit(&g, "INVITE", "z9hG4bKc", None)));
        assert!(refused(admit(&g, "INVITE", "z9hG4bKb", None)).is_some());
        assert_eq!(
            g.stats.shed.load(Ordering::Relaxed),
            2,
            "refusals, not retransmissions"
        );
    }

    fn response(branch: &str) -> (SipMessage, Essentials) {
        let text = format!(
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch={branch}\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:b@127.0.0.1>;tag=2\r\nCall-ID: {branch}@test\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n"
        );
        let msg = parse::parse(text.as_bytes()).unwrap();
        let ess = Essentials::of(&msg).unwrap();
        (msg, ess)
    }

    #[test]
    fn past_the_hard_bound_udp_requests_are_dropped_and_responses_counted_apart() {
        let g = Guard::new(bounded(1), None);
        for i in 0..HARD_FACTOR {
            assert!(queued(admit(&g, "BYE", &format!("z9hG4bKh{i}"), Some("t"))));
        }
        assert!(g.pause_reading(), "TCP connections wait");
        assert!(matches!(
            admit(&g, "BYE", "z9hG4bKlast", Some("t")),
            Admit::Drop
        ));
        assert!(matches!(admit(&g, "INVITE", "z9hG4bKn", None), Admit::Drop));
        assert_eq!(g.stats.dropped.load(Ordering::Relaxed), 2);
        // Over TCP nothing is dropped: the connection stops being read.
        let tcp = Peer {
            transport: Transport::Tcp,
            ..peer()
        };
        let (msg, ess) = request("BYE", "z9hG4bKtcp", Some("t"));
        assert!(queued(g.admit(msg, ess, tcp)));
        // Responses have their own bound: requests past theirs do not
        // stop them, and a flood of responses does not count as requests.
        for i in 0..HARD_FACTOR {
            let (msg, ess) = response(&format!("z9hG4bKr{i}"));
            assert!(queued(g.admit(msg, ess, peer())));
        }
        let (msg, ess) = response("z9hG4bKrlast");
        assert!(matches!(g.admit(msg, ess, peer()), Admit::Drop));
        for _ in 0..=HARD_FACTOR {
            g.taken(false);
        }
        assert!(!g.pause_reading());
        assert!(
            queued(admit(&g, "BYE", "z9hG4bKafter", Some("t"))),
            "{HARD_FACTOR} responses waiting do not hold requests back"
        );
    }

    #[test]
    fn a_full_record_channel_counts_the_refusal_unrecorded() {
        let (tx, _rx) = mpsc::channel(1);
        let g = Guard::new(bounded(1), Some(tx));
        assert!(queued(admit(&g, "INVITE", "z9hG4bK0", None)));
        for i in 1..4 {
            assert!(refused(admit(&g, "INVITE", &format!("z9hG4bK{i}"), None)).is_some());
        }
        assert_eq!(g.stats.shed.load(Ordering::Relaxed), 3);
        assert_eq!(g.stats.shed_unrecorded.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn invites_are_remembered_while_they_can_be_retransmitted() {
        let mut r = RecentInvites::default();
        let t0 = Instant::now();
        let remember = Duration::from_secs(32);
        r.insert(1, Fate::Queued, t0);
        r.insert(2, Fate::Refused, t0 + Duration::from_secs(10));
        r.expire(t0 + Duration::from_secs(31), remember);
        assert_eq!(r.fate(1), Some(Fate::Queued));
        r.expire(t0 + Duration::from_secs(33), remember);
        assert_eq!(r.fate(1), None, "past 64 x T1");
        assert_eq!(r.fate(2), Some(Fate::Refused));
        // Past the size bound, refused INVITEs go without touching the
        // queued ones.
        for k in 0..(REFUSED_MAX as u64 + 10) {
            r.insert(100 + k, Fate::Refused, t0);
        }
        r.insert(3, Fate::Queued, t0);
        assert_eq!(r.fate(2), None);
        assert_eq!(r.fate(100 + 9), None);
        assert_eq!(r.fate(100 + 10), Some(Fate::Refused));
        assert_eq!(r.fate(3), Some(Fate::Queued));
        assert_eq!(r.refused.len(), REFUSED_MAX);
    }
}
