//! TCP connect, and with `echo` one round trip through the peer's echo server.
//!
//! The connection ends with a reset, not a FIN exchange (SO_LINGER 0, see [`connect`]):
//! once the handshake (and the echo) came back there is nothing left to prove,
//! and the FIN/ACK dance, the TIME_WAIT entry and the conntrack entry it keeps
//! for two minutes on every node in the path were half of a probe's packets.
//! And the handshake's last ACK rides on the first data segment ([`connect`]):
//! an echo or HTTP probe is five packets (SYN, SYN-ACK, data, answer, RST), a
//! connect-only probe three (SYN, SYN-ACK, RST).

use super::{error, from_io, ok};
use crate::model::ProbeResult;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub(super) async fn probe(id: &str, target: IpAddr, port: u16, echo: bool) -> ProbeResult {
    let started = Instant::now();
    let mut stream = match connect(SocketAddr::new(target, port)).await {
        Ok(s) => s,
        Err(e) => return from_io(id, "connect", &e),
    };
    // The kernel's own measure of the handshake when it has one: the wall
    // time also counts how long this thread took to look at the socket.
    let connected = handshake_rtt(&stream).unwrap_or_else(|| started.elapsed());
    if !echo {
        return ok(id, connected);
    }
    let token = echo_token(rand::random());
    if let Err(e) = stream.write_all(&token).await {
        return from_io(id, "echo send", &e);
    }
    let mut back = [0u8; TOKEN_LEN];
    match stream.read_exact(&mut back).await {
        Ok(_) if back == token => ok(id, connected),
        Ok(_) => error(
            id,
            format!(
                "connected, but the echo came back different: {:?}",
                String::from_utf8_lossy(&back)
            ),
        ),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => error(
            id,
            "connected, but the peer closed the connection without echoing (not the netcheck agent?)",
        ),
        Err(e) => from_io(id, "echo receive", &e),
    }
}

/// `netcheck-` + 16 hex digits + newline.
const TOKEN_LEN: usize = 26;

/// The echo payload: `netcheck-<16 hex digits>\n`, without a heap allocation.
fn echo_token(n: u64) -> [u8; TOKEN_LEN] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut t = [0u8; TOKEN_LEN];
    t[..9].copy_from_slice(b"netcheck-");
    for (i, b) in t[9..25].iter_mut().enumerate() {
        *b = HEX[((n >> (60 - 4 * i)) & 0xf) as usize];
    }
    t[25] = b'\n';
    t
}

/// Connect for a probe. Two socket options are set before the SYN goes out:
///
/// - TCP_QUICKACK off: the kernel does not answer the SYN-ACK with an ACK of
///   its own but waits (up to its delayed-ACK timer, 40-200 ms) for data to
///   carry it, as HAProxy's `tcp-smart-connect` does. The echo token or the
///   HTTP request goes out at once and carries it: one packet less through
///   every namespace, bridge and netfilter hook on the path. A connect-only
///   probe closes before the timer fires, so the server never completes the
///   handshake (no accept, no task): the SYN-ACK already proved the port
///   open, which is all the check says. Connecting is unchanged: `connect`
///   returns on the SYN-ACK either way, and its latency is the same.
/// - SO_LINGER 0: the stream, once dropped, closes with a reset. Every byte
///   the probe needed has come back by then; the orderly close would cost
///   three or four more packets through every namespace, a TIME_WAIT socket,
///   and a conntrack entry kept for minutes on each node with NAT rules.
///
/// Both best effort: without them the probe is the usual handshake and close.
pub(super) async fn connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let sock = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    let s = socket2::SockRef::from(&sock);
    if let Err(e) = s.set_tcp_quickack(false) {
        tracing::debug!("TCP_QUICKACK: {e}");
    }
    if let Err(e) = s.set_linger(Some(std::time::Duration::ZERO)) {
        tracing::debug!("SO_LINGER: {e}");
    }
    sock.connect(addr).await
}

/// The SYN/SYN-ACK round trip the kernel measured (TCP_INFO tcpi_rtt), when
/// it took a sample and no SYN was retransmitted (then the wall time, which
/// includes the retransmission, is the honest figure).
fn handshake_rtt(stream: &TcpStream) -> Option<std::time::Duration> {
    use std::os::fd::AsRawFd;
    // SAFETY: all-zero is a valid tcp_info.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `info`.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    (rc == 0 && info.tcpi_rtt > 0 && info.tcpi_total_retrans == 0)
        .then(|| std::time::Duration::from_micros(u64::from(info.tcpi_rtt)))
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, SocketAddr};
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Segments this end has sent so far (TCP_INFO tcpi_segs_out).
    fn segs_out(s: &tokio::net::TcpStream) -> u32 {
        use std::os::fd::AsRawFd;
        // SAFETY: all-zero is a valid tcp_info; getsockopt writes at most `len` bytes.
        let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
        let rc = unsafe {
            libc::getsockopt(
                s.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_INFO,
                (&mut info as *mut libc::tcp_info).cast(),
                &mut len,
            )
        };
        assert_eq!(rc, 0, "TCP_INFO: {}", std::io::Error::last_os_error());
        info.tcpi_segs_out
    }

    async fn listener() -> (tokio::net::TcpListener, SocketAddr) {
        let l = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .unwrap();
        let a = l.local_addr().unwrap();
        (l, a)
    }

    /// The handshake's ACK waits for the first data: after connect only the
    /// SYN went out, after the echo exchange the SYN and the token (the
    /// plain connect sent SYN and ACK before any data).
    #[tokio::test]
    async fn the_first_data_carries_the_handshakes_ack() {
        let (l, addr) = listener().await;
        let server = tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut buf = [0u8; super::TOKEN_LEN];
            s.read_exact(&mut buf).await.unwrap();
            s.write_all(&buf).await.unwrap();
            // Until the client's reset.
            let _ = s.read(&mut buf).await;
        });
        let mut c = super::connect(addr).await.unwrap();
        assert_eq!(segs_out(&c), 1, "only the SYN before any data");
        let token = super::echo_token(7);
        c.write_all(&token).await.unwrap();
        let mut back = [0u8; super::TOKEN_LEN];
        c.read_exact(&mut back).await.unwrap();
        assert_eq!(back, token);
        assert_eq!(segs_out(&c), 2, "SYN, then the token with the ACK");
        drop(c);
        tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .expect("the server saw the reset")
            .unwrap();
    }

    /// A connect-only probe passes on the SYN-ACK and resets before the
    /// server completes the handshake: nothing is ever accepted.
    #[tokio::test]
    async fn a_connect_only_probe_is_never_accepted() {
        let (l, addr) = listener().await;
        let r = super::probe("c", addr.ip(), addr.port(), false).await;
        assert_eq!(r.outcome, crate::model::Outcome::Ok, "{r:?}");
        let accepted = tokio::time::timeout(Duration::from_millis(400), l.accept()).await;
        assert!(
            accepted.is_err(),
            "the server accepted a connection: {accepted:?}"
        );
    }

    #[test]
    fn the_echo_token_is_the_formatted_one() {
        for n in [0u64, 1, 0xdead_beef, u64::MAX, 0x0123_4567_89ab_cdef] {
            assert_eq!(
                super::echo_token(n).as_slice(),
                format!("netcheck-{n:016x}\n").as_bytes()
            );
        }
    }
}
