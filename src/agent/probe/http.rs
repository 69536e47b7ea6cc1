//! HTTP GET with hyper's HTTP/1 client over one TCP connection: ok on 2xx, and
//! the responder's body (the agent's identity JSON) as `peer`.

use super::{error, from_io};
use crate::model::{Outcome, ProbeResult};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

/// The identity JSON is tiny; anything larger is cut here.
const MAX_BODY: usize = 4096;
/// What goes into `peer` at most.
const MAX_PEER: usize = 512;

pub(super) async fn probe(id: &str, target: IpAddr, port: u16, path: &str) -> ProbeResult {
    let started = Instant::now();
    let addr = SocketAddr::new(target, port);
    // The request carries the handshake's last ACK, and once the answer is
    // read the connection ends with a reset (no `Connection: close`, so the
    // server does not start a FIN exchange first): see `tcp::connect`.
    let stream = match super::tcp::connect(addr).await {
        Ok(s) => s,
        Err(e) => return from_io(id, "connect", &e),
    };
    let (mut sender, conn) = match hyper::client::conn::http1::handshake(TokioIo::new(stream)).await
    {
        Ok(x) => x,
        Err(e) => return error(id, format!("HTTP handshake: {e}")),
    };
    // The connection task ends when the response is read or the probe is dropped.
    let conn = tokio::spawn(conn);
    let path = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    };
    let host = match target {
        IpAddr::V4(ip) => format!("{ip}:{port}"),
        IpAddr::V6(ip) => format!("[{ip}]:{port}"),
    };
    let req = match hyper::Request::get(path)
        .header(hyper::header::HOST, host)
        .header(hyper::header::USER_AGENT, "kubectl-netcheck-agent")
        .body(Empty::<Bytes>::new())
    {
        Ok(r) => r,
        Err(e) => return error(id, format!("invalid HTTP request: {e}")),
    };
    let result = async {
        let resp = match sender.send_request(req).await {
            Ok(r) => r,
            Err(e) => return error(id, format!("HTTP request: {e}")),
        };
        let latency = started.elapsed();
        let status = resp.status();
        let body = match Limited::new(resp.into_body(), MAX_BODY).collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => return error(id, format!("HTTP {status}, body unreadable: {e}")),
        };
        let mut r = ProbeResult::new(
            id,
            if status.is_success() {
                Outcome::Ok
            } else {
                Outcome::Error
            },
        );
        r.latency_ms = Some(super::ms(latency));
        if !status.is_success() {
            r.detail = Some(format!("HTTP {status}"));
        }
        let text = String::from_utf8_lossy(&body);
        let text = text.trim();
        if !text.is_empty() {
            r.peer = Some(truncate(text, MAX_PEER));
        }
        r
    }
    .await;
    conn.abort();
    result
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}
