//! The connection to the API server: the kubeconfig, one client, the bound
//! on each call, and kube errors in the user's words.

use crate::runtime::{Result, RuntimeError};
use ::kube::client::ClientBuilder;
use ::kube::config::{KubeConfigOptions, Kubeconfig};
use ::kube::{Client, Config};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Instant;

/// A client and where it points.
pub struct Connection {
    pub client: Client,
    pub cluster_name: String,
    pub server: String,
    /// Every request the client sent (see [`ApiCalls`]).
    pub calls: Arc<ApiCalls>,
}

/// The client-side rate limit, kubectl's own defaults (QPS 50, burst 300):
/// kube-rs has no QPS setting and kubeconfigs carry none, so every request
/// the client sends takes a token from this bucket ([`Throttled`]).
pub const API_QPS: f64 = 50.0;
pub const API_BURST: f64 = 300.0;

/// What the run asked of the API server, counted where every request goes
/// through (the client's service stack): reads are GET (lists, watches,
/// exec and its websocket upgrade included: `execs` of them), writes
/// POST/PUT/PATCH/DELETE, of which `reviews` are SelfSubjectAccessReviews
/// (a question, nothing is stored).
#[derive(Debug, Default)]
pub struct ApiCalls {
    reads: AtomicUsize,
    writes: AtomicUsize,
    reviews: AtomicUsize,
    execs: AtomicUsize,
}

impl ApiCalls {
    pub fn reads(&self) -> usize {
        self.reads.load(Ordering::Relaxed)
    }
    /// Writes, access reviews included.
    pub fn writes(&self) -> usize {
        self.writes.load(Ordering::Relaxed)
    }
    pub fn reviews(&self) -> usize {
        self.reviews.load(Ordering::Relaxed)
    }
    pub fn execs(&self) -> usize {
        self.execs.load(Ordering::Relaxed)
    }
    pub fn total(&self) -> usize {
        self.reads() + self.writes()
    }
    /// "API calls: 41 (12 writes, 15 access reviews, 9 execs)", for `-v`.
    pub fn summary(&self) -> String {
        format!(
            "API calls: {} ({} writes, {} access reviews, {} execs)",
            self.total(),
            self.writes() - self.reviews(),
            self.reviews(),
            self.execs()
        )
    }

    fn note<B>(&self, req: &hyper::Request<B>) {
        let path = req.uri().path();
        match *req.method() {
            hyper::Method::GET | hyper::Method::HEAD | hyper::Method::OPTIONS => {
                self.reads.fetch_add(1, Ordering::Relaxed);
                if path.ends_with("/exec") {
                    self.execs.fetch_add(1, Ordering::Relaxed);
                }
            }
            _ => {
                self.writes.fetch_add(1, Ordering::Relaxed);
                if path.ends_with("/selfsubjectaccessreviews") {
                    self.reviews.fetch_add(1, Ordering::Relaxed);
                } else if path.ends_with("/exec") {
                    self.execs.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

/// A token bucket by reservation: each request takes the next free slot
/// (`burst` at once, then one every 1/qps) and is sent when its slot comes.
#[derive(Debug)]
struct Bucket {
    qps: f64,
    burst: f64,
    /// Tokens at `at`.
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn new(qps: f64, burst: f64) -> Self {
        Bucket {
            qps,
            burst,
            tokens: burst,
            at: Instant::now(),
        }
    }

    /// Take a token; how long to wait before using it.
    fn reserve(&mut self, now: Instant) -> Duration {
        if now > self.at {
            let refill = (now - self.at).as_secs_f64() * self.qps;
            self.tokens = (self.tokens + refill).min(self.burst);
            self.at = now;
        }
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.qps)
        }
    }
}

/// The layer that counts and rate-limits every request of the client.
#[derive(Clone)]
struct Budget {
    calls: Arc<ApiCalls>,
    bucket: Arc<Mutex<Bucket>>,
}

impl<S> tower_layer::Layer<S> for Budget {
    type Service = Throttled<S>;
    fn layer(&self, inner: S) -> Throttled<S> {
        Throttled {
            inner,
            budget: self.clone(),
        }
    }
}

/// kube's service stack, counted and throttled. The inner future is made at
/// once and polled only when the request's slot comes: nothing is sent
/// before it is polled.
struct Throttled<S> {
    inner: S,
    budget: Budget,
}

impl<S, B> tower_service::Service<hyper::Request<B>> for Throttled<S>
where
    S: tower_service::Service<hyper::Request<B>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = std::result::Result<S::Response, S::Error>> + Send>,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<std::result::Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: hyper::Request<B>) -> Self::Future {
        self.budget.calls.note(&req);
        let wait = self
            .budget
            .bucket
            .lock()
            .map(|mut b| b.reserve(Instant::now()))
            .unwrap_or(Duration::ZERO);
        let fut = self.inner.call(req);
        Box::pin(async move {
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
            fut.await
        })
    }
}

/// Load the kubeconfig (--kubeconfig, else $KUBECONFIG / ~/.kube/config, else
/// the in-cluster service account) and build a client. Makes no request.
pub async fn connect(
    kubeconfig: Option<&std::path::Path>,
    context: Option<&str>,
    timeout: Duration,
) -> Result<Connection> {
    let options = KubeConfigOptions {
        context: context.map(str::to_string),
        ..Default::default()
    };
    let loaded = match kubeconfig {
        Some(p) => Some(Kubeconfig::read_from(p).map_err(|e| {
            unreachable(format!(
                "could not read the kubeconfig {}: {e}; check the --kubeconfig path",
                p.display()
            ))
        })?),
        None => match Kubeconfig::read() {
            Ok(kc) => Some(kc),
            // $KUBECONFIG set but unreadable: say so rather than fall back silently.
            Err(e) if std::env::var_os("KUBECONFIG").is_some_and(|v| !v.is_empty()) => {
                return Err(unreachable(format!(
                    "could not read the kubeconfig named by $KUBECONFIG: {e}; fix the variable or pass --kubeconfig"
                )));
            }
            Err(_) => None,
        },
    };
    let (mut config, cluster_name) = match loaded {
        Some(kc) => {
            let ctx_name = context
                .map(str::to_string)
                .or_else(|| kc.current_context.clone())
                .unwrap_or_default();
            let known: Vec<String> = kc.contexts.iter().map(|c| c.name.clone()).collect();
            let Some(ctx) = kc.contexts.iter().find(|c| c.name == ctx_name) else {
                return Err(unreachable(if ctx_name.is_empty() {
                    "the kubeconfig has no current context; pass --context NAME".to_string()
                } else {
                    format!(
                        "context \"{ctx_name}\" is not in the kubeconfig (it has: {}); pass --context with one of those",
                        if known.is_empty() { "none".into() } else { known.join(", ") }
                    )
                }));
            };
            let cluster = ctx
                .context
                .as_ref()
                .map(|c| c.cluster.clone())
                .unwrap_or_else(|| ctx_name.clone());
            let config = Config::from_custom_kubeconfig(kc, &options)
                .await
                .map_err(|e| {
                    unreachable(format!(
                        "could not use context \"{ctx_name}\" of the kubeconfig: {e}"
                    ))
                })?;
            (config, cluster)
        }
        None if context.is_some() => {
            return Err(unreachable(
                "--context was given but no kubeconfig was found ($KUBECONFIG, ~/.kube/config); pass --kubeconfig",
            ));
        }
        None => (
            Config::incluster().map_err(|e| {
                unreachable(format!(
                    "no kubeconfig found ($KUBECONFIG, ~/.kube/config) and not running in a cluster ({e}); pass --kubeconfig"
                ))
            })?,
            "in-cluster".to_string(),
        ),
    };
    config.connect_timeout = Some(timeout.min(Duration::from_secs(10)));
    let server = config.cluster_url.to_string();
    let calls = Arc::new(ApiCalls::default());
    let budget = Budget {
        calls: calls.clone(),
        bucket: Arc::new(Mutex::new(Bucket::new(API_QPS, API_BURST))),
    };
    let client = ClientBuilder::try_from(config)
        .map_err(|e| unreachable(format!("could not build a client for {server}: {e}")))?
        .with_layer(&budget)
        .build();
    Ok(Connection {
        client,
        cluster_name,
        server: server.trim_end_matches('/').to_string(),
        calls,
    })
}

pub(super) fn unreachable(msg: impl Into<String>) -> RuntimeError {
    RuntimeError::Unreachable(msg.into())
}

/// How long one API call may take.
pub(super) fn call_bound(timeout: Duration) -> Duration {
    timeout.min(Duration::from_secs(30))
}

/// A kube error in words: 403 names the permission and the fix, 401 the
/// credentials, connection errors the server.
pub fn api_error(what: &str, server: &str, e: ::kube::Error) -> RuntimeError {
    match e {
        ::kube::Error::Api(s) if s.code == 403 => RuntimeError::NotPermitted(format!(
            "permission denied while {what}: {}. Apply docs/rbac.yaml (a ClusterRole for netcheck) to this identity",
            s.message
        )),
        ::kube::Error::Api(s) if s.code == 401 => RuntimeError::NotPermitted(format!(
            "the API server at {server} rejected the credentials ({what}): {}; refresh the kubeconfig's token or certificate",
            s.message
        )),
        ::kube::Error::Api(s) => RuntimeError::Other(format!(
            "{what}: the API server answered {} {}: {}",
            s.code, s.reason, s.message
        )),
        other => {
            // The chain repeats itself ("client error (Connect): client error
            // (Connect): tcp connect error: …"): the root cause says it all.
            let mut msg = other.to_string();
            let mut src = std::error::Error::source(&other);
            while let Some(s) = src {
                msg = s.to_string();
                src = s.source();
            }
            unreachable(format!(
                "cannot reach the Kubernetes API at {server} ({what}): {msg}; check the kubeconfig, --context and that the cluster is up"
            ))
        }
    }
}

pub(super) fn is_not_found(e: &::kube::Error) -> bool {
    matches!(e, ::kube::Error::Api(s) if s.code == 404)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_lets_a_burst_through_then_paces_at_qps() {
        let t0 = Instant::now();
        let mut b = Bucket::new(10.0, 3.0);
        let waits: Vec<Duration> = (0..5).map(|_| b.reserve(t0)).collect();
        assert_eq!(&waits[..3], &[Duration::ZERO; 3]);
        assert_eq!(waits[3], Duration::from_millis(100));
        assert_eq!(waits[4], Duration::from_millis(200));
        // A second later the debt is paid and 8 tokens are back (capped at 3).
        let later = t0 + Duration::from_secs(2);
        assert_eq!(b.reserve(later), Duration::ZERO);
        assert_eq!(b.reserve(later), Duration::ZERO);
        assert_eq!(b.reserve(later), Duration::ZERO);
        assert!(b.reserve(later) > Duration::ZERO);
    }

    #[test]
    fn calls_are_counted_by_verb() {
        let c = ApiCalls::default();
        let req = |m: &str, path: &str| {
            hyper::Request::builder()
                .method(m)
                .uri(path)
                .body(())
                .unwrap()
        };
        c.note(&req("GET", "/api/v1/nodes"));
        c.note(&req("GET", "/api/v1/namespaces/x/pods/p/exec"));
        c.note(&req("POST", "/api/v1/namespaces/x/pods"));
        c.note(&req("DELETE", "/api/v1/namespaces/x"));
        c.note(&req(
            "POST",
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        ));
        assert_eq!(
            (c.reads(), c.writes(), c.reviews(), c.execs()),
            (2, 3, 1, 1)
        );
        assert_eq!(
            c.summary(),
            "API calls: 5 (2 writes, 1 access reviews, 1 execs)"
        );
    }

    #[test]
    fn a_403_names_the_fix() {
        let text =
            std::fs::read_to_string(super::super::fixtures::path("forbidden-list-pods.json"))
                .unwrap();
        let status: ::kube::core::Status = serde_json::from_str(&text).unwrap();
        let e = api_error(
            "listing pods",
            "https://x",
            ::kube::Error::Api(Box::new(status)),
        );
        let msg = e.to_string();
        assert!(matches!(e, RuntimeError::NotPermitted(_)));
        assert!(msg.contains("cannot list resource \"pods\""), "{msg}");
        assert!(msg.contains("docs/rbac.yaml"));
    }
}
