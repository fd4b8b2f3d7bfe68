//! The live board: one task builds the whole picture (queues, agents,
//! calls in progress, file 0, today's figures) four times a second and
//! publishes it only when something changed; `GET /api/v1/live` streams
//! it to each console as Server-Sent Events, cut to what the account may
//! see. A change shows on every wallboard within half a second, and no
//! page polls.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Method};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::watch;

use crate::principal::Principal;
use crate::AdminState;

/// The whole picture at one instant. Times that grow by themselves (a
/// wait, a time in state) travel as the instant they started, to the
/// second: the picture changes only when something happens, and the page
/// counts the seconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Snapshot {
    /// When this picture was published; `None` before the first.
    pub at: Option<DateTime<Utc>>,
    /// Calls in progress on the platform (0 for a queue-limited account).
    pub calls_in_progress: usize,
    /// Each queue, in configuration order.
    pub queues: Vec<QueueLive>,
    /// Each agent, in configuration order (none for the client role).
    pub agents: Vec<AgentLive>,
    /// The file 0 activations in force (none without `File0Read`).
    pub file0: Vec<ivr::Activation>,
    /// Today's figures, in total and per queue.
    pub today: sla::today::Figures,
}

/// One queue now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueLive {
    /// Queue name.
    pub name: String,
    /// In the current configuration; `false`: removed by a reload, serving
    /// its last calls.
    pub active: bool,
    /// Calls waiting, and ringing an agent.
    pub waiting: usize,
    /// Calls ringing one or more agents.
    pub offering: usize,
    /// When the longest waiting call started to wait.
    pub oldest_since: Option<DateTime<Utc>>,
    /// Mean of the last 20 talk + wrap-up durations, in ms (180 s before any).
    pub avg_handle_ms: u64,
    /// Agents whose skills meet the queue's requirement, by state.
    pub agents: acd::AgentCounts,
    /// Codes an agent may qualify a call of this queue with (any if empty).
    pub dispositions: Vec<String>,
}

/// One agent now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentLive {
    /// Agent id.
    pub id: String,
    /// Current state.
    pub state: acd::AgentStateKind,
    /// Pause reason while paused; `None` otherwise.
    pub reason: Option<String>,
    /// The agent's phone is registered.
    pub registered: bool,
    /// The agent is logged in.
    pub logged_in: bool,
    /// When the current state began, to the second.
    pub since: DateTime<Utc>,
    /// Calls answered since login.
    pub calls_answered: u64,
    /// Active queues whose skills this agent meets (the queues it serves).
    pub queues: Vec<String>,
    /// A pause (its reason) asked for while busy, applied after
    /// the call and wrap-up.
    pub pending_pause: Option<String>,
    /// A logout asked for while busy, applied after the call.
    pub pending_logout: bool,
}

/// `now - ms`, to the second.
fn started(now: DateTime<Utc>, ms: u64) -> DateTime<Utc> {
    let t = now - chrono::Duration::milliseconds(ms as i64);
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

fn picture(acd: acd::Snapshot, now: DateTime<Utc>) -> (Vec<QueueLive>, Vec<AgentLive>) {
    let queues = acd
        .queues
        .into_iter()
        .map(|q| QueueLive {
            oldest_since: (q.waiting > 0).then(|| started(now, q.longest_wait_ms)),
            name: q.name,
            active: q.active,
            waiting: q.waiting,
            offering: q.offering,
            avg_handle_ms: q.avg_handle_ms,
            agents: q.agents,
            dispositions: q.dispositions,
        })
        .collect();
    let agents = acd
        .agents
        .into_iter()
        .map(|a| AgentLive {
            since: started(now, a.in_state_ms),
            id: a.id,
            state: a.state,
            reason: a.reason,
            registered: a.registered,
            logged_in: a.logged_in,
            calls_answered: a.calls_answered,
            queues: a.queues,
            pending_pause: a.pending_pause,
            pending_logout: a.pending_logout,
        })
        .collect();
    (queues, agents)
}

impl Snapshot {
    /// What `p` may see: its queues; no agent list for the client role;
    /// the platform's totals only for an account that sees every queue.
    pub fn for_principal(&self, p: &Principal) -> Snapshot {
        let mut s = self.clone();
        s.queues.retain(|q| p.sees(Some(&q.name)));
        s.today.queues.retain(|q, _| p.sees(Some(q)));
        if !p.queues.is_all() {
            s.today.total.clear();
            s.calls_in_progress = 0;
        }
        if p.role == auth::Role::Client {
            s.agents.clear();
        } else {
            s.agents
                .retain(|a| p.queues.is_all() || a.queues.iter().any(|q| p.sees(Some(q))));
        }
        if !p.allows(auth::Perm::File0Read) {
            s.file0.clear();
        }
        s
    }
}

/// Keep the start instants of `cur` in `next` where they moved by a second
/// at most: they are rounded to the second from two clocks read at slightly
/// different instants, and one that flips between two seconds must not
/// republish the whole picture (1,000 agents: a change every second).
fn steady(cur: &Snapshot, next: &mut Snapshot) {
    let close = |a: DateTime<Utc>, b: DateTime<Utc>| (a - b).num_milliseconds().abs() <= 1000;
    let agents: std::collections::HashMap<&str, &AgentLive> =
        cur.agents.iter().map(|a| (a.id.as_str(), a)).collect();
    for a in &mut next.agents {
        if let Some(old) = agents.get(a.id.as_str()) {
            if old.state == a.state && old.reason == a.reason && close(old.since, a.since) {
                a.since = old.since;
            }
        }
    }
    let queues: std::collections::HashMap<&str, &QueueLive> =
        cur.queues.iter().map(|q| (q.name.as_str(), q)).collect();
    for q in &mut next.queues {
        if let (Some(old), Some(new)) = (
            queues.get(q.name.as_str()).and_then(|o| o.oldest_since),
            q.oldest_since,
        ) {
            if close(old, new) {
                q.oldest_since = Some(old);
            }
        }
    }
}

/// The channel the board publishes on.
pub struct Board {
    tx: watch::Sender<Arc<Snapshot>>,
}

impl Default for Board {
    fn default() -> Self {
        Board {
            tx: watch::channel(Arc::new(Snapshot::default())).0,
        }
    }
}

impl Board {
    /// A receiver of every picture published from now on.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.tx.subscribe()
    }

    /// The latest picture published.
    pub fn current(&self) -> Arc<Snapshot> {
        self.tx.borrow().clone()
    }
}

/// Build the picture every 250 ms; publish it when it changed (the time
/// alone does not count, the waits and times in state do).
pub fn spawn(st: Arc<AdminState>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
            let Some(acd) = st.acd.snapshot().await else {
                continue;
            };
            let today = {
                let t = st.today.clone();
                match tokio::task::spawn_blocking(move || t.figures(Utc::now())).await {
                    Ok(f) => f,
                    Err(_) => continue,
                }
            };
            let (queues, agents) = picture(acd, Utc::now());
            let mut next = Snapshot {
                at: None,
                calls_in_progress: st.calls.len(),
                queues,
                agents,
                file0: st.file0.list(),
                today,
            };
            st.board.tx.send_if_modified(|cur| {
                steady(cur, &mut next);
                next.at = cur.at;
                if **cur == next {
                    return false;
                }
                next.at = Some(Utc::now());
                *cur = Arc::new(next);
                true
            });
        }
    });
}

/// `GET /api/v1/live`: the picture now, then at every change. The
/// credentials are checked again at every event and every 15 s: a stream
/// ends when its session expires or its account is disabled.
pub async fn stream(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let rx = st.board.subscribe();
    let state = (st, rx, p, headers, peer, true);
    let events =
        futures_util::stream::unfold(state, |(st, mut rx, _p, headers, peer, first)| async move {
            let changed = if first {
                true
            } else {
                match tokio::time::timeout(Duration::from_secs(15), rx.changed()).await {
                    Ok(Ok(())) => true,
                    Ok(Err(_)) => return None,
                    Err(_) => false,
                }
            };
            let still = crate::principal::resolve(&st, &headers, &Method::GET, peer).ok()?;
            let ev = if changed {
                let snap = rx.borrow_and_update().for_principal(&still);
                Event::default()
                    .event("snapshot")
                    .json_data(&snap)
                    .unwrap_or_else(|_| Event::default().comment("unserialisable snapshot"))
            } else {
                Event::default().comment("still here")
            };
            Some((
                Ok::<_, Infallible>(ev),
                (st, rx, still, headers, peer, false),
            ))
        });
    Sse::new(events).into_response()
}

/// `GET /api/v1/live/snapshot`: the same picture once, as JSON.
pub async fn snapshot(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
) -> Response {
    axum::Json(st.board.current().for_principal(&p)).into_response()
}
