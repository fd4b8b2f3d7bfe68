//! Batched UDP I/O for Linux: `recvmmsg` (every datagram queued on one
//! socket in one system call, optionally with the kernel's receive time)
//! and `sendmmsg` (datagrams to many destinations from one socket in one
//! call). Neither std nor mio offers them; this is a thin wrapper over libc
//! that keeps every pointer inside buffers it owns.

use std::io;
use std::mem;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::RawFd;
use std::ptr;
use std::time::Duration;

/// Room for one datagram (RTP packets here are at most a few hundred bytes).
pub const SLOT: usize = 2048;
/// Room for the control messages of one datagram (a timestamp).
const CTRL: usize = 64;

/// Buffers for receiving up to `capacity` datagrams at once.
pub struct RecvBatch {
    bufs: Vec<u8>,
    names: Vec<libc::sockaddr_storage>,
    ctrl: Vec<u8>,
    iovs: Vec<libc::iovec>,
    msgs: Vec<libc::mmsghdr>,
    timestamps: bool,
    len: usize,
}

// SAFETY: the raw pointers in `iovs` and `msgs` only ever point into this
// struct's own heap buffers, and are rewritten before every system call.
unsafe impl Send for RecvBatch {}

impl RecvBatch {
    /// `timestamps`: read the kernel receive time of each datagram (the
    /// socket needs [`enable_timestamps`]).
    pub fn new(capacity: usize, timestamps: bool) -> Self {
        let capacity = capacity.max(1);
        RecvBatch {
            bufs: vec![0; capacity * SLOT],
            // SAFETY: all-zero is a valid sockaddr_storage, iovec and mmsghdr.
            names: vec![unsafe { mem::zeroed() }; capacity],
            ctrl: vec![0; capacity * CTRL],
            iovs: vec![unsafe { mem::zeroed() }; capacity],
            msgs: vec![unsafe { mem::zeroed() }; capacity],
            timestamps,
            len: 0,
        }
    }

    /// Datagrams one call can read.
    pub fn capacity(&self) -> usize {
        self.msgs.len()
    }

    /// Read what is queued on `fd` without waiting, up to the capacity.
    /// `Ok(n)` with `n < capacity` means the socket was drained; nothing
    /// queued is `Err(WouldBlock)`.
    pub fn recv(&mut self, fd: RawFd) -> io::Result<usize> {
        let n = self.msgs.len();
        for i in 0..n {
            self.iovs[i] = libc::iovec {
                iov_base: self.bufs[i * SLOT..].as_mut_ptr().cast(),
                iov_len: SLOT,
            };
            let h = &mut self.msgs[i].msg_hdr;
            h.msg_name = (&mut self.names[i] as *mut libc::sockaddr_storage).cast();
            h.msg_namelen = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            h.msg_iov = &mut self.iovs[i];
            h.msg_iovlen = 1;
            if self.timestamps {
                h.msg_control = self.ctrl[i * CTRL..].as_mut_ptr().cast();
                h.msg_controllen = CTRL as _;
            } else {
                h.msg_control = ptr::null_mut();
                h.msg_controllen = 0;
            }
            h.msg_flags = 0;
            self.msgs[i].msg_len = 0;
        }
        // SAFETY: `msgs` holds `n` headers whose pointers reference live
        // buffers of the sizes given; the kernel writes only within them.
        let r = unsafe {
            libc::recvmmsg(
                fd,
                self.msgs.as_mut_ptr(),
                n as libc::c_uint,
                libc::MSG_DONTWAIT,
                ptr::null_mut(),
            )
        };
        if r < 0 {
            self.len = 0;
            return Err(io::Error::last_os_error());
        }
        self.len = r as usize;
        Ok(self.len)
    }

    /// Datagrams read by the last [`RecvBatch::recv`].
    pub fn len(&self) -> usize {
        self.len
    }

    /// No datagram was read.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Payload of datagram `i` (cut to [`SLOT`] if it was longer).
    pub fn data(&self, i: usize) -> &[u8] {
        let n = (self.msgs[i].msg_len as usize).min(SLOT);
        &self.bufs[i * SLOT..i * SLOT + n]
    }

    /// The datagram did not fit its slot.
    pub fn truncated(&self, i: usize) -> bool {
        self.msgs[i].msg_hdr.msg_flags & libc::MSG_TRUNC != 0
    }

    /// Where datagram `i` came from.
    pub fn source(&self, i: usize) -> Option<SocketAddr> {
        from_storage(&self.names[i], self.msgs[i].msg_hdr.msg_namelen)
    }

    /// Kernel receive time (since the Unix epoch) of datagram `i`, when
    /// timestamps were asked for and the socket has them enabled.
    pub fn received_at(&self, i: usize) -> Option<Duration> {
        if !self.timestamps {
            return None;
        }
        let h = &self.msgs[i].msg_hdr;
        // SAFETY: the CMSG macros walk the control buffer the kernel filled,
        // bounded by `msg_controllen`; the timespec is read unaligned.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(h);
            while !c.is_null() {
                if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                    let ts: libc::timespec = ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                    return Some(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32));
                }
                c = libc::CMSG_NXTHDR(h, c);
            }
        }
        None
    }
}

/// Ask the kernel to stamp each datagram received on `fd` (SO_TIMESTAMPNS).
pub fn enable_timestamps(fd: RawFd) -> io::Result<()> {
    set_int_option(fd, libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, 1)
}

/// A receive buffer of `bytes`, above `net.core.rmem_max` when the process
/// may (SO_RCVBUFFORCE), else as large as allowed.
pub fn set_receive_buffer(fd: RawFd, bytes: usize) -> io::Result<()> {
    let n = bytes.min(i32::MAX as usize) as libc::c_int;
    set_int_option(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, n)
        .or_else(|_| set_int_option(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, n))
}

/// Same for the send buffer (SO_SNDBUFFORCE, else SO_SNDBUF).
pub fn set_send_buffer(fd: RawFd, bytes: usize) -> io::Result<()> {
    let n = bytes.min(i32::MAX as usize) as libc::c_int;
    set_int_option(fd, libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, n)
        .or_else(|_| set_int_option(fd, libc::SOL_SOCKET, libc::SO_SNDBUF, n))
}

fn set_int_option(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    v: libc::c_int,
) -> io::Result<()> {
    // SAFETY: a plain int option, its size given.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&v as *const libc::c_int).cast(),
            mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Up to `capacity` datagrams, each to its own destination, sent from one
/// socket in one call.
pub struct SendBatch {
    bufs: Vec<u8>,
    lens: Vec<usize>,
    names: Vec<libc::sockaddr_storage>,
    namelens: Vec<libc::socklen_t>,
    iovs: Vec<libc::iovec>,
    msgs: Vec<libc::mmsghdr>,
    len: usize,
}

// SAFETY: as for RecvBatch, pointers are into owned buffers and rewritten
// before each call.
unsafe impl Send for SendBatch {}

impl SendBatch {
    /// Room for `capacity` datagrams (at least one).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        SendBatch {
            bufs: vec![0; capacity * SLOT],
            lens: vec![0; capacity],
            // SAFETY: all-zero is valid for these C structs.
            names: vec![unsafe { mem::zeroed() }; capacity],
            namelens: vec![0; capacity],
            iovs: vec![unsafe { mem::zeroed() }; capacity],
            msgs: vec![unsafe { mem::zeroed() }; capacity],
            len: 0,
        }
    }

    /// No room for another datagram.
    pub fn is_full(&self) -> bool {
        self.len == self.msgs.len()
    }

    /// Datagrams queued.
    pub fn len(&self) -> usize {
        self.len
    }

    /// No datagram queued.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Queue a datagram to `to`, built by `fill` into a [`SLOT`]-byte
    /// buffer (it returns the length). False when the batch is full.
    pub fn push(&mut self, to: SocketAddr, fill: impl FnOnce(&mut [u8]) -> usize) -> bool {
        if self.is_full() {
            return false;
        }
        let i = self.len;
        let n = fill(&mut self.bufs[i * SLOT..(i + 1) * SLOT]);
        self.lens[i] = n.min(SLOT);
        self.namelens[i] = to_storage(to, &mut self.names[i]);
        self.len += 1;
        true
    }

    /// Send everything queued; returns how many went out. Datagrams the
    /// socket had no room for (WouldBlock) are dropped, as a paced sender
    /// must not wait. The batch is empty afterwards.
    pub fn flush(&mut self, fd: RawFd) -> io::Result<usize> {
        let n = self.len;
        for i in 0..n {
            self.iovs[i] = libc::iovec {
                iov_base: self.bufs[i * SLOT..].as_mut_ptr().cast(),
                iov_len: self.lens[i],
            };
            let h = &mut self.msgs[i].msg_hdr;
            h.msg_name = (&mut self.names[i] as *mut libc::sockaddr_storage).cast();
            h.msg_namelen = self.namelens[i];
            h.msg_iov = &mut self.iovs[i];
            h.msg_iovlen = 1;
            h.msg_control = ptr::null_mut();
            h.msg_controllen = 0;
            h.msg_flags = 0;
        }
        self.len = 0;
        let mut sent = 0;
        while sent < n {
            // SAFETY: headers `sent..n` reference live buffers set above.
            let r = unsafe {
                libc::sendmmsg(
                    fd,
                    self.msgs[sent..].as_mut_ptr(),
                    (n - sent) as libc::c_uint,
                    libc::MSG_DONTWAIT,
                )
            };
            if r < 0 {
                let e = io::Error::last_os_error();
                match e.kind() {
                    io::ErrorKind::WouldBlock => return Ok(sent),
                    io::ErrorKind::Interrupted => continue,
                    // A refused destination (ICMP) fails one datagram: skip it.
                    io::ErrorKind::ConnectionRefused => sent += 1,
                    _ if sent > 0 => return Ok(sent),
                    _ => return Err(e),
                }
            } else {
                sent += r as usize;
            }
        }
        Ok(sent)
    }
}

fn to_storage(addr: SocketAddr, out: &mut libc::sockaddr_storage) -> libc::socklen_t {
    // SAFETY: sockaddr_storage is large and aligned enough for either form.
    unsafe {
        match addr {
            SocketAddr::V4(a) => {
                let sin = &mut *(out as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>();
                *sin = mem::zeroed();
                sin.sin_family = libc::AF_INET as libc::sa_family_t;
                sin.sin_port = a.port().to_be();
                sin.sin_addr.s_addr = u32::from_ne_bytes(a.ip().octets());
                mem::size_of::<libc::sockaddr_in>() as libc::socklen_t
            }
            SocketAddr::V6(a) => {
                let sin6 = &mut *(out as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>();
                *sin6 = mem::zeroed();
                sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
                sin6.sin6_port = a.port().to_be();
                sin6.sin6_addr.s6_addr = a.ip().octets();
                sin6.sin6_flowinfo = a.flowinfo();
                sin6.sin6_scope_id = a.scope_id();
                mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t
            }
        }
    }
}

fn from_storage(s: &libc::sockaddr_storage, len: libc::socklen_t) -> Option<SocketAddr> {
    // SAFETY: the family says which struct the kernel wrote, and `len`
    // says it wrote all of it.
    unsafe {
        match s.ss_family as libc::c_int {
            libc::AF_INET if len as usize >= mem::size_of::<libc::sockaddr_in>() => {
                let sin = &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>();
                let ip = Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
                Some(SocketAddr::V4(SocketAddrV4::new(
                    ip,
                    u16::from_be(sin.sin_port),
                )))
            }
            libc::AF_INET6 if len as usize >= mem::size_of::<libc::sockaddr_in6>() => {
                let sin6 = &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>();
                Some(SocketAddr::V6(SocketAddrV6::new(
                    Ipv6Addr::from(sin6.sin6_addr.s6_addr),
                    u16::from_be(sin6.sin6_port),
                    sin6.sin6_flowinfo,
                    sin6.sin6_scope_id,
                )))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::os::fd::AsRawFd;

    #[test]
    fn batches_round_trip_with_sources_and_timestamps() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        enable_timestamps(rx.as_raw_fd()).unwrap();
        let mut batch = RecvBatch::new(4, true);
        let e = batch.recv(rx.as_raw_fd()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock, "nothing queued yet");

        // Six datagrams from one socket to one destination, in one call.
        let mut out = SendBatch::new(8);
        for i in 0..6u8 {
            assert!(out.push(rx.local_addr().unwrap(), |b| {
                b[..3].copy_from_slice(&[i, i, i]);
                3
            }));
        }
        assert_eq!(out.flush(a.as_raw_fd()).unwrap(), 6);
        assert!(out.is_empty());

        assert_eq!(batch.recv(rx.as_raw_fd()).unwrap(), 4, "a full batch");
        for i in 0..4 {
            assert_eq!(batch.data(i), &[i as u8; 3]);
            assert_eq!(batch.source(i), Some(a.local_addr().unwrap()));
            assert!(!batch.truncated(i));
            let at = batch.received_at(i).expect("kernel timestamp");
            assert!(at > Duration::from_secs(1_700_000_000), "since the epoch");
        }
        assert_eq!(batch.recv(rx.as_raw_fd()).unwrap(), 2, "the rest: drained");
        assert_eq!(batch.data(1), &[5, 5, 5]);
    }

    #[test]
    fn send_batch_to_many_destinations_and_ipv6() {
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let rxs: Vec<UdpSocket> = (0..3)
            .map(|_| UdpSocket::bind("127.0.0.1:0").unwrap())
            .collect();
        let mut out = SendBatch::new(2);
        let mut sent = 0;
        for (i, r) in rxs.iter().enumerate() {
            if out.is_full() {
                sent += out.flush(tx.as_raw_fd()).unwrap();
            }
            out.push(r.local_addr().unwrap(), |b| {
                b[0] = i as u8;
                1
            });
        }
        sent += out.flush(tx.as_raw_fd()).unwrap();
        assert_eq!(sent, 3);
        let mut batch = RecvBatch::new(2, false);
        for (i, r) in rxs.iter().enumerate() {
            assert_eq!(batch.recv(r.as_raw_fd()).unwrap(), 1);
            assert_eq!(batch.data(0), &[i as u8]);
            assert_eq!(batch.received_at(0), None);
        }
        if let Ok(v6) = UdpSocket::bind("[::1]:0") {
            let from = UdpSocket::bind("[::1]:0").unwrap();
            out.push(v6.local_addr().unwrap(), |b| {
                b[0] = 9;
                1
            });
            assert_eq!(out.flush(from.as_raw_fd()).unwrap(), 1);
            assert_eq!(batch.recv(v6.as_raw_fd()).unwrap(), 1);
            assert_eq!(batch.source(0), Some(from.local_addr().unwrap()));
        }
    }
}
