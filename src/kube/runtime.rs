//! [`KubeRuntime`]: the pipeline's runtime over a real API server.
//!
//! discover: version, preflight (SelfSubjectAccessReview, Pod Security), nodes,
//! CNI, kube-proxy, DNS, `kubernetes`, NetworkPolicies. deploy: the namespace,
//! one probe pod first (fails fast on image/PSA/permission problems), then
//! every node in parallel, waited for with a deadline. probe/inspect: exec over
//! the API's websocket. teardown: delete what the run created, nothing else.

use super::discover::{self, CniDetection, NodeFilter};
use super::manifests::{self, PsaLevel, RunSpec};
use super::pods::{self, PodStart};
use super::preflight;
use crate::model::host::HostReport;
use crate::model::topology::ApiServer;
use crate::model::topology::{HostAgent, ProbePod, ServePorts, Source};
use crate::model::{Deployment, ProbePlan, ProbeReport};
use crate::runtime::{Progress, Result, Runtime, RuntimeError};
use ::kube::api::{Api, AttachParams, DeleteParams, ListParams, PostParams};
use ::kube::config::{KubeConfigOptions, Kubeconfig};
use ::kube::{Client, Config};
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::authorization::v1::SelfSubjectAccessReview;
use k8s_openapi::api::core::v1::{ConfigMap, Event, Namespace, Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What the CLI tells the runtime.
#[derive(Debug, Clone)]
pub struct KubeOptions {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    /// An existing namespace for the probes; None: a fresh `netcheck-<id>`.
    pub namespace: Option<String>,
    pub image: String,
    pub no_host: bool,
    /// The run's overall deadline; API calls and the wait for pods stay inside it.
    pub timeout: Duration,
    /// `--nodes`.
    pub nodes: Option<String>,
    /// `--policy-from`: the probes run in this (existing) namespace and wear
    /// the labels of its workloads, so that its NetworkPolicies apply to
    /// them. `namespace` must then be the same namespace.
    pub policy_from: Option<crate::policy::labels::PolicyFrom>,
}

/// A client and where it points.
pub struct Connection {
    pub client: Client,
    pub cluster_name: String,
    pub server: String,
}

fn unreachable(msg: impl Into<String>) -> RuntimeError {
    RuntimeError::Unreachable(msg.into())
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

/// What deploy made and what probe/inspect/teardown need.
#[derive(Debug, Default)]
struct State {
    /// We created the namespace: teardown deletes it.
    created_namespace: bool,
    /// Objects created in a namespace we did not create (pods, services).
    created_pods: Vec<String>,
    created_services: Vec<String>,
    /// node → its host pod (ready ones only).
    host_pods: BTreeMap<String, String>,
    /// node → why it has no host agent.
    host_unavailable: BTreeMap<String, String>,
    /// Why host inspection is off for the whole run.
    host_off: Option<String>,
    psa: Option<PsaLevel>,
}

pub struct KubeRuntime {
    client: Client,
    opts: KubeOptions,
    run: Mutex<RunSpec>,
    cluster_name: String,
    server: String,
    state: Mutex<State>,
    /// When the run began: --timeout bounds discovery and pod start-up from here.
    started: Instant,
}

/// How long one API call may take.
fn call_bound(timeout: Duration) -> Duration {
    timeout.min(Duration::from_secs(30))
}

impl KubeRuntime {
    pub async fn new(opts: KubeOptions) -> Result<Self> {
        let conn = connect(
            opts.kubeconfig.as_deref(),
            opts.context.as_deref(),
            opts.timeout,
        )
        .await?;
        Ok(Self::with_connection(conn, opts))
    }

    pub fn with_connection(conn: Connection, mut opts: KubeOptions) -> Self {
        // --policy-from: a policy selects pods of its own namespace only.
        if opts.namespace.is_none()
            && let Some(from) = &opts.policy_from
        {
            opts.namespace = Some(from.namespace.clone());
        }
        let id = manifests::new_run_id();
        let namespace = opts
            .namespace
            .clone()
            .unwrap_or_else(|| format!("netcheck-{id}"));
        let run = RunSpec {
            host_port: manifests::host_port_for(&id),
            id,
            namespace,
            image: opts.image.clone(),
            ports: ServePorts::default(),
            psa: PsaLevel::Privileged,
        };
        KubeRuntime {
            client: conn.client,
            opts,
            run: Mutex::new(run),
            cluster_name: conn.cluster_name,
            server: conn.server,
            state: Mutex::new(State::default()),
            started: Instant::now(),
        }
    }

    /// The probe namespace of this run.
    pub fn namespace(&self) -> String {
        self.run_spec().namespace
    }

    fn run_spec(&self) -> RunSpec {
        self.run
            .lock()
            .map(|r| r.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One API call, bounded, its error in the user's words.
    async fn call<T>(
        &self,
        what: &str,
        fut: impl Future<Output = std::result::Result<T, ::kube::Error>>,
    ) -> Result<T> {
        let bound = call_bound(self.opts.timeout);
        match tokio::time::timeout(bound, fut).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(api_error(what, &self.server, e)),
            Err(_) => Err(unreachable(format!(
                "the Kubernetes API at {} did not answer within {} ({what}); check that the cluster is up and reachable",
                self.server,
                humantime::format_duration(bound)
            ))),
        }
    }

    async fn preflight(&self, namespaces: &[Namespace], progress: &dyn Progress) -> Result<()> {
        let run = self.run_spec();
        let create_ns = self.opts.namespace.is_none();
        if let Some(ns) = &self.opts.namespace {
            let found = namespaces
                .iter()
                .find(|n| n.metadata.name.as_deref() == Some(ns.as_str()));
            let Some(found) = found else {
                return Err(RuntimeError::Other(format!(
                    "namespace {ns} does not exist; create it or leave out -n to let netcheck make its own"
                )));
            };
            let level = PsaLevel::of(found.metadata.labels.as_ref());
            if level != PsaLevel::Privileged {
                let why = format!(
                    "namespace {ns} enforces Pod Security \"{}\", which rejects privileged host-network pods: running without host inspection (leave out -n to use a namespace of netcheck's own)",
                    level.as_str()
                );
                progress.message(&why);
                tracing::warn!("{why}");
                self.state().host_off = Some(why);
            }
            self.state().psa = Some(level);
            if let Ok(mut r) = self.run.lock() {
                r.psa = level;
            }
        }
        if self.opts.no_host {
            self.state().host_off = Some("host inspection is off (--no-host)".into());
        }
        progress.message("checking permissions");
        let perms = preflight::required(&run.namespace, create_ns);
        let api: Api<SelfSubjectAccessReview> = Api::all(self.client.clone());
        let answers = futures::future::join_all(perms.iter().map(|p| {
            let api = api.clone();
            async move {
                self.call(
                    "asking for permissions",
                    api.create(&PostParams::default(), &p.review()),
                )
                .await
            }
        }))
        .await;
        let mut denied = Vec::new();
        for (p, a) in perms.into_iter().zip(answers) {
            match a {
                Ok(r) => {
                    let (ok, reason) = preflight::allowed(&r);
                    if !ok {
                        denied.push((p, reason));
                    }
                }
                // An API server that cannot answer reviews: the calls themselves will tell.
                Err(RuntimeError::Unreachable(m)) => return Err(RuntimeError::Unreachable(m)),
                Err(e) => {
                    tracing::debug!("SelfSubjectAccessReview for {} failed: {e}", p.describe())
                }
            }
        }
        if !denied.is_empty() {
            return Err(RuntimeError::NotPermitted(preflight::denial_message(
                &denied,
            )));
        }
        Ok(())
    }

    async fn list<K>(&self, api: Api<K>, lp: &ListParams, what: &str) -> Result<Vec<K>>
    where
        K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    {
        Ok(self.call(what, api.list(lp)).await?.items)
    }

    async fn optional_configmap(&self, name: &str) -> Option<ConfigMap> {
        let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), "kube-system");
        match self
            .call(
                &format!("reading ConfigMap kube-system/{name}"),
                api.get_opt(name),
            )
            .await
        {
            Ok(cm) => cm,
            Err(e) => {
                tracing::debug!("{e}");
                None
            }
        }
    }

    async fn exec(
        &self,
        pod: &str,
        command: Vec<String>,
        stdin: Option<Vec<u8>>,
    ) -> Result<Vec<u8>> {
        let ns = self.namespace();
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        let ap = AttachParams::default()
            .container(manifests::CONTAINER)
            .stdin(stdin.is_some())
            .stdout(true)
            .stderr(true);
        let mut proc = api
            .exec(pod, command.clone(), &ap)
            .await
            .map_err(|e| api_error(&format!("exec in pod {ns}/{pod}"), &self.server, e))?;
        let status = proc.take_status();
        // The agent reads its plan up to the end of the JSON document, so
        // stdin stays open until the answer is in: before Kubernetes 1.30
        // (no v5 channel protocol) closing stdin closes the whole stream,
        // the answer with it. It is dropped (closed) after reading.
        let mut _stdin_open = None;
        if let (Some(data), Some(mut w)) = (stdin, proc.stdin()) {
            w.write_all(&data)
                .await
                .map_err(|e| RuntimeError::io(format!("sending the plan to pod {pod}"), e))?;
            w.flush().await.ok();
            _stdin_open = Some(w);
        }
        let mut out = Vec::new();
        let mut err = Vec::new();
        let (mut so, mut se) = (proc.stdout(), proc.stderr());
        let read_out = async {
            if let Some(s) = so.as_mut() {
                s.read_to_end(&mut out).await.map(|_| ())
            } else {
                Ok(())
            }
        };
        let read_err = async {
            if let Some(s) = se.as_mut() {
                s.read_to_end(&mut err).await.map(|_| ())
            } else {
                Ok(())
            }
        };
        let (a, b) = tokio::join!(read_out, read_err);
        drop(_stdin_open);
        a.map_err(|e| RuntimeError::io(format!("reading the answer of pod {pod}"), e))?;
        b.ok();
        let status = match status {
            Some(s) => s.await,
            None => None,
        };
        proc.join().await.ok();
        if let Some(s) = status
            && s.status.as_deref() == Some("Failure")
            && out.is_empty()
        {
            let stderr = String::from_utf8_lossy(&err);
            return Err(RuntimeError::Other(format!(
                "`{}` failed in pod {ns}/{pod}: {}{}",
                command.join(" "),
                s.message.unwrap_or_default(),
                stderr
                    .lines()
                    .last()
                    .map(|l| format!(" ({l})"))
                    .unwrap_or_default()
            )));
        }
        Ok(out)
    }
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

fn is_not_found(e: &::kube::Error) -> bool {
    matches!(e, ::kube::Error::Api(s) if s.code == 404)
}

/// Pod creation errors: PSA rejections and quota say so plainly.
fn create_error(pod: &str, ns: &str, server: &str, e: ::kube::Error) -> String {
    match &e {
        ::kube::Error::Api(s) if s.message.contains("PodSecurity") => format!(
            "Pod Security Admission rejected pod {pod} in namespace {ns}: {}; use a namespace that allows it (leave out -n) or --no-host",
            s.message
        ),
        _ => api_error(&format!("creating pod {ns}/{pod}"), server, e).to_string(),
    }
}

/// One node's objects.
#[derive(Debug, Clone)]
struct NodePlan {
    node: String,
    probes: Vec<String>,
    host: Option<String>,
}

impl KubeRuntime {
    /// `--policy-from`: the labels each probe wears (probe name → labels),
    /// from the namespace's workloads (or the labels given), round-robin.
    async fn workload_labels(
        &self,
        d: &Deployment,
        probes: &[String],
        progress: &dyn Progress,
    ) -> Result<BTreeMap<String, BTreeMap<String, String>>> {
        use crate::policy::labels;
        let Some(from) = &self.opts.policy_from else {
            return Ok(BTreeMap::new());
        };
        let ns = &from.namespace;
        let policies: Vec<NetworkPolicy> = d
            .policy
            .policies
            .iter()
            .filter(|p| p.metadata.namespace.as_deref() == Some(ns.as_str()))
            .cloned()
            .collect();
        let pods = if from.labels.is_some() {
            Vec::new()
        } else {
            let all = self
                .list(
                    Api::<Pod>::namespaced(self.client.clone(), ns),
                    &ListParams::default(),
                    &format!("listing the pods of namespace {ns} (--policy-from)"),
                )
                .await?;
            // Not the probes of another run in the same namespace.
            all.into_iter()
                .filter(|p| {
                    p.metadata
                        .labels
                        .as_ref()
                        .and_then(|l| l.get(manifests::MANAGED_BY_KEY))
                        .map(String::as_str)
                        != Some(manifests::MANAGED_BY)
                })
                .collect()
        };
        let sets = labels::policy_from_labels(from, &pods, &policies);
        if sets.is_empty() {
            return Err(RuntimeError::Other(format!(
                "--policy-from {ns}: the namespace has no running pod with labels to copy; name the labels instead: --policy-from {ns}/app=NAME"
            )));
        }
        if policies.is_empty() {
            progress.message(&format!(
                "--policy-from {ns}: the namespace has no NetworkPolicy; only policies of other namespaces that select it by namespace apply"
            ));
        }
        let mut out = BTreeMap::new();
        for (probe, set) in labels::assign(&sets, probes) {
            out.insert(probe, set.labels.clone());
        }
        for set in sets.iter().take(probes.len()) {
            let shown: Vec<String> = set.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let by = if set.selected_by.is_empty() {
                "no NetworkPolicy of the namespace selects them".to_string()
            } else {
                format!("selected by {}", set.selected_by.join(", "))
            };
            progress.message(&format!(
                "probes wear the labels of {} ({}): {by}",
                set.workload,
                shown.join(",")
            ));
        }
        if sets.len() > probes.len() {
            let left: Vec<&str> = sets[probes.len()..]
                .iter()
                .map(|s| s.workload.as_str())
                .collect();
            tracing::warn!(
                "--policy-from {ns}: more workloads than probes; not represented: {}",
                left.join(", ")
            );
        }
        Ok(out)
    }
}

impl Runtime for KubeRuntime {
    async fn discover(&self, progress: &dyn Progress) -> Result<Deployment> {
        progress.message(&format!("connecting to {}", self.server));
        let version = self
            .call(
                "reading the server version",
                self.client.apiserver_version(),
            )
            .await?;
        let namespaces = self
            .list(
                Api::<Namespace>::all(self.client.clone()),
                &ListParams::default(),
                "listing namespaces",
            )
            .await?;
        self.preflight(&namespaces, progress).await?;

        progress.message("reading nodes, CNI, kube-proxy and DNS");
        let filter = NodeFilter::parse(self.opts.nodes.as_deref());
        let node_lp = match &filter {
            NodeFilter::Selector(s) => ListParams::default().labels(s),
            _ => ListParams::default(),
        };
        let ks = |c: &Client| -> Api<Pod> { Api::namespaced(c.clone(), "kube-system") };
        let all = ListParams::default();
        let slice_lp =
            ListParams::default().labels("kubernetes.io/service-name in (kube-dns,kubernetes)");
        let (nodes, daemonsets, ks_pods, ks_services, default_services, slices, policies) = tokio::try_join!(
            self.list(
                Api::<Node>::all(self.client.clone()),
                &node_lp,
                "listing nodes"
            ),
            self.list(
                Api::<DaemonSet>::all(self.client.clone()),
                &all,
                "listing DaemonSets"
            ),
            self.list(ks(&self.client), &all, "listing kube-system pods"),
            self.list(
                Api::<Service>::namespaced(self.client.clone(), "kube-system"),
                &all,
                "listing kube-system Services"
            ),
            self.list(
                Api::<Service>::namespaced(self.client.clone(), "default"),
                &all,
                "listing default Services"
            ),
            self.list(
                Api::<EndpointSlice>::all(self.client.clone()),
                &slice_lp,
                "listing EndpointSlices"
            ),
            self.list(
                Api::<NetworkPolicy>::all(self.client.clone()),
                &all,
                "listing NetworkPolicies"
            ),
        )?;
        let mut infos: Vec<_> = nodes.iter().map(discover::node_info).collect();
        if let NodeFilter::Names(names) = &filter {
            let missing: Vec<&String> = names
                .iter()
                .filter(|n| !infos.iter().any(|i| &i.name == *n))
                .collect();
            if !missing.is_empty() {
                return Err(RuntimeError::Other(format!(
                    "--nodes names nodes the cluster does not have: {}",
                    missing
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            infos.retain(|i| names.contains(&i.name));
        }
        if infos.is_empty() {
            return Err(RuntimeError::Other(match &filter {
                NodeFilter::Selector(s) => format!(
                    "no node matches --nodes {s}; `kubectl get nodes -l {s}` lists what it selects, `kubectl get nodes --show-labels` the labels there are"
                ),
                _ => "the cluster has no nodes".into(),
            }));
        }

        // CNI: DaemonSets anywhere, pods in kube-system; its agent pods in its namespace.
        let cni: CniDetection = discover::detect_cni(&daemonsets, &ks_pods);
        let find_ds = |id: &str| {
            daemonsets.iter().find(|d| {
                format!(
                    "{}/{}",
                    d.metadata.namespace.as_deref().unwrap_or(""),
                    d.metadata.name.as_deref().unwrap_or("")
                ) == id
            })
        };
        let cni_ds = cni.daemonset.as_deref().and_then(find_ds);
        let cni_pods = match cni_ds.and_then(|d| d.metadata.namespace.clone()) {
            Some(ns) if ns != "kube-system" => self
                .list(
                    Api::<Pod>::namespaced(self.client.clone(), &ns),
                    &ListParams::default(),
                    "listing CNI pods",
                )
                .await
                .unwrap_or_default(),
            _ => ks_pods.clone(),
        };
        let proxy_ds = find_ds("kube-system/kube-proxy");
        let (proxy_cm, coredns_cm, cilium_cm) = tokio::join!(
            self.optional_configmap("kube-proxy"),
            self.optional_configmap("coredns"),
            self.optional_configmap("cilium-config"),
        );
        let proxy =
            discover::detect_kube_proxy(proxy_ds, proxy_cm.as_ref(), &cni, cilium_cm.as_ref());
        tracing::debug!(
            "CNI {}: {}; kube-proxy {}: {}",
            cni.name,
            cni.evidence,
            proxy.mode,
            proxy.evidence
        );

        let mut findings = discover::node_not_ready_findings(&infos);
        findings.extend(discover::cni_agent_findings(
            &cni, cni_ds, &cni_pods, &infos,
        ));
        findings.extend(discover::kube_proxy_findings(proxy_ds, &ks_pods, &infos));

        let api = default_services
            .iter()
            .find(|s| s.metadata.name.as_deref() == Some("kubernetes"))
            .map(|s| {
                if let Some(f) = discover::service_no_endpoints(
                    s,
                    &slices,
                    "pods cannot reach the API server through kubernetes.default",
                ) {
                    findings.push(f);
                }
                ApiServer {
                    node: discover::apiserver_node(&slices, &infos),
                    ..discover::apiserver(s)
                }
            });
        let dns_svc = ks_services
            .iter()
            .find(|s| s.metadata.name.as_deref() == Some("kube-dns"))
            .or_else(|| {
                ks_services
                    .iter()
                    .find(|s| s.metadata.name.as_deref() == Some("coredns"))
            });
        let dns_pods: Vec<Pod> = ks_pods
            .iter()
            .filter(|p| {
                p.metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get("k8s-app"))
                    .map(String::as_str)
                    == Some("kube-dns")
            })
            .cloned()
            .collect();
        let domain = coredns_cm
            .as_ref()
            .and_then(|c| c.data.as_ref()?.get("Corefile").cloned())
            .and_then(|c| discover::cluster_domain_from_corefile(&c))
            .unwrap_or_else(|| "cluster.local".into());
        let dns = match dns_svc {
            Some(s) => {
                findings.extend(discover::dns_pods_findings(&dns_pods));
                if let Some(f) = discover::service_no_endpoints(
                    s,
                    &slices,
                    "cluster DNS does not answer through its Service",
                ) {
                    findings.push(f);
                }
                discover::dns_target(s, &slices, &dns_pods, api.as_ref(), &domain)
            }
            None => None,
        };

        let mut world = crate::model::topology::PolicyWorld {
            namespaces: namespaces
                .iter()
                .filter_map(|n| {
                    Some((
                        n.metadata.name.clone()?,
                        n.metadata.labels.clone().unwrap_or_default(),
                    ))
                })
                .collect(),
            policies,
        };
        world.namespaces.retain(|k, _| !k.is_empty());

        Ok(Deployment {
            cluster: crate::model::report::ClusterSummary {
                name: self.cluster_name.clone(),
                server: self.server.clone(),
                version: version.git_version.clone(),
                cni: cni.name.clone(),
                kube_proxy_mode: proxy.mode.clone(),
                dns_service: dns.as_ref().map(|d| d.service.clone()),
            },
            nodes: infos,
            pods: Vec::new(),
            hosts: Vec::new(),
            dns,
            apiserver: api,
            policy: world,
            findings,
        })
    }

    async fn deploy(&self, mut d: Deployment, progress: &dyn Progress) -> Result<Deployment> {
        // Pods must be ready within --timeout of the start of the run.
        let deadline = self.started + self.opts.timeout;
        let run = self.run_spec();
        let ns = run.namespace.clone();
        let mut host_off = self.state().host_off.clone();

        if self.opts.namespace.is_none() {
            progress.message(&format!("creating namespace {ns}"));
            let api: Api<Namespace> = Api::all(self.client.clone());
            // Mark first: a create that times out may still have happened.
            self.state().created_namespace = true;
            let what = format!("creating namespace {ns}");
            let privileged = host_off.is_none();
            let obj = manifests::namespace(&run, privileged);
            let created = match self
                .call(&what, api.create(&PostParams::default(), &obj))
                .await
            {
                Ok(c) => c,
                // A policy engine may refuse the privileged Pod Security label:
                // go on without host inspection rather than not at all.
                Err(RuntimeError::NotPermitted(m) | RuntimeError::Other(m)) if privileged => {
                    let why = format!(
                        "namespace {ns} could not be labelled {}=privileged ({m}): running without host inspection",
                        manifests::PSA_ENFORCE
                    );
                    progress.message(&why);
                    tracing::warn!("{why}");
                    self.state().host_off = Some(why.clone());
                    host_off = Some(why);
                    self.call(
                        &what,
                        api.create(&PostParams::default(), &manifests::namespace(&run, false)),
                    )
                    .await?
                }
                Err(e) => return Err(e),
            };
            d.policy
                .namespaces
                .insert(ns.clone(), created.metadata.labels.unwrap_or_default());
        }

        let ready_nodes: Vec<(usize, String)> = d
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.ready)
            .map(|(i, n)| (i, n.name.clone()))
            .collect();
        if ready_nodes.is_empty() {
            return Err(RuntimeError::NotReady(
                "no node is Ready; nothing to probe".into(),
            ));
        }
        let plans: Vec<NodePlan> = ready_nodes
            .iter()
            .map(|(i, n)| NodePlan {
                node: n.clone(),
                probes: vec![
                    manifests::probe_name(n, *i, 'a'),
                    manifests::probe_name(n, *i, 'b'),
                ],
                host: host_off.is_none().then(|| manifests::host_pod_name(n, *i)),
            })
            .collect();

        let pods_api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        let svc_api: Api<Service> = Api::namespaced(self.client.clone(), &ns);
        let pp = PostParams::default();
        let mut failed: BTreeMap<String, String> = BTreeMap::new();
        let all_probes: Vec<String> = plans.iter().flat_map(|p| p.probes.clone()).collect();
        let wear = self.workload_labels(&d, &all_probes, progress).await?;
        let probe_pod = |name: &str, node: &str| {
            let mut pod = manifests::probe_pod(&run, name, node);
            if let Some(labels) = wear.get(name) {
                let clashes = manifests::wear_labels(&mut pod, labels);
                if !clashes.is_empty() {
                    tracing::warn!(
                        "probe {name} keeps its own {} label(s) instead of the workload's: policies selecting on them do not see it as the workload",
                        clashes.join(", ")
                    );
                }
            }
            pod
        };

        // One probe first: an image that cannot be pulled, a PSA rejection or a
        // missing permission fails in seconds, not after a timeout on every node.
        let first = &plans[0];
        progress.message(&format!("starting the first probe on {}", first.node));
        let pod = probe_pod(&first.probes[0], &first.node);
        self.note_created_pod(&first.probes[0]);
        match tokio::time::timeout(call_bound(self.opts.timeout), pods_api.create(&pp, &pod)).await
        {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                let forbidden = matches!(&e, ::kube::Error::Api(s) if s.code == 403);
                let msg = create_error(&first.probes[0], &ns, &self.server, e);
                return Err(if forbidden {
                    RuntimeError::NotPermitted(msg)
                } else {
                    RuntimeError::Other(msg)
                });
            }
            Err(_) => {
                return Err(unreachable(format!(
                    "the Kubernetes API at {} did not answer the creation of the first probe pod within {}",
                    self.server,
                    humantime::format_duration(call_bound(self.opts.timeout))
                )));
            }
        }
        let first_wait = self
            .wait_pods(&pods_api, &[first.probes[0].clone()], deadline, progress)
            .await;
        if let Some(why) = first_wait.get(&first.probes[0]) {
            return Err(RuntimeError::NotReady(format!(
                "the first probe pod did not start on node {}: {why}{}",
                first.node,
                image_hint(why, &run.image)
            )));
        }

        // Everything else, all nodes at once.
        progress.message(&format!("starting probes on {} node(s)", plans.len()));
        let mut to_create: Vec<(String, Pod)> = Vec::new();
        for p in &plans {
            for name in &p.probes {
                if name != &first.probes[0] {
                    to_create.push((name.clone(), probe_pod(name, &p.node)));
                }
            }
            if let Some(h) = &p.host {
                to_create.push((h.clone(), manifests::host_pod(&run, h, &p.node)));
            }
        }
        for (name, _) in &to_create {
            self.note_created_pod(name);
        }
        let services: Vec<String> = plans.iter().flat_map(|p| p.probes.clone()).collect();
        for s in &services {
            self.note_created_service(s);
        }
        let ns = ns.as_str();
        let create_pods = futures::future::join_all(to_create.iter().map(|(name, pod)| {
            let api = pods_api.clone();
            async move {
                let r = tokio::time::timeout(
                    call_bound(self.opts.timeout),
                    api.create(&PostParams::default(), pod),
                )
                .await;
                (
                    name.clone(),
                    match r {
                        Ok(Ok(_)) => None,
                        Ok(Err(e)) => Some(create_error(name, ns, &self.server, e)),
                        Err(_) => {
                            Some("the API server did not answer the create in time".to_string())
                        }
                    },
                )
            }
        }));
        let create_svcs = futures::future::join_all(services.iter().map(|name| {
            let api = svc_api.clone();
            let svc = manifests::probe_service(&run, name);
            async move {
                let r = tokio::time::timeout(
                    call_bound(self.opts.timeout),
                    api.create(&PostParams::default(), &svc),
                )
                .await;
                (
                    name.clone(),
                    match r {
                        Ok(Ok(s)) => Ok(s),
                        Ok(Err(e)) => Err(api_error(
                            &format!("creating Service {ns}/{name}"),
                            &self.server,
                            e,
                        )
                        .to_string()),
                        Err(_) => {
                            Err("the API server did not answer the create in time".to_string())
                        }
                    },
                )
            }
        }));
        let (pod_results, svc_results) = tokio::join!(create_pods, create_svcs);
        for (name, err) in pod_results {
            if let Some(e) = err {
                failed.insert(name, e);
            }
        }
        let mut svcs: BTreeMap<String, Service> = BTreeMap::new();
        for (name, r) in svc_results {
            match r {
                Ok(s) => {
                    svcs.insert(name, s);
                }
                Err(e) => tracing::warn!("no Service for probe {name}: {e}"),
            }
        }
        let waiting: Vec<String> = to_create
            .iter()
            .map(|(n, _)| n.clone())
            .filter(|n| !failed.contains_key(n))
            .collect();
        failed.extend(
            self.wait_pods(&pods_api, &waiting, deadline, progress)
                .await,
        );

        // What came up.
        let live = self
            .list(
                pods_api.clone(),
                &ListParams::default().labels(&format!("{}={}", manifests::RUN_KEY, run.id)),
                "listing probe pods",
            )
            .await?;
        let by_name: BTreeMap<String, &Pod> = live
            .iter()
            .filter_map(|p| Some((p.metadata.name.clone()?, p)))
            .collect();
        for plan in &plans {
            for name in &plan.probes {
                if failed.contains_key(name) {
                    continue;
                }
                let Some(pod) = by_name.get(name) else {
                    continue;
                };
                let ips = pod_ips(pod);
                d.pods.push(ProbePod {
                    name: name.clone(),
                    namespace: ns.to_string(),
                    node: plan.node.clone(),
                    ips,
                    ports: run.ports,
                    labels: pod.metadata.labels.clone().unwrap_or_default(),
                    service: svcs.get(name).map(discover::service_target),
                });
            }
            if let Some(h) = &plan.host {
                match failed.get(h) {
                    Some(why) => {
                        self.state().host_unavailable.insert(
                            plan.node.clone(),
                            format!("the host pod did not start: {why}"),
                        );
                    }
                    None => {
                        let ips = d
                            .nodes
                            .iter()
                            .find(|n| n.name == plan.node)
                            .map(|n| n.internal_ips.clone())
                            .unwrap_or_default();
                        d.hosts.push(HostAgent {
                            node: plan.node.clone(),
                            ips,
                            tcp_port: Some(run.host_port),
                        });
                        self.state().host_pods.insert(plan.node.clone(), h.clone());
                    }
                }
            }
            let lost: Vec<String> = plan
                .probes
                .iter()
                .filter_map(|p| failed.get(p).cloned())
                .collect();
            if !lost.is_empty()
                && let Some(n) = d.nodes.iter_mut().find(|n| n.name == plan.node)
            {
                let why = format!(
                    "probe pods did not start, checks from and to this node are skipped: {}",
                    lost.join("; ")
                );
                progress.message(&format!("node {}: {why}", plan.node));
                n.reason = Some(why);
                if n.ready {
                    d.findings
                        .push(discover::probe_pod_not_started(&plan.node, &lost));
                }
            }
        }
        if d.pods.is_empty() {
            return Err(RuntimeError::NotReady(format!(
                "no probe pod became ready: {}",
                failed.values().cloned().collect::<Vec<_>>().join("; ")
            )));
        }
        Ok(d)
    }

    async fn probe(&self, source: &Source, plan: &ProbePlan) -> Result<ProbeReport> {
        let pod = match source {
            Source::Pod(name) => name.clone(),
            Source::Host(node) => self.host_pod(node)?,
        };
        let body = serde_json::to_vec(plan)
            .map_err(|e| RuntimeError::Other(format!("could not encode the probe plan: {e}")))?;
        let bound = Duration::from_millis(plan.deadline_ms) + Duration::from_secs(20);
        let out = tokio::time::timeout(
            bound,
            self.exec(
                &pod,
                vec![manifests::BIN.into(), "agent".into(), "probe".into()],
                Some(body),
            ),
        )
        .await
        .map_err(|_| RuntimeError::Timeout {
            what: format!("the probe agent in pod {pod}"),
            after: bound,
        })??;
        serde_json::from_slice(&out).map_err(|e| {
            RuntimeError::Other(format!(
                "the agent in pod {pod} answered something that is not a probe report ({e}): {}",
                String::from_utf8_lossy(&out[..out.len().min(200)])
            ))
        })
    }

    async fn inspect_host(&self, node: &str) -> Result<HostReport> {
        let pod = self.host_pod(node)?;
        let bound = Duration::from_secs(60).min(self.opts.timeout.max(Duration::from_secs(10)));
        let cmd = vec![
            manifests::BIN.into(),
            "agent".into(),
            "inspect-host".into(),
            "--host-root".into(),
            "/host".into(),
            "--node-name".into(),
            node.to_string(),
        ];
        let out = tokio::time::timeout(bound, self.exec(&pod, cmd, None))
            .await
            .map_err(|_| RuntimeError::Timeout {
                what: format!("host inspection on {node}"),
                after: bound,
            })??;
        serde_json::from_slice(&out).map_err(|e| {
            RuntimeError::Other(format!(
                "host inspection on {node} answered something that is not a host report: {e}"
            ))
        })
    }

    async fn teardown(&self) -> Result<()> {
        let (created_ns, pods, svcs) = {
            let mut s = self.state();
            let r = (
                std::mem::take(&mut s.created_namespace),
                std::mem::take(&mut s.created_pods),
                std::mem::take(&mut s.created_services),
            );
            s.host_pods.clear();
            r
        };
        let ns = self.namespace();
        if created_ns {
            return delete_namespace(&self.client, &ns, call_bound(self.opts.timeout)).await;
        }
        // A namespace we were given: only our own pods and Services.
        let pods_api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        let svc_api: Api<Service> = Api::namespaced(self.client.clone(), &ns);
        let dp = DeleteParams::background().grace_period(0);
        let mut errors = Vec::new();
        for p in pods {
            if let Ok(Err(e)) =
                tokio::time::timeout(Duration::from_secs(10), pods_api.delete(&p, &dp)).await
                && !is_not_found(&e)
            {
                errors.push(format!("pod {p}: {e}"));
            }
        }
        for s in svcs {
            if let Ok(Err(e)) =
                tokio::time::timeout(Duration::from_secs(10), svc_api.delete(&s, &dp)).await
                && !is_not_found(&e)
            {
                errors.push(format!("Service {s}: {e}"));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(RuntimeError::Other(format!(
                "could not delete everything in namespace {ns}: {}; delete it with `kubectl -n {ns} delete pods,services -l {}`",
                errors.join("; "),
                manifests::MANAGED_BY_KEY.to_string() + "=" + manifests::MANAGED_BY
            )))
        }
    }
}

impl KubeRuntime {
    fn note_created_pod(&self, name: &str) {
        if self.opts.namespace.is_some() {
            self.state().created_pods.push(name.to_string());
        }
    }
    fn note_created_service(&self, name: &str) {
        if self.opts.namespace.is_some() {
            self.state().created_services.push(name.to_string());
        }
    }

    fn host_pod(&self, node: &str) -> Result<String> {
        let s = self.state();
        if let Some(p) = s.host_pods.get(node) {
            return Ok(p.clone());
        }
        Err(RuntimeError::NotReady(
            s.host_off
                .clone()
                .or_else(|| s.host_unavailable.get(node).cloned())
                .unwrap_or_else(|| format!("no host agent runs on node {node}")),
        ))
    }

    /// Wait until every named pod is ready or cannot start, or the deadline.
    /// Returns the ones that did not make it, with the reason.
    async fn wait_pods(
        &self,
        api: &Api<Pod>,
        names: &[String],
        deadline: Instant,
        progress: &dyn Progress,
    ) -> BTreeMap<String, String> {
        let run = self.run_spec();
        let lp = ListParams::default().labels(&format!("{}={}", manifests::RUN_KEY, run.id));
        let mut failed: BTreeMap<String, (Option<Pod>, String)> = BTreeMap::new();
        let mut ready: std::collections::BTreeSet<String> = Default::default();
        let mut last: BTreeMap<String, Pod> = BTreeMap::new();
        let total = names.len();
        loop {
            match self.call("watching the probe pods", api.list(&lp)).await {
                Ok(list) => {
                    for p in list.items {
                        let Some(name) = p.metadata.name.clone() else {
                            continue;
                        };
                        if !names.contains(&name)
                            || ready.contains(&name)
                            || failed.contains_key(&name)
                        {
                            continue;
                        }
                        match pods::classify(&p) {
                            PodStart::Ready => {
                                ready.insert(name);
                                progress.tick(ready.len(), total);
                            }
                            PodStart::Failed(why) => {
                                progress.message(&format!("{name}: {why}"));
                                failed.insert(name, (Some(p), why));
                            }
                            PodStart::Starting(_) => {
                                last.insert(name, p);
                            }
                        }
                    }
                }
                Err(e) => tracing::debug!("{e}"),
            }
            if ready.len() + failed.len() >= total || Instant::now() >= deadline {
                break;
            }
            let nap =
                Duration::from_millis(1000).min(deadline.saturating_duration_since(Instant::now()));
            tokio::time::sleep(nap).await;
        }
        for n in names {
            if !ready.contains(n) && !failed.contains_key(n) {
                let why = match last.get(n) {
                    Some(p) => format!(
                        "not ready within {}: {}",
                        humantime::format_duration(self.opts.timeout),
                        pods::timeout_reason(p)
                    ),
                    None => format!(
                        "not ready within {}: the pod was never seen",
                        humantime::format_duration(self.opts.timeout)
                    ),
                };
                failed.insert(n.clone(), (last.get(n).cloned(), why));
            }
        }
        if failed.is_empty() {
            return BTreeMap::new();
        }
        // The kubelet's and scheduler's own words.
        let events: Vec<Event> = match tokio::time::timeout(
            Duration::from_secs(10),
            Api::<Event>::namespaced(self.client.clone(), &run.namespace)
                .list(&ListParams::default()),
        )
        .await
        {
            Ok(Ok(l)) => l.items,
            _ => Vec::new(),
        };
        failed
            .into_iter()
            .map(|(name, (pod, why))| {
                let text = match pod {
                    Some(p) => pods::failure_reason(&p, &why, &events),
                    None => format!("pod {name}: {why}"),
                };
                (name, text)
            })
            .collect()
    }
}

fn pod_ips(p: &Pod) -> Vec<std::net::IpAddr> {
    let st = p.status.as_ref();
    let mut ips: Vec<std::net::IpAddr> = st
        .and_then(|s| s.pod_ips.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|i| i.ip.parse().ok())
        .collect();
    if ips.is_empty() {
        ips.extend(st.and_then(|s| s.pod_ip.as_deref()?.parse::<std::net::IpAddr>().ok()));
    }
    ips
}

/// What to do about an image that cannot be pulled.
fn image_hint(why: &str, image: &str) -> String {
    if why.contains("ImagePull") || why.contains("ErrImage") || why.contains("InvalidImageName") {
        format!(
            ". The nodes cannot pull {image}: pass --image with one they can pull, or load it into the nodes \
             (`kubectl netcheck image -f netcheck.tar`, then `kind load image-archive netcheck.tar` or `ctr -n k8s.io images import netcheck.tar`)"
        )
    } else {
        String::new()
    }
}

/// Delete a namespace (foreground) and wait, bounded, until it is gone.
pub async fn delete_namespace(client: &Client, ns: &str, bound: Duration) -> Result<()> {
    let api: Api<Namespace> = Api::all(client.clone());
    match tokio::time::timeout(bound, api.delete(ns, &DeleteParams::foreground())).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) if is_not_found(&e) => return Ok(()),
        Ok(Err(e)) => {
            return Err(RuntimeError::Other(format!(
                "could not delete namespace {ns}: {e}; delete it with `kubectl delete namespace {ns}`"
            )));
        }
        Err(_) => {
            return Err(RuntimeError::Timeout {
                what: format!(
                    "deleting namespace {ns} (delete it with `kubectl delete namespace {ns}`)"
                ),
                after: bound,
            });
        }
    }
    let until = Instant::now() + bound;
    while Instant::now() < until {
        match tokio::time::timeout(Duration::from_secs(5), api.get_opt(ns)).await {
            Ok(Ok(None)) => return Ok(()),
            Ok(Err(e)) if is_not_found(&e) => return Ok(()),
            _ => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
    // Deletion goes on in the cluster; the run need not wait for it.
    tracing::info!("namespace {ns} is still terminating; Kubernetes finishes deleting it");
    Ok(())
}

/// `kubectl netcheck cleanup`: delete every namespace a run left behind
/// (by the managed-by label). Returns the names deleted.
pub async fn cleanup_leftovers(client: &Client, bound: Duration) -> Result<Vec<String>> {
    let api: Api<Namespace> = Api::all(client.clone());
    let lp = ListParams::default().labels(&format!(
        "{}={}",
        manifests::MANAGED_BY_KEY,
        manifests::MANAGED_BY
    ));
    let list = match tokio::time::timeout(bound, api.list(&lp)).await {
        Ok(Ok(l)) => l,
        Ok(Err(e)) => return Err(api_error("listing probe namespaces", "the API server", e)),
        Err(_) => {
            return Err(unreachable(format!(
                "the Kubernetes API did not answer within {}",
                humantime::format_duration(bound)
            )));
        }
    };
    let mut removed = Vec::new();
    for ns in list.items {
        let Some(name) = ns.metadata.name else {
            continue;
        };
        // Belt and braces: only namespaces that carry our label.
        if ns
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(manifests::MANAGED_BY_KEY))
            .map(String::as_str)
            != Some(manifests::MANAGED_BY)
        {
            continue;
        }
        delete_namespace(client, &name, bound).await?;
        removed.push(name);
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_hints_only_for_pull_errors() {
        assert!(image_hint("ErrImagePull: x", "img:1").contains("kind load image-archive"));
        assert!(image_hint("ImagePullBackOff", "img:1").contains("--image"));
        assert_eq!(image_hint("CrashLoopBackOff", "img:1"), "");
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
