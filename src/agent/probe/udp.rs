//! UDP echo: a datagram with a random token that the peer must send back.
//! Each attempt carries its own token, so a late answer to an earlier attempt
//! still counts (with that attempt's latency). A datagram the kernel
//! dropped before it left ([`super::dropped_locally`]) is lost, not an error.

use super::{Attempts, from_io, ok};
use crate::model::ProbeResult;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;

pub(super) async fn probe(id: &str, target: IpAddr, port: u16, attempts: Attempts) -> ProbeResult {
    let local: SocketAddr = match target {
        IpAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        IpAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let sock = match UdpSocket::bind(local).await {
        Ok(s) => s,
        Err(e) => return from_io(id, "bind", &e),
    };
    // Connected, so that ICMP port unreachable comes back as ECONNREFUSED;
    // IP_RECVERR so that host and network unreachable come back too (Linux
    // reports only "hard" errors to UDP sockets without it).
    if let Err(e) = sock.connect(SocketAddr::new(target, port)).await {
        return from_io(id, "connect", &e);
    }
    set_recverr(&sock, target.is_ipv6());
    super::rx::enable_timestamps(&sock);
    let base: u64 = rand::random();
    let token = |k: u32| format!("netcheck-{base:016x}-{k:04}").into_bytes();
    let mut sent: Vec<Instant> = Vec::with_capacity(attempts.count as usize);
    let mut buf = [0u8; 512];
    let mut next_send = tokio::time::Instant::now();
    let mut dropped = 0u32;
    loop {
        if (sent.len() as u32) < attempts.count && tokio::time::Instant::now() >= next_send {
            let k = sent.len() as u32;
            sent.push(Instant::now());
            match sock.send(&token(k)).await {
                Ok(_) => {}
                // Lost on our side, as on the wire: the next attempt follows.
                Err(e) if super::dropped_locally(&e) => {
                    dropped += 1;
                    if dropped == attempts.count {
                        return super::all_sends_dropped(id, "datagram", dropped);
                    }
                }
                Err(e) => return from_io(id, "send", &e),
            }
            next_send += attempts.interval;
        }
        let wait = if (sent.len() as u32) < attempts.count {
            next_send
        } else {
            // The caller's deadline ends the probe; just keep listening.
            tokio::time::Instant::now() + Duration::from_secs(3600)
        };
        tokio::select! {
            r = super::rx::recv(&sock, &mut buf) => match r {
                Ok(rcv) => {
                    let got = buf.get(..rcv.len).unwrap_or_default();
                    if let Some(k) = (0..sent.len() as u32).find(|k| token(*k) == got)
                    {
                        return ok(id, rcv.at.saturating_duration_since(sent[k as usize]));
                    }
                    // Something else (a stale or foreign datagram): keep waiting.
                }
                Err(e) => return from_io(id, "receive", &e),
            },
            _ = tokio::time::sleep_until(wait) => {}
        }
    }
}

fn set_recverr(sock: &UdpSocket, v6: bool) {
    use std::os::fd::AsRawFd;
    let (level, name) = if v6 {
        (libc::IPPROTO_IPV6, libc::IPV6_RECVERR)
    } else {
        (libc::IPPROTO_IP, libc::IP_RECVERR)
    };
    let on: libc::c_int = 1;
    // SAFETY: setsockopt reads one c_int from a live local on our own socket.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            level,
            name,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        tracing::debug!("IP_RECVERR: {}", std::io::Error::last_os_error());
    }
}
