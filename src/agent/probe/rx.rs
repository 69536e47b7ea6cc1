//! Receive with the kernel's arrival time (SO_TIMESTAMPNS).
//!
//! The agent runs hundreds of probes on one thread; a reply may wait in the
//! socket while the thread is still sending other probes. The time the kernel
//! stamped on the packet is when it really arrived, so latencies stay those of
//! the network, not of the agent's scheduling.

use std::io;
use std::mem;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::Interest;
use tokio::net::UdpSocket;

/// SO_TIMESTAMPNS_OLD, the same number for SCM_TIMESTAMPNS: asm-generic, also
/// x86 and arm (libc does not export it for linux-gnu). The control message
/// carries a `struct timespec` of the platform's own width.
const SO_TIMESTAMPNS: libc::c_int = 35;
const TIMESTAMPS: bool = cfg!(any(target_arch = "x86_64", target_arch = "aarch64"));

pub(super) struct Received {
    pub len: usize,
    pub from: Option<SocketAddr>,
    /// When the packet arrived, on the monotonic clock.
    pub at: Instant,
}

/// Ask the kernel to stamp every received packet. Best effort.
pub(super) fn enable_timestamps(sock: &impl AsRawFd) {
    if !TIMESTAMPS {
        return;
    }
    let on: libc::c_int = 1;
    // SAFETY: setsockopt reads one c_int from a live local.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            SO_TIMESTAMPNS,
            (&on as *const libc::c_int).cast(),
            mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        tracing::debug!("SO_TIMESTAMPNS: {}", io::Error::last_os_error());
    }
}

/// Receive one datagram with its sender and arrival time.
pub(super) async fn recv(sock: &UdpSocket, buf: &mut [u8]) -> io::Result<Received> {
    // ERROR too: an ICMP error on a connected UDP socket (port or host
    // unreachable) makes the socket report EPOLLERR only, and recvmsg then
    // returns it.
    sock.async_io(Interest::READABLE | Interest::ERROR, || {
        recvmsg(sock.as_raw_fd(), buf)
    })
    .await
}

fn recvmsg(fd: libc::c_int, buf: &mut [u8]) -> io::Result<Received> {
    // SAFETY: all-zero is a valid sockaddr_storage and msghdr.
    let mut addr: libc::sockaddr_storage = unsafe { mem::zeroed() };
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // u64 elements: aligned for cmsghdr.
    let mut control = [0u64; 16];
    // SAFETY: as above.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    msg.msg_name = (&mut addr as *mut libc::sockaddr_storage).cast();
    msg.msg_namelen = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = mem::size_of_val(&control) as _;
    // SAFETY: every pointer in msg points at a live local or at `buf`, with
    // the lengths given; the kernel writes at most those lengths.
    let n = unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_DONTWAIT) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let now_mono = Instant::now();
    let now_wall = SystemTime::now();
    let mut stamp = None;
    if TIMESTAMPS {
        // SAFETY: the CMSG_* macros walk the control buffer the kernel filled,
        // bounded by msg_controllen; the data of an SCM_TIMESTAMPNS message is
        // one timespec, read unaligned.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&msg);
            while !c.is_null() {
                if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == SO_TIMESTAMPNS {
                    let ts: libc::timespec =
                        std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::timespec>());
                    if ts.tv_sec >= 0 && (0..1_000_000_000).contains(&ts.tv_nsec) {
                        stamp =
                            Some(UNIX_EPOCH + Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32));
                    }
                }
                c = libc::CMSG_NXTHDR(&msg, c);
            }
        }
    }
    // The packet's age on the wall clock, moved onto the monotonic one.
    let at = match stamp.and_then(|s| now_wall.duration_since(s).ok()) {
        Some(age) if age < Duration::from_secs(60) => now_mono.checked_sub(age).unwrap_or(now_mono),
        _ => now_mono,
    };
    Ok(Received {
        len: n as usize,
        from: sockaddr(&addr),
        at,
    })
}

fn sockaddr(addr: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match libc::c_int::from(addr.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in, which
            // is smaller than sockaddr_storage.
            let a: libc::sockaddr_in =
                unsafe { std::ptr::read_unaligned((addr as *const libc::sockaddr_storage).cast()) };
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)),
                u16::from_be(a.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for sockaddr_in6.
            let a: libc::sockaddr_in6 =
                unsafe { std::ptr::read_unaligned((addr as *const libc::sockaddr_storage).cast()) };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(a.sin6_addr.s6_addr),
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            )))
        }
        _ => None,
    }
}
