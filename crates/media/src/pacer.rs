//! The media workers' clock: a one-shot timerfd registered with mio, armed
//! for the next slot that has something to send. A poll timeout is rounded
//! up to whole milliseconds, which alone moved every call's packets by up
//! to 1 ms from one tick to the next; a timerfd fires with the kernel's
//! timer precision (tens of microseconds).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

/// One-shot timer; its expiration makes its token readable.
pub struct Pacer {
    fd: OwnedFd,
}

impl Pacer {
    /// A timer, not armed yet.
    pub fn new() -> io::Result<Pacer> {
        // SAFETY: plain syscall; the fd is owned right after.
        let raw = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        Ok(Pacer { fd })
    }

    /// Fire once at `at` (at once if it has passed); replaces any earlier
    /// arming. Never fires before `at`.
    pub fn arm(&self, at: Instant) -> io::Result<()> {
        // A zero value would disarm the timer: one nanosecond instead.
        let after = at
            .saturating_duration_since(Instant::now())
            .max(Duration::from_nanos(1));
        let its = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: after.as_secs() as libc::time_t,
                tv_nsec: after.subsec_nanos() as libc::c_long,
            },
        };
        // SAFETY: a valid itimerspec; the old value is not asked for.
        let r =
            unsafe { libc::timerfd_settime(self.fd.as_raw_fd(), 0, &its, std::ptr::null_mut()) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Wake `token` of `registry` at each tick.
    pub fn register(&self, registry: &Registry, token: Token) -> io::Result<()> {
        registry.register(
            &mut SourceFd(&self.fd.as_raw_fd()),
            token,
            Interest::READABLE,
        )
    }

    /// Clear the readiness; returns whether the timer had fired.
    pub fn acknowledge(&self) -> bool {
        let mut n = [0u8; 8];
        // SAFETY: reads 8 bytes into an 8-byte buffer.
        let r = unsafe { libc::read(self.fd.as_raw_fd(), n.as_mut_ptr().cast(), 8) };
        r == 8 && u64::from_ne_bytes(n) > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mio::{Events, Poll};

    #[test]
    fn fires_once_and_not_before() {
        let mut poll = Poll::new().unwrap();
        let pacer = Pacer::new().unwrap();
        pacer.register(poll.registry(), Token(7)).unwrap();
        let mut events = Events::with_capacity(4);
        for _ in 0..3 {
            let at = Instant::now() + Duration::from_millis(2);
            pacer.arm(at).unwrap();
            poll.poll(&mut events, Some(Duration::from_secs(1)))
                .unwrap();
            assert_eq!(events.iter().next().map(|e| e.token()), Some(Token(7)));
            assert!(Instant::now() >= at, "never early");
            assert!(pacer.acknowledge());
        }
        assert!(!pacer.acknowledge(), "one shot: nothing more");
        poll.poll(&mut events, Some(Duration::from_millis(20)))
            .unwrap();
        assert!(events.is_empty(), "not periodic");
    }
}
