//! Scheduling priority of the media workers. A worker sleeps between its
//! slots and must run the moment its timer fires, or every call of the slot
//! is late; on a busy machine only a real-time class gives that (at 10,000
//! calls: p99 spacing 0.1 ms under SCHED_FIFO, 4.6 ms at nice -10).
//! FreeSWITCH and Asterisk raise their media threads the same way.
//!
//! A real-time worker must never spin on something a normal thread holds
//! (it would keep the core from it): its command inbox is a mutex, not a
//! lock-free channel (see `engine::Inbox`), and the kernel leaves 5% of
//! each second to other threads whatever happens.

use serde::Deserialize;

/// What the operator asks for (`[media] priority`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// SCHED_FIFO at a low real-time priority, else `high`.
    #[default]
    Realtime,
    /// nice -10, else normal.
    High,
    /// Leave the scheduler alone.
    Normal,
}

/// Above every normal thread, below the kernel's own real-time threads
/// (50 and up).
const FIFO_PRIORITY: libc::c_int = 10;
const HIGH_NICE: libc::c_int = -10;

/// Apply `want` to the calling thread; returns what it got, for the log
/// (the kernel refuses both without CAP_SYS_NICE or an RLIMIT_RTPRIO).
pub fn apply_to_current_thread(want: Priority) -> Priority {
    if want == Priority::Realtime {
        let param = libc::sched_param {
            sched_priority: FIFO_PRIORITY,
        };
        // SAFETY: the calling thread and a valid sched_param.
        let r =
            unsafe { libc::pthread_setschedparam(libc::pthread_self(), libc::SCHED_FIFO, &param) };
        if r == 0 {
            return Priority::Realtime;
        }
    }
    if want == Priority::Normal {
        return Priority::Normal;
    }
    // SAFETY: gettid has no preconditions; setpriority on a thread id
    // changes that thread only (Linux).
    let r = unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, HIGH_NICE)
    };
    if r == 0 {
        Priority::High
    } else {
        Priority::Normal
    }
}
