//! ICMP echo over one shared socket per address family.
//!
//! Every raw ICMP socket sees every ICMP packet the host receives, so a socket
//! per probe would cost a thousand copies of each packet for a thousand probes.
//! Instead one socket per family is opened on first use and one receive task
//! reads it and hands each echo reply (or ICMP error quoting one of our echo
//! requests) to the probe waiting for it, by the 32-bit key carried in the
//! identifier and sequence fields and repeated in the payload.
//!
//! Raw sockets need CAP_NET_RAW. Without it the pool falls back to the
//! kernel's unprivileged ping sockets (SOCK_DGRAM + IPPROTO_ICMP, allowed by
//! `net.ipv4.ping_group_range`); those rewrite the identifier and do not
//! deliver ICMP errors, so replies are matched by the payload key and an
//! unreachable target is a timeout rather than `unreachable`.
//!
//! The sockets set IP_MTU_DISCOVER = IP_PMTUDISC_PROBE: every echo leaves with
//! DF set and the kernel neither fragments nor consults its path-MTU cache,
//! which is what the MTU probe needs (and harmless for small echoes).

use super::{Attempts, error, from_io, ms};
use crate::model::{Outcome, ProbeResult};
use pnet_packet::icmp::{IcmpPacket, IcmpTypes, echo_request::MutableEchoRequestPacket};
use pnet_packet::icmpv6::Icmpv6Types;
use pnet_packet::ipv4::Ipv4Packet;
use socket2::{Domain, Protocol, Socket, Type};
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::sync::{OnceCell, mpsc};
use tokio::task::JoinHandle;

/// Bytes of IP + ICMP header in front of the payload.
pub(super) const V4_HEADERS: u16 = 20 + 8;
pub(super) const V6_HEADERS: u16 = 40 + 8;
/// Our payload starts with a cookie and the key: 8 bytes.
pub(super) const MIN_PAYLOAD: u16 = 8;
/// Total IP packet size of a plain echo (like ping's 56 bytes of data).
const ECHO_SIZE_V4: u16 = V4_HEADERS + 56;
const ECHO_SIZE_V6: u16 = V6_HEADERS + 56;

/// What the receive task tells a waiting probe.
#[derive(Debug, Clone)]
pub(super) enum Event {
    /// An echo reply for `key`, received at `at`.
    Reply { key: u32, at: Instant },
    /// An ICMP error quoting our request `key`. `too_big` for "fragmentation
    /// needed" / "packet too big".
    Error {
        key: u32,
        detail: String,
        too_big: bool,
    },
}

/// The two lazily opened sockets of one plan run.
#[derive(Default)]
pub(crate) struct IcmpPool {
    v4: OnceCell<Result<Arc<IcmpSocket>, String>>,
    v6: OnceCell<Result<Arc<IcmpSocket>, String>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// Use unprivileged ping sockets even where raw sockets are allowed.
    pub force_dgram: bool,
}

/// Set to `dgram` to make the agent use unprivileged ping sockets although it
/// may open raw ones: to test the fallback, or to see what a pod without
/// CAP_NET_RAW sees.
pub const ICMP_MODE_ENV: &str = "NETCHECK_AGENT_ICMP";

impl Drop for IcmpPool {
    fn drop(&mut self) {
        if let Ok(tasks) = self.tasks.get_mut() {
            for t in tasks.drain(..) {
                t.abort();
            }
        }
    }
}

impl IcmpPool {
    pub(super) fn from_env() -> Self {
        let mut pool = IcmpPool::default();
        pool.force_dgram = std::env::var(ICMP_MODE_ENV).is_ok_and(|v| v == "dgram");
        pool
    }

    pub(super) async fn get(&self, v6: bool) -> Result<Arc<IcmpSocket>, String> {
        let cell = if v6 { &self.v6 } else { &self.v4 };
        cell.get_or_init(|| async {
            let sock = Arc::new(IcmpSocket::open(v6, self.force_dgram)?);
            let task = tokio::spawn(receive_loop(sock.clone()));
            if let Ok(mut tasks) = self.tasks.lock() {
                tasks.push(task);
            }
            Ok(sock)
        })
        .await
        .clone()
    }
}

pub(super) struct IcmpSocket {
    sock: UdpSocket,
    v6: bool,
    raw: bool,
    ident_base: u16,
    cookie: [u8; 4],
    next_key: AtomicU32,
    waiters: Mutex<HashMap<u32, (mpsc::UnboundedSender<Event>, IpAddr)>>,
}

impl IcmpSocket {
    fn open(v6: bool, force_dgram: bool) -> Result<IcmpSocket, String> {
        let (domain, proto, family) = if v6 {
            (Domain::IPV6, Protocol::ICMPV6, "ICMPv6")
        } else {
            (Domain::IPV4, Protocol::ICMPV4, "ICMP")
        };
        let raw = if force_dgram {
            Err(io::Error::from_raw_os_error(libc::EPERM))
        } else {
            Socket::new(domain, Type::RAW, Some(proto))
        };
        let (sock, is_raw) = match raw {
            Ok(s) => (s, true),
            Err(raw_err) if !matches!(raw_err.raw_os_error(), Some(libc::EPERM | libc::EACCES)) => {
                return Err(format!("cannot open an {family} socket: {raw_err}"));
            }
            Err(raw_err) => match Socket::new(domain, Type::DGRAM, Some(proto)) {
                Ok(s) => (s, false),
                Err(dgram_err) => {
                    return Err(format!(
                        "cannot open an {family} socket: raw sockets need the NET_RAW capability ({raw_err}) \
                         and unprivileged ping sockets are not allowed for this group ({dgram_err}); \
                         run the agent with CAP_NET_RAW or widen net.ipv4.ping_group_range"
                    ));
                }
            },
        };
        let setup = || -> io::Result<UdpSocket> {
            sock.set_nonblocking(true)?;
            super::rx::enable_timestamps(&sock);
            set_pmtudisc_probe(&sock, v6)?;
            // Many replies may arrive at once (a thousand targets, or an MTU
            // sweep); a bigger buffer keeps the kernel from dropping them.
            let _ = sock.set_recv_buffer_size(4 << 20);
            force_recv_buffer(&sock, 4 << 20);
            if is_raw {
                filter_types(&sock, v6);
            }
            // tokio's UdpSocket is just a datagram socket registered with the
            // reactor; sendto/recvfrom work the same on raw and ping sockets.
            UdpSocket::from_std(std::net::UdpSocket::from(sock))
        };
        let sock = setup().map_err(|e| format!("cannot set up the {family} socket: {e}"))?;
        Ok(IcmpSocket {
            sock,
            v6,
            raw: is_raw,
            ident_base: rand::random(),
            cookie: rand::random(),
            next_key: AtomicU32::new(rand::random()),
            waiters: Mutex::new(HashMap::new()),
        })
    }

    pub(super) fn echo_size(&self) -> u16 {
        if self.v6 { ECHO_SIZE_V6 } else { ECHO_SIZE_V4 }
    }

    pub(super) fn headers(&self) -> u16 {
        if self.v6 { V6_HEADERS } else { V4_HEADERS }
    }

    fn ident_seq(&self, key: u32) -> (u16, u16) {
        (((key >> 16) as u16) ^ self.ident_base, key as u16)
    }

    fn key_of(&self, ident: u16, seq: u16) -> u32 {
        (u32::from(ident ^ self.ident_base) << 16) | u32::from(seq)
    }

    /// Send one echo request of `size` bytes of IP packet carrying `key`.
    pub(super) async fn send(&self, target: IpAddr, key: u32, size: u16) -> io::Result<()> {
        let len = usize::from(size.saturating_sub(self.headers() - 8)).max(8 + 8);
        let mut buf = vec![0u8; len];
        let (ident, seq) = self.ident_seq(key);
        {
            let mut pkt = MutableEchoRequestPacket::new(&mut buf)
                .ok_or_else(|| io::Error::other("echo buffer too small"))?;
            pkt.set_icmp_type(if self.v6 {
                // Same layout as ICMPv4 echo; only the type number differs.
                pnet_packet::icmp::IcmpType(Icmpv6Types::EchoRequest.0)
            } else {
                IcmpTypes::EchoRequest
            });
            pkt.set_identifier(ident);
            pkt.set_sequence_number(seq);
            let mut payload = vec![0u8; len - 8];
            payload[..4].copy_from_slice(&self.cookie);
            payload[4..8].copy_from_slice(&key.to_be_bytes());
            for (i, b) in payload.iter_mut().enumerate().skip(8) {
                *b = i as u8;
            }
            pkt.set_payload(&payload);
        }
        if !self.v6 {
            // The kernel fills the ICMPv6 checksum (it needs the pseudo header);
            // ICMPv4's is ours.
            let sum = IcmpPacket::new(&buf)
                .map(|p| pnet_packet::icmp::checksum(&p))
                .unwrap_or(0);
            buf[2..4].copy_from_slice(&sum.to_be_bytes());
        }
        self.sock.send_to(&buf, SocketAddr::new(target, 0)).await?;
        Ok(())
    }

    /// Start listening for replies on behalf of one probe.
    pub(super) fn register(
        self: &Arc<Self>,
        target: IpAddr,
    ) -> (Registration, mpsc::UnboundedReceiver<Event>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            Registration {
                sock: self.clone(),
                tx,
                target,
                keys: Vec::new(),
            },
            rx,
        )
    }

    fn dispatch(&self, key: u32, from: Option<IpAddr>, event: Event) {
        let Ok(waiters) = self.waiters.lock() else {
            return;
        };
        if let Some((tx, target)) = waiters.get(&key) {
            // A reply must come from the target; an error may come from any hop.
            if from.is_none_or(|f| same_ip(f, *target)) {
                let _ = tx.send(event);
            }
        }
    }

    /// Parse one received datagram into an event for a waiting probe.
    fn handle(&self, buf: &[u8], from: IpAddr, at: Instant) {
        let icmp = if self.v6 || !self.raw {
            buf
        } else {
            // Raw IPv4 sockets hand us the IP header too.
            match Ipv4Packet::new(buf) {
                Some(ip) => {
                    let hl = usize::from(ip.get_header_length()) * 4;
                    match buf.get(hl..) {
                        Some(rest) => rest,
                        None => return,
                    }
                }
                None => return,
            }
        };
        if icmp.len() < 8 {
            return;
        }
        let (ty, code) = (icmp[0], icmp[1]);
        let ident = u16::from_be_bytes([icmp[4], icmp[5]]);
        let seq = u16::from_be_bytes([icmp[6], icmp[7]]);
        let reply_type = if self.v6 {
            Icmpv6Types::EchoReply.0
        } else {
            IcmpTypes::EchoReply.0
        };
        if ty == reply_type {
            let payload = &icmp[8..];
            if payload.len() < 8 || payload[..4] != self.cookie {
                return;
            }
            let key = u32::from_be_bytes([payload[4], payload[5], payload[6], payload[7]]);
            if self.raw && self.key_of(ident, seq) != key {
                return;
            }
            self.dispatch(key, Some(from), Event::Reply { key, at });
            return;
        }
        // ICMP errors quote the offending packet after an 8-byte header.
        let Some((detail, too_big)) = describe_error(self.v6, ty, code, icmp) else {
            return;
        };
        let quoted = &icmp[8..];
        let inner = if self.v6 {
            quoted.get(40..)
        } else {
            Ipv4Packet::new(quoted)
                .and_then(|ip| quoted.get(usize::from(ip.get_header_length()) * 4..))
        };
        let Some(inner) = inner else { return };
        let request_type = if self.v6 {
            Icmpv6Types::EchoRequest.0
        } else {
            IcmpTypes::EchoRequest.0
        };
        if inner.len() < 8 || inner[0] != request_type {
            return;
        }
        let key = self.key_of(
            u16::from_be_bytes([inner[4], inner[5]]),
            u16::from_be_bytes([inner[6], inner[7]]),
        );
        let detail = format!("{detail} (from {from})");
        self.dispatch(
            key,
            None,
            Event::Error {
                key,
                detail,
                too_big,
            },
        );
    }
}

/// The keys one probe listens on; dropping it (also when the probe's deadline
/// cancels it) stops the receive task from routing anything more to it.
pub(super) struct Registration {
    sock: Arc<IcmpSocket>,
    tx: mpsc::UnboundedSender<Event>,
    target: IpAddr,
    keys: Vec<u32>,
}

impl Registration {
    /// A fresh key, already routed to this probe.
    pub(super) fn new_key(&mut self) -> u32 {
        loop {
            let key = self.sock.next_key.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut w) = self.sock.waiters.lock() {
                if w.contains_key(&key) {
                    continue;
                }
                w.insert(key, (self.tx.clone(), self.target));
            }
            self.keys.push(key);
            return key;
        }
    }

    pub(super) fn socket(&self) -> &IcmpSocket {
        &self.sock
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Ok(mut w) = self.sock.waiters.lock() {
            for k in &self.keys {
                w.remove(k);
            }
        }
    }
}

async fn receive_loop(sock: Arc<IcmpSocket>) {
    let mut buf = vec![0u8; 65536];
    loop {
        match super::rx::recv(&sock.sock, &mut buf).await {
            Ok(r) => {
                if let (Some(from), Some(data)) = (r.from, buf.get(..r.len)) {
                    sock.handle(data, from.ip(), r.at);
                }
            }
            Err(e) => {
                tracing::debug!("ICMP receive: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

fn same_ip(a: IpAddr, b: IpAddr) -> bool {
    a.to_canonical() == b.to_canonical()
}

fn describe_error(v6: bool, ty: u8, code: u8, _icmp: &[u8]) -> Option<(String, bool)> {
    if v6 {
        match ty {
            1 => Some((
                match code {
                    0 => "ICMPv6 no route to destination".into(),
                    1 => "ICMPv6 communication administratively prohibited".into(),
                    3 => "ICMPv6 address unreachable".into(),
                    4 => "ICMPv6 port unreachable".into(),
                    c => format!("ICMPv6 destination unreachable (code {c})"),
                },
                false,
            )),
            2 => {
                let mtu = _icmp
                    .get(4..8)
                    .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
                    .unwrap_or(0);
                Some((format!("ICMPv6 packet too big (MTU {mtu})"), true))
            }
            3 => Some(("ICMPv6 hop limit exceeded".into(), false)),
            _ => None,
        }
    } else {
        match ty {
            3 => match code {
                4 => {
                    let mtu = _icmp
                        .get(6..8)
                        .map(|b| u16::from_be_bytes([b[0], b[1]]))
                        .unwrap_or(0);
                    Some((
                        format!("ICMP fragmentation needed (next-hop MTU {mtu})"),
                        true,
                    ))
                }
                c => Some((
                    match c {
                        0 => "ICMP network unreachable".into(),
                        1 => "ICMP host unreachable".into(),
                        3 => "ICMP port unreachable".into(),
                        9 | 10 | 13 => "ICMP communication administratively prohibited".into(),
                        c => format!("ICMP destination unreachable (code {c})"),
                    },
                    false,
                )),
            },
            11 => Some(("ICMP time to live exceeded".into(), false)),
            _ => None,
        }
    }
}

/// DF on every echo, no local fragmentation, no path-MTU cache.
fn set_pmtudisc_probe(sock: &Socket, v6: bool) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let (level, name, value) = if v6 {
        (
            libc::IPPROTO_IPV6,
            libc::IPV6_MTU_DISCOVER,
            libc::IPV6_PMTUDISC_PROBE,
        )
    } else {
        (
            libc::IPPROTO_IP,
            libc::IP_MTU_DISCOVER,
            libc::IP_PMTUDISC_PROBE,
        )
    };
    // SAFETY: setsockopt reads `size_of::<c_int>()` bytes from a live c_int on
    // a socket we own.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            level,
            name,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// SO_RCVBUFFORCE lets a privileged agent go above net.core.rmem_max; without
/// CAP_NET_ADMIN it fails and the plain SO_RCVBUF stays.
fn force_recv_buffer(sock: &Socket, bytes: libc::c_int) {
    use std::os::fd::AsRawFd;
    // asm-generic value, also x86 and arm; libc does not export it for linux-gnu.
    const SO_RCVBUFFORCE: libc::c_int = 33;
    if !cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
        return;
    }
    // SAFETY: as above, a c_int option on our own socket.
    unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            SO_RCVBUFFORCE,
            (&bytes as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// Let only echo replies and the errors that quote a request into a raw
/// socket. Without a filter it also gets a copy of every echo *request* other
/// agents send to this namespace (a large lab: thousands, many of them big
/// MTU probes), which costs the receive task time and buffer space that our
/// own replies need. Best effort: without it the receive task skips them.
fn filter_types(sock: &Socket, v6: bool) {
    use std::os::fd::AsRawFd;
    // linux/icmp.h: ICMP_FILTER on SOL_RAW, a u32 mask of ICMPv4 types to drop.
    const SOL_RAW: libc::c_int = 255;
    const ICMP_FILTER: libc::c_int = 1;
    // linux/icmpv6.h: ICMPV6_FILTER on IPPROTO_ICMPV6, 256 bits, set = blocked.
    const ICMPV6_FILTER: libc::c_int = 1;
    let rc = if v6 {
        let mut blocked = [u32::MAX; 8];
        // destination unreachable, packet too big, time exceeded, parameter problem, echo reply
        for t in [1u8, 2, 3, 4, 129] {
            blocked[usize::from(t >> 5)] &= !(1u32 << (t & 31));
        }
        // SAFETY: setsockopt reads the 32-byte filter from a live local.
        unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::IPPROTO_ICMPV6,
                ICMPV6_FILTER,
                blocked.as_ptr().cast(),
                std::mem::size_of_val(&blocked) as libc::socklen_t,
            )
        }
    } else {
        // echo reply, destination unreachable, time exceeded, parameter problem
        let blocked: u32 = !((1 << 0) | (1 << 3) | (1 << 11) | (1 << 12));
        // SAFETY: setsockopt reads one u32 from a live local.
        unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                SOL_RAW,
                ICMP_FILTER,
                (&blocked as *const u32).cast(),
                std::mem::size_of::<u32>() as libc::socklen_t,
            )
        }
    };
    if rc != 0 {
        tracing::debug!("ICMP type filter: {}", io::Error::last_os_error());
    }
}

/// ICMP echo: `attempts` requests spaced over the timeout; the first reply wins.
pub(super) async fn probe(
    pool: &IcmpPool,
    id: &str,
    target: IpAddr,
    attempts: Attempts,
) -> ProbeResult {
    let sock = match pool.get(target.is_ipv6()).await {
        Ok(s) => s,
        Err(e) => return error(id, e),
    };
    let (mut reg, mut rx) = sock.register(target);
    let mut sent: HashMap<u32, Instant> = HashMap::new();
    let mut next_send = tokio::time::Instant::now();
    let mut n_sent = 0u32;
    let mut dropped = 0u32;
    loop {
        if n_sent < attempts.count && tokio::time::Instant::now() >= next_send {
            let key = reg.new_key();
            sent.insert(key, Instant::now());
            n_sent += 1;
            next_send += attempts.interval;
            match reg
                .socket()
                .send(target, key, reg.socket().echo_size())
                .await
            {
                Ok(()) => {}
                // Lost on our side, as on the wire: the next attempt follows.
                Err(e) if super::dropped_locally(&e) => {
                    dropped += 1;
                    if dropped == attempts.count {
                        return super::all_sends_dropped(id, "echo request", dropped);
                    }
                }
                Err(e) => return from_io(id, "ICMP send", &e),
            }
        }
        let wait = if n_sent < attempts.count {
            next_send
        } else {
            tokio::time::Instant::now() + Duration::from_secs(3600)
        };
        tokio::select! {
            ev = rx.recv() => match ev {
                Some(Event::Reply { key, at }) => {
                    let latency = sent
                        .get(&key)
                        .map(|s| at.saturating_duration_since(*s))
                        .unwrap_or_default();
                    let mut r = ProbeResult::new(id, Outcome::Ok);
                    r.latency_ms = Some(ms(latency));
                    return r;
                }
                Some(Event::Error { detail, .. }) => {
                    let mut r = ProbeResult::new(id, Outcome::Unreachable);
                    r.detail = Some(detail);
                    return r;
                }
                None => return error(id, "the ICMP receiver stopped"),
            },
            _ = tokio::time::sleep_until(wait) => {}
        }
    }
}
