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
    let connected = started.elapsed();
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
