//! The connection to the API server: the kubeconfig, one client, the bound
//! on each call, and kube errors in the user's words.

use crate::runtime::{Result, RuntimeError};
use ::kube::config::{KubeConfigOptions, Kubeconfig};
use ::kube::{Client, Config};
use std::time::Duration;

/// A client and where it points.
pub struct Connection {
    pub client: Client,
    pub cluster_name: String,
    pub server: String,
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
    let client = Client::try_from(config)
        .map_err(|e| unreachable(format!("could not build a client for {server}: {e}")))?;
    Ok(Connection {
        client,
        cluster_name,
        server: server.trim_end_matches('/').to_string(),
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
