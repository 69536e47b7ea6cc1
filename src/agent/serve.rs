//! `agent serve`: the endpoints other agents probe.
//!
//! - TCP echo: whatever arrives goes back.
//! - UDP echo: every datagram goes back to its sender.
//! - HTTP/1.x: any GET (or HEAD) answers 200 with `{"pod","node","ip"}` JSON.
//!
//! Each listener binds the wildcard address once, dual-stack (`[::]` with
//! IPV6_V6ONLY off) where IPv6 exists, else `0.0.0.0`. Slow or hostile clients
//! cannot pin memory or tasks: buffers are fixed, every read has an idle
//! timeout, HTTP headers must arrive within a few seconds, and at most
//! [`MAX_CONNECTIONS`] connections are served at once (more are closed).

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use socket2::{Domain, Socket, Type};
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::Semaphore;

/// Connections (TCP echo + HTTP) served at once.
pub const MAX_CONNECTIONS: usize = 1024;
/// A connection that sends nothing for this long is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// HTTP request headers must be complete within this.
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// An HTTP connection lives at most this long.
const HTTP_CONN_LIFETIME: Duration = Duration::from_secs(60);
const TCP_BUF: usize = 16 * 1024;
const UDP_BUF: usize = 64 * 1024;

/// Who this agent is, for the HTTP answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    pub pod: String,
    pub node: String,
    /// Empty: the address the request arrived on.
    pub ip: String,
}

#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// `None`: every address, IPv4 and IPv6.
    pub bind: Option<IpAddr>,
    pub tcp_port: u16,
    pub udp_port: u16,
    pub http_port: u16,
    pub identity: Identity,
}

/// The bound listeners, ready to serve.
pub struct Server {
    tcp: TcpListener,
    udp: UdpSocket,
    http: TcpListener,
    identity: Arc<Identity>,
}

impl Server {
    /// Bind all three endpoints. Errors name the port that could not be bound.
    pub fn bind(cfg: &ServeConfig) -> Result<Server, anyhow::Error> {
        use anyhow::Context as _;
        let tcp = listen_tcp(cfg.bind, cfg.tcp_port)
            .with_context(|| format!("cannot listen on TCP port {} (echo)", cfg.tcp_port))?;
        let udp = bind_udp(cfg.bind, cfg.udp_port)
            .with_context(|| format!("cannot bind UDP port {} (echo)", cfg.udp_port))?;
        let http = listen_tcp(cfg.bind, cfg.http_port)
            .with_context(|| format!("cannot listen on TCP port {} (HTTP)", cfg.http_port))?;
        Ok(Server {
            tcp,
            udp,
            http,
            identity: Arc::new(cfg.identity.clone()),
        })
    }

    pub fn tcp_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
    pub fn udp_addr(&self) -> io::Result<SocketAddr> {
        self.udp.local_addr()
    }
    pub fn http_addr(&self) -> io::Result<SocketAddr> {
        self.http.local_addr()
    }

    /// Serve until `shutdown` completes; connections still open are dropped.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        let tcp = accept_loop(self.tcp, limit.clone(), |s| async move {
            tcp_echo(s).await;
        });
        let identity = self.identity.clone();
        let http = accept_loop(self.http, limit, move |s| {
            let identity = identity.clone();
            async move { http_conn(s, identity).await }
        });
        let udp = udp_echo(self.udp);
        tokio::select! {
            _ = shutdown => tracing::debug!("shutting down"),
            _ = tcp => {},
            _ = http => {},
            _ = udp => {},
        }
    }
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {},
                _ = tokio::signal::ctrl_c() => {},
            }
        }
        Err(e) => {
            tracing::warn!("cannot watch SIGTERM ({e}); stopping on SIGINT only");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

fn socket_for(bind: Option<IpAddr>, ty: Type, port: u16) -> io::Result<Socket> {
    let try_bind = |addr: SocketAddr, dual: bool| -> io::Result<Socket> {
        let s = Socket::new(Domain::for_address(addr), ty, None)?;
        if dual {
            s.set_only_v6(false)?;
        }
        if ty == Type::STREAM {
            s.set_reuse_address(true)?;
        }
        s.bind(&addr.into())?;
        s.set_nonblocking(true)?;
        Ok(s)
    };
    match bind {
        Some(ip) => try_bind(SocketAddr::new(ip, port), false),
        None => try_bind(SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), port), true).or_else(|e6| {
            tracing::debug!("no dual-stack socket ({e6}); IPv4 only");
            try_bind(SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), port), false)
        }),
    }
}

fn listen_tcp(bind: Option<IpAddr>, port: u16) -> io::Result<TcpListener> {
    let s = socket_for(bind, Type::STREAM, port)?;
    s.listen(1024)?;
    TcpListener::from_std(s.into())
}

fn bind_udp(bind: Option<IpAddr>, port: u16) -> io::Result<UdpSocket> {
    let s = socket_for(bind, Type::DGRAM, port)?;
    UdpSocket::from_std(s.into())
}

async fn accept_loop<F, Fut>(listener: TcpListener, limit: Arc<Semaphore>, handle: F)
where
    F: Fn(TcpStream) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::debug!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = limit.clone().try_acquire_owned() else {
            tracing::debug!("connection limit reached; closing a new connection");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let fut = handle(stream);
        tokio::spawn(async move {
            fut.await;
            drop(permit);
        });
    }
}

async fn tcp_echo(mut stream: TcpStream) {
    let mut buf = vec![0u8; TCP_BUF];
    loop {
        let n = match tokio::time::timeout(IDLE_TIMEOUT, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Err(_) => return,
            Ok(Ok(n)) => n,
            Ok(Err(e)) => {
                tracing::debug!("TCP echo read: {e}");
                return;
            }
        };
        match tokio::time::timeout(IDLE_TIMEOUT, stream.write_all(&buf[..n])).await {
            Ok(Ok(())) => {}
            _ => return,
        }
    }
}

async fn udp_echo(sock: UdpSocket) {
    let mut buf = vec![0u8; UDP_BUF];
    loop {
        match sock.recv_from(&mut buf).await {
            Ok((n, peer)) => {
                if let Err(e) = sock.send_to(&buf[..n], peer).await {
                    tracing::debug!("UDP echo to {peer}: {e}");
                }
            }
            Err(e) => {
                tracing::debug!("UDP echo receive: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

async fn http_conn(stream: TcpStream, identity: Arc<Identity>) {
    let local = stream.local_addr().ok().map(|a| a.ip().to_canonical());
    let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
        let body = identity_json(&identity, local);
        async move { Ok::<_, Infallible>(respond(req.method(), body)) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .max_buf_size(16 * 1024)
        .serve_connection(TokioIo::new(stream), service);
    match tokio::time::timeout(HTTP_CONN_LIFETIME, conn).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::debug!("HTTP connection: {e}"),
        Err(_) => tracing::debug!("HTTP connection closed after {HTTP_CONN_LIFETIME:?}"),
    }
}

pub(crate) fn identity_json(id: &Identity, local: Option<IpAddr>) -> String {
    let ip = if id.ip.is_empty() {
        local.map(|a| a.to_string()).unwrap_or_default()
    } else {
        id.ip.clone()
    };
    serde_json::json!({ "pod": id.pod, "node": id.node, "ip": ip }).to_string()
}

fn respond(method: &Method, body: String) -> Response<Full<Bytes>> {
    let builder = Response::builder().header(hyper::header::CONTENT_TYPE, "application/json");
    let resp = match *method {
        Method::GET => builder
            .status(StatusCode::OK)
            .body(Full::new(Bytes::from(body))),
        Method::HEAD => builder.status(StatusCode::OK).body(Full::new(Bytes::new())),
        _ => builder
            .status(StatusCode::METHOD_NOT_ALLOWED)
            .header(hyper::header::ALLOW, "GET, HEAD")
            .body(Full::new(Bytes::from_static(b"{\"error\":\"only GET\"}"))),
    };
    // Builders with constant headers cannot fail; answer 500 rather than panic.
    resp.unwrap_or_else(|_| {
        let mut r = Response::new(Full::new(Bytes::new()));
        *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        r
    })
}
