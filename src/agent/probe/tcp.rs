//! TCP connect, and with `echo` one round trip through the peer's echo server.
//!
//! The connection ends with a reset, not a FIN exchange (see [`abortive_close`]):
//! once the handshake (and the echo) came back there is nothing left to prove,
//! and the FIN/ACK dance, the TIME_WAIT entry and the conntrack entry it keeps
//! for two minutes on every node in the path were half of a probe's packets.

use super::{error, from_io, ok};
use crate::model::ProbeResult;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub(super) async fn probe(id: &str, target: IpAddr, port: u16, echo: bool) -> ProbeResult {
    let started = Instant::now();
    let mut stream = match TcpStream::connect(SocketAddr::new(target, port)).await {
        Ok(s) => s,
        Err(e) => return from_io(id, "connect", &e),
    };
    abortive_close(&stream);
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

/// Close with a reset (SO_LINGER 0) when the stream is dropped. Every byte
/// the probe needed has come back by then; the orderly close would cost
/// three or four more packets through every namespace, a TIME_WAIT socket,
/// and a conntrack entry kept for minutes on each node with NAT rules.
/// Best effort: without it the close is the usual FIN.
pub(super) fn abortive_close(stream: &TcpStream) {
    if let Err(e) = socket2::SockRef::from(stream).set_linger(Some(std::time::Duration::ZERO)) {
        tracing::debug!("SO_LINGER: {e}");
    }
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
