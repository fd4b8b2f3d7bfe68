//! RTP port pool: even ports of the configured range (RTP on the even port,
//! the odd one kept for RTCP), handed out round-robin so a freed port rests
//! before it is reused (late packets of the old call then find nobody).

use std::collections::VecDeque;
use std::sync::Mutex;

/// Shared pool of RTP ports.
#[derive(Debug)]
pub struct PortPool {
    free: Mutex<VecDeque<u16>>,
    total: usize,
}

impl PortPool {
    /// Pool over `[min, max]`; odd bounds are rounded inwards.
    pub fn new(min: u16, max: u16) -> Self {
        let first = min + (min & 1);
        let free: VecDeque<u16> = (first..max).step_by(2).collect();
        PortPool {
            total: free.len(),
            free: Mutex::new(free),
        }
    }

    /// Take the port that has rested longest.
    pub fn take(&self) -> Option<u16> {
        self.free.lock().expect("port pool lock").pop_front()
    }

    /// Give a port back; it goes to the end of the line.
    pub fn give_back(&self, port: u16) {
        self.free.lock().expect("port pool lock").push_back(port);
    }

    /// Ports free now.
    pub fn available(&self) -> usize {
        self.free.lock().expect("port pool lock").len()
    }

    /// Ports in the range.
    pub fn total(&self) -> usize {
        self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn even_ports_round_robin_no_leak() {
        let pool = PortPool::new(20001, 20010);
        assert_eq!(pool.total(), 4); // 20002 20004 20006 20008 (20010 needs 20011)
        let a = pool.take().unwrap();
        assert_eq!(a, 20002);
        pool.give_back(a);
        assert_eq!(pool.take(), Some(20004), "freed port rests at the back");
        for _ in 0..10_000 {
            let p = pool.take().unwrap();
            assert_eq!(p % 2, 0);
            pool.give_back(p);
        }
        assert_eq!(pool.available(), 3);
    }
}
