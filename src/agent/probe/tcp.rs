//! TCP connect, and with `echo` one round trip through the peer's echo server.

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
    // The kernel's own measure of the handshake when it has one: the wall
    // time also counts how long this thread took to look at the socket.
    let connected = handshake_rtt(&stream).unwrap_or_else(|| started.elapsed());
    if !echo {
        return ok(id, connected);
    }
    let token = format!("netcheck-{:016x}\n", rand::random::<u64>());
    if let Err(e) = stream.write_all(token.as_bytes()).await {
        return from_io(id, "echo send", &e);
    }
    let mut back = vec![0u8; token.len()];
    match stream.read_exact(&mut back).await {
        Ok(_) if back == token.as_bytes() => ok(id, connected),
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
