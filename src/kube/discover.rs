//! Discovery as pure functions over k8s-openapi objects: nodes, the CNI,
//! kube-proxy, cluster DNS, the `kubernetes` Service, and the control-plane
//! findings they prove, and [`deployment_from`] over all of it. The API calls
//! live in `read.rs` ([`ClusterObjects`]); everything here is
//! unit-tested on objects captured from a real cluster.

use crate::inspect::recognise::{self, CNIS};
use crate::model::report::{ClusterSummary, Endpoint, ServiceRef};
use crate::model::topology::{
    ApiServer, Deployment, DnsName, DnsTarget, NodeInfo, PolicyWorld, ServiceTarget,
};
use crate::model::{Finding, FindingId, Severity};
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use std::collections::BTreeMap;
use std::net::IpAddr;

// ---------------------------------------------------------------- nodes

/// A node's Ready condition: `(ready, why not)`.
pub fn node_ready(node: &Node) -> (bool, Option<String>) {
    let cond = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"));
    match cond {
        Some(c) if c.status == "True" => (true, None),
        Some(c) => {
            let mut why = format!("Ready={}", c.status);
            if let Some(r) = &c.reason {
                why.push_str(&format!(" ({r}"));
                if let Some(m) = c.message.as_deref().filter(|m| !m.is_empty()) {
                    why.push_str(&format!(": {m}"));
                }
                why.push(')');
            }
            if let Some(t) = &c.last_transition_time {
                why.push_str(&format!(" since {}", t.0));
            }
            (false, Some(why))
        }
        None => (false, Some("the node reports no Ready condition".into())),
    }
}

pub fn node_info(node: &Node) -> NodeInfo {
    let name = node.metadata.name.clone().unwrap_or_default();
    let (ready, reason) = node_ready(node);
    let mut internal_ips: Vec<IpAddr> = Vec::new();
    for a in node
        .status
        .as_ref()
        .and_then(|s| s.addresses.as_ref())
        .into_iter()
        .flatten()
        .filter(|a| a.type_ == "InternalIP")
    {
        if let Ok(ip) = a.address.parse::<IpAddr>() {
            // One per family, the first one listed (the kubelet's primary).
            if !internal_ips.iter().any(|x| x.is_ipv4() == ip.is_ipv4()) {
                internal_ips.push(ip);
            }
        }
    }
    let spec = node.spec.as_ref();
    let mut cidrs: Vec<String> = spec.and_then(|s| s.pod_cidrs.clone()).unwrap_or_default();
    if cidrs.is_empty() {
        cidrs.extend(spec.and_then(|s| s.pod_cidr.clone()));
    }
    let pod_cidrs = cidrs.iter().filter_map(|c| c.parse().ok()).collect();
    let taints = spec
        .and_then(|s| s.taints.as_ref())
        .into_iter()
        .flatten()
        .map(|t| match &t.value {
            Some(v) if !v.is_empty() => format!("{}={}:{}", t.key, v, t.effect),
            _ => format!("{}:{}", t.key, t.effect),
        })
        .collect();
    NodeInfo {
        name,
        ready,
        internal_ips,
        pod_cidrs,
        taints,
        reason,
    }
}

/// `--nodes`: a label selector (contains `=`, `!` or ` in `) or node names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeFilter {
    All,
    Selector(String),
    Names(Vec<String>),
}

impl NodeFilter {
    pub fn parse(s: Option<&str>) -> NodeFilter {
        match s.map(str::trim).filter(|s| !s.is_empty()) {
            None => NodeFilter::All,
            Some(s) if s.contains('=') || s.contains('!') || s.contains(" in ") => {
                NodeFilter::Selector(s.to_string())
            }
            Some(s) => NodeFilter::Names(
                s.split(',')
                    .map(|n| n.trim().to_string())
                    .filter(|n| !n.is_empty())
                    .collect(),
            ),
        }
    }
}

pub fn node_not_ready_findings(nodes: &[NodeInfo]) -> Vec<Finding> {
    nodes
        .iter()
        .filter(|n| !n.ready)
        .map(|n| Finding {
            id: FindingId::NodeNotReady,
            severity: Severity::Error,
            title: format!("Node {} is NotReady; no probes run there", n.name),
            nodes: vec![n.name.clone()],
            evidence: vec![format!(
                "node {}: {}",
                n.name,
                n.reason.as_deref().unwrap_or("Ready condition is not True")
            )],
            remediation: format!(
                "Look at `kubectl describe node {0}` (Conditions, Events) and the kubelet's log on the node \
                 (`journalctl -u kubelet`); a NotReady node often means the CNI is not initialised \
                 (\"network plugin not ready\") or the kubelet lost the API server.",
                n.name
            ),
        })
        .collect()
}

/// A Ready node where no probe pod started: nothing could be checked from or
/// to it, and the pods' own reasons (often a CNI sandbox error) say why.
pub fn probe_pod_not_started(node: &str, reasons: &[String]) -> Finding {
    let sandbox = reasons
        .iter()
        .any(|r| r.contains("FailedCreatePodSandBox") || r.contains("network for sandbox"));
    Finding {
        id: FindingId::ProbePodNotStarted,
        severity: Severity::Error,
        title: if sandbox {
            format!("Pods cannot start on node {node}: the CNI failed to set up their network")
        } else {
            format!("The probe pods on node {node} did not start; its checks are skipped")
        },
        nodes: vec![node.to_string()],
        evidence: reasons
            .iter()
            .map(|r| format!("node {node}: {r}"))
            .collect(),
        remediation: if sandbox {
            format!(
                "The kubelet on {node} asked the CNI for a pod interface and the CNI failed. Check the CNI's \
                 agent pod on the node (`kubectl -n kube-system get pods -o wide --field-selector \
                 spec.nodeName={node}`), its config and binaries (`ls /etc/cni/net.d /opt/cni/bin` on the node) \
                 and the kubelet's log (`journalctl -u kubelet | grep -i cni`)."
            )
        } else {
            format!(
                "Read the reason above; rerun with `--keep` and `kubectl describe pod` the probe pods on {node}. \
                 An image pull error: mirror the image and pass `--image`."
            )
        },
    }
}

// ---------------------------------------------------------------- pods

/// Whether a pod's Ready condition is True.
pub fn pod_ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
        .is_some_and(|c| c.status == "True")
}

/// One line describing why a pod is not ready: phase, waiting/terminated
/// reasons of its containers, the PodScheduled message.
pub fn pod_state_line(p: &Pod) -> String {
    let name = p.metadata.name.as_deref().unwrap_or("?");
    let Some(st) = p.status.as_ref() else {
        return format!("pod {name}: no status yet");
    };
    let mut parts = vec![format!(
        "phase {}",
        st.phase.as_deref().unwrap_or("Unknown")
    )];
    if let Some(c) = st
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "PodScheduled" && c.status != "True")
    {
        parts.push(format!(
            "not scheduled: {}",
            c.message.as_deref().or(c.reason.as_deref()).unwrap_or("")
        ));
    }
    for cs in st.container_statuses.iter().flatten() {
        let s = cs.state.as_ref();
        if let Some(w) = s.and_then(|s| s.waiting.as_ref()) {
            parts.push(format!(
                "container {} waiting: {}{}",
                cs.name,
                w.reason.as_deref().unwrap_or("?"),
                w.message
                    .as_deref()
                    .map(|m| format!(" ({m})"))
                    .unwrap_or_default()
            ));
        } else if let Some(t) = s.and_then(|s| s.terminated.as_ref()) {
            parts.push(format!(
                "container {} terminated: exit code {}{}",
                cs.name,
                t.exit_code,
                t.reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ));
        } else if !cs.ready {
            parts.push(format!("container {} running but not ready", cs.name));
        }
        if cs.restart_count > 0 {
            parts.push(format!("{} restarts", cs.restart_count));
        }
    }
    let node = p
        .spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .unwrap_or("no node");
    format!("pod {name} on {node}: {}", parts.join(", "))
}

fn pod_node(p: &Pod) -> Option<&str> {
    p.spec.as_ref().and_then(|s| s.node_name.as_deref())
}

fn pod_ips(p: &Pod) -> Vec<IpAddr> {
    let st = p.status.as_ref();
    let mut ips: Vec<IpAddr> = st
        .and_then(|s| s.pod_ips.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|i| i.ip.parse().ok())
        .collect();
    if ips.is_empty() {
        ips.extend(st.and_then(|s| s.pod_ip.as_deref()?.parse::<IpAddr>().ok()));
    }
    ips
}

fn matches_labels(p: &Pod, want: &BTreeMap<String, String>) -> bool {
    let have = p.metadata.labels.as_ref();
    !want.is_empty()
        && want
            .iter()
            .all(|(k, v)| have.and_then(|h| h.get(k)) == Some(v))
}

/// Pods a DaemonSet owns (by its matchLabels selector, in its namespace).
pub fn daemonset_pods<'a>(ds: &DaemonSet, pods: &'a [Pod]) -> Vec<&'a Pod> {
    let sel = ds.spec.selector.match_labels.clone().unwrap_or_default();
    pods.iter()
        .filter(|p| p.metadata.namespace == ds.metadata.namespace && matches_labels(p, &sel))
        .collect()
}

// ---------------------------------------------------------------- CNI

/// The CNI and the DaemonSet that runs its agent.
#[derive(Debug, Clone, PartialEq)]
pub struct CniDetection {
    pub name: String,
    /// `namespace/name` of the agent DaemonSet, when found.
    pub daemonset: Option<String>,
    /// What gave it away.
    pub evidence: String,
}

impl CniDetection {
    pub fn unknown() -> Self {
        CniDetection {
            name: "unknown".into(),
            daemonset: None,
            evidence: "no known CNI DaemonSet or pod found (the CNI may run on the nodes outside Kubernetes)"
                .into(),
        }
    }
}

fn ds_images(ds: &DaemonSet) -> Vec<String> {
    ds.spec
        .template
        .spec
        .as_ref()
        .map(|ps| {
            ps.containers
                .iter()
                .chain(ps.init_containers.iter().flatten())
                .filter_map(|c| c.image.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// Recognise the CNI from DaemonSets (any namespace) by name and image,
/// then from pod names (`inspect::recognise` has one entry per CNI).
pub fn detect_cni(daemonsets: &[DaemonSet], pods: &[Pod]) -> CniDetection {
    for sig in CNIS {
        for ds in daemonsets {
            let name = ds.metadata.name.as_deref().unwrap_or("");
            if let Some(m) = sig.workload_marker(name, &ds_images(ds)) {
                let id = format!(
                    "{}/{}",
                    ds.metadata.namespace.as_deref().unwrap_or(""),
                    name
                );
                return CniDetection {
                    name: sig.name.to_string(),
                    evidence: format!("DaemonSet {id} (matches \"{m}\")"),
                    daemonset: Some(id),
                };
            }
        }
    }
    for sig in CNIS {
        for p in pods {
            let name = p.metadata.name.as_deref().unwrap_or("");
            if let Some(m) = sig.daemonsets.iter().find(|m| name.starts_with(*m)) {
                return CniDetection {
                    name: sig.name.to_string(),
                    daemonset: None,
                    evidence: format!(
                        "pod {}/{} (matches \"{m}\")",
                        p.metadata.namespace.as_deref().unwrap_or(""),
                        name
                    ),
                };
            }
        }
    }
    CniDetection::unknown()
}

/// k3s's embedded flannel, which no DaemonSet or pod shows: it runs inside
/// the k3s binary, yet annotates every Node (`flannel.alpha.coreos.com/…`)
/// like kube-flannel, on a server whose version names k3s (`v1.33.1+k3s1`).
/// Other clusters whose CNI runs outside Kubernetes are told by their nodes
/// (`inspect::cluster_facts`), which show more than an annotation.
pub fn detect_k3s_flannel(nodes: &[Node], version: &str) -> Option<CniDetection> {
    if !version.contains("+k3s") {
        return None;
    }
    nodes.iter().find_map(|n| {
        let keys = n.metadata.annotations.as_ref()?.keys().map(String::as_str);
        let (r, key) = recognise::by_node_annotation(keys)?;
        (r.name == "flannel").then(|| CniDetection {
            name: "flannel (k3s embedded)".into(),
            daemonset: None,
            evidence: format!(
                "no flannel DaemonSet; annotation {key} on node {} and server version {version} (k3s runs flannel inside its own binary)",
                n.metadata.name.as_deref().unwrap_or("")
            ),
        })
    })
}

/// `cni-agent-not-ready`: the CNI's pod on a node is not ready, or a node has none.
pub fn cni_agent_findings(
    cni: &CniDetection,
    ds: Option<&DaemonSet>,
    pods: &[Pod],
    nodes: &[NodeInfo],
) -> Vec<Finding> {
    let Some(ds) = ds else { return Vec::new() };
    let agents = daemonset_pods(ds, pods);
    let ds_name = cni.daemonset.clone().unwrap_or_default();
    let mut out = Vec::new();
    for n in nodes.iter().filter(|n| n.ready) {
        let on_node: Vec<&&Pod> = agents
            .iter()
            .filter(|p| pod_node(p) == Some(n.name.as_str()))
            .collect();
        let (title, evidence) = if on_node.is_empty() {
            (
                format!("No {} agent pod runs on node {}", cni.name, n.name),
                vec![format!(
                    "DaemonSet {ds_name} has no pod on node {} (a taint it does not tolerate, or a nodeSelector?)",
                    n.name
                )],
            )
        } else if on_node.iter().any(|p| pod_ready(p)) {
            continue;
        } else {
            (
                format!("The {} agent on node {} is not ready", cni.name, n.name),
                on_node.iter().map(|p| pod_state_line(p)).collect(),
            )
        };
        let ns = ds.metadata.namespace.as_deref().unwrap_or("kube-system");
        let pod_hint = on_node
            .first()
            .and_then(|p| p.metadata.name.clone())
            .unwrap_or_else(|| "<pod>".into());
        out.push(Finding {
            id: FindingId::CniAgentNotReady,
            severity: Severity::Error,
            title,
            nodes: vec![n.name.clone()],
            evidence,
            remediation: format!(
                "Pods on this node get no (or stale) networking until the agent runs. \
                 Look at `kubectl -n {ns} describe pod {pod_hint}` and `kubectl -n {ns} logs {pod_hint} --all-containers`; \
                 the DaemonSet is {ds_name}."
            ),
        });
    }
    out
}

// ---------------------------------------------------------------- kube-proxy

/// What we learnt about kube-proxy.
#[derive(Debug, Clone, PartialEq)]
pub struct KubeProxy {
    /// "iptables", "ipvs", "nftables", "replaced by CNI" (`replaced by
    /// cilium`), "none" or "unknown".
    pub mode: String,
    /// Whether kube-proxy runs as pods we can see.
    pub managed: bool,
    pub evidence: String,
}

/// `mode:` of a kube-proxy `config.conf` (KubeProxyConfiguration YAML).
pub fn proxy_mode_from_config(config_conf: &str) -> Option<String> {
    let v: serde_yaml::Value = serde_yaml::from_str(config_conf).ok()?;
    let mode = v.get("mode")?.as_str()?.trim();
    Some(if mode.is_empty() { "iptables" } else { mode }.to_string())
}

/// `--proxy-mode` in the kube-proxy container's command or args.
pub fn proxy_mode_from_args(ds: &DaemonSet) -> Option<String> {
    let ps = ds.spec.template.spec.as_ref()?;
    let words: Vec<&String> = ps
        .containers
        .iter()
        .flat_map(|c| c.command.iter().flatten().chain(c.args.iter().flatten()))
        .collect();
    for (i, w) in words.iter().enumerate() {
        // A shell wrapper may hold all flags in one word.
        for tok in w.split_whitespace() {
            if let Some(m) = tok.strip_prefix("--proxy-mode=") {
                return Some(m.to_string());
            }
        }
        if w.as_str() == "--proxy-mode" {
            return words.get(i + 1).map(|s| s.to_string());
        }
    }
    None
}

/// Whether Cilium replaces kube-proxy (its `cilium-config` ConfigMap).
pub fn cilium_replaces_kube_proxy(cm: &ConfigMap) -> bool {
    cm.data
        .as_ref()
        .and_then(|d| d.get("kube-proxy-replacement"))
        .is_some_and(|v| matches!(v.trim(), "true" | "strict"))
}

/// Decide the kube-proxy mode from its DaemonSet, its ConfigMap and the CNI.
pub fn detect_kube_proxy(
    ds: Option<&DaemonSet>,
    config: Option<&ConfigMap>,
    cni: &CniDetection,
    cilium_config: Option<&ConfigMap>,
) -> KubeProxy {
    if cni.name == "cilium" && cilium_config.is_some_and(cilium_replaces_kube_proxy) {
        return KubeProxy {
            mode: "replaced by cilium".into(),
            managed: ds.is_some(),
            evidence: "cilium-config has kube-proxy-replacement enabled".into(),
        };
    }
    if let Some(ds) = ds {
        if let Some(m) = proxy_mode_from_args(ds) {
            return KubeProxy {
                mode: m.clone(),
                managed: true,
                evidence: format!("kube-proxy runs with --proxy-mode={m}"),
            };
        }
        let from_cm = config
            .and_then(|c| c.data.as_ref())
            .and_then(|d| d.get("config.conf"))
            .and_then(|c| proxy_mode_from_config(c));
        return match from_cm {
            Some(m) => KubeProxy {
                evidence: format!("ConfigMap kube-system/kube-proxy config.conf: mode {m}"),
                mode: m,
                managed: true,
            },
            None => KubeProxy {
                mode: "iptables".into(),
                managed: true,
                evidence: "kube-proxy DaemonSet without a mode setting (iptables is the default)"
                    .into(),
            },
        };
    }
    if recognise::by_name(&cni.name).is_some_and(|r| r.replaces_kube_proxy) {
        return KubeProxy {
            mode: format!("replaced by {}", cni.name),
            managed: false,
            evidence: format!(
                "no kube-proxy DaemonSet; {} can serve Services itself",
                cni.name
            ),
        };
    }
    KubeProxy {
        mode: "unknown".into(),
        managed: false,
        evidence: "no kube-proxy DaemonSet or pods (it may run on the nodes outside Kubernetes; \
                   host inspection looks for its rules)"
            .into(),
    }
}

/// `kube-proxy-not-running`: the DaemonSet exists but a node has no ready pod.
pub fn kube_proxy_findings(
    ds: Option<&DaemonSet>,
    pods: &[Pod],
    nodes: &[NodeInfo],
) -> Vec<Finding> {
    let Some(ds) = ds else { return Vec::new() };
    let mine = daemonset_pods(ds, pods);
    let mut bad_nodes = Vec::new();
    let mut evidence = Vec::new();
    for n in nodes.iter().filter(|n| n.ready) {
        let on: Vec<&&Pod> = mine
            .iter()
            .filter(|p| pod_node(p) == Some(n.name.as_str()))
            .collect();
        if on.iter().any(|p| pod_ready(p)) {
            continue;
        }
        bad_nodes.push(n.name.clone());
        if on.is_empty() {
            evidence.push(format!("no kube-proxy pod on node {}", n.name));
        } else {
            evidence.extend(on.iter().map(|p| pod_state_line(p)));
        }
    }
    if bad_nodes.is_empty() {
        return Vec::new();
    }
    vec![Finding {
        id: FindingId::KubeProxyNotRunning,
        severity: Severity::Error,
        title: format!(
            "kube-proxy is not running on {} of {} nodes: Services do not work there",
            bad_nodes.len(),
            nodes.iter().filter(|n| n.ready).count()
        ),
        nodes: bad_nodes,
        evidence,
        remediation:
            "Look at `kubectl -n kube-system get pods -l k8s-app=kube-proxy -o wide` and the \
                      logs of the pods that are not ready; Service ClusterIPs and NodePorts stay \
                      unprogrammed on a node until its kube-proxy runs."
                .into(),
    }]
}

// ---------------------------------------------------------------- services, DNS

pub fn service_ips(svc: &Service) -> Vec<IpAddr> {
    let spec = svc.spec.as_ref();
    let mut ips: Vec<IpAddr> = spec
        .and_then(|s| s.cluster_ips.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|i| i.parse().ok())
        .collect();
    if ips.is_empty() {
        ips.extend(spec.and_then(|s| s.cluster_ip.as_deref()?.parse::<IpAddr>().ok()));
    }
    ips
}

pub fn service_target(svc: &Service) -> ServiceTarget {
    ServiceTarget {
        name: svc.metadata.name.clone().unwrap_or_default(),
        namespace: svc.metadata.namespace.clone().unwrap_or_default(),
        cluster_ips: service_ips(svc),
        // The TCP nodePort (a probe Service's `tcp` port: the nodeport checks' target).
        node_port: svc
            .spec
            .as_ref()
            .and_then(|s| s.ports.as_ref())
            .and_then(|ps| {
                ps.iter()
                    .filter(|p| p.protocol.as_deref().unwrap_or("TCP") == "TCP")
                    .find_map(|p| p.node_port)
            })
            .and_then(|p| u16::try_from(p).ok()),
    }
}

/// `kubernetes.default` and the port pods use (443 unless the Service says otherwise).
pub fn apiserver(svc: &Service) -> ApiServer {
    let port = svc
        .spec
        .as_ref()
        .and_then(|s| s.ports.as_ref())
        .and_then(|ps| {
            ps.iter()
                .find(|p| p.name.as_deref() == Some("https"))
                .or(ps.first())
        })
        .and_then(|p| u16::try_from(p.port).ok())
        .unwrap_or(443);
    ApiServer {
        service: service_target(svc),
        port,
        node: None,
    }
}

/// The node serving the API (the `kubernetes` endpoint on a node's InternalIP), if any.
pub fn apiserver_node(slices: &[EndpointSlice], nodes: &[NodeInfo]) -> Option<String> {
    ready_endpoints("kubernetes", "default", slices)
        .iter()
        .filter_map(|e| e.ip)
        .find_map(|ip| {
            nodes
                .iter()
                .find(|n| n.internal_ips.contains(&ip))
                .map(|n| n.name.clone())
        })
}

/// Ready endpoints (node, pod, ip) of a Service, from its EndpointSlices.
pub fn ready_endpoints(service: &str, namespace: &str, slices: &[EndpointSlice]) -> Vec<Endpoint> {
    let mut out = Vec::new();
    for s in slices.iter().filter(|s| {
        s.metadata.namespace.as_deref() == Some(namespace)
            && s.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("kubernetes.io/service-name"))
                .map(String::as_str)
                == Some(service)
    }) {
        for e in s.endpoints.iter().flatten() {
            // Ready unset means ready (discovery.k8s.io/v1).
            if e.conditions.as_ref().and_then(|c| c.ready) == Some(false) {
                continue;
            }
            for a in &e.addresses {
                if let Ok(ip) = a.parse::<IpAddr>() {
                    out.push(Endpoint {
                        node: e.node_name.clone(),
                        pod: e.target_ref.as_ref().and_then(|t| t.name.clone()),
                        ip: Some(ip),
                        name: None,
                    });
                }
            }
        }
    }
    out
}

/// `service-no-endpoints`: a Service the checks need has no ready endpoint.
pub fn service_no_endpoints(
    svc: &Service,
    slices: &[EndpointSlice],
    why_needed: &str,
) -> Option<Finding> {
    let name = svc.metadata.name.as_deref().unwrap_or("");
    let ns = svc.metadata.namespace.as_deref().unwrap_or("");
    if !ready_endpoints(name, ns, slices).is_empty() {
        return None;
    }
    let all: usize = slices
        .iter()
        .filter(|s| {
            s.metadata.namespace.as_deref() == Some(ns)
                && s.metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get("kubernetes.io/service-name"))
                    .map(String::as_str)
                    == Some(name)
        })
        .map(|s| s.endpoints.as_ref().map_or(0, Vec::len))
        .sum();
    let selector = svc
        .spec
        .as_ref()
        .and_then(|s| s.selector.as_ref())
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    let ips: Vec<String> = service_ips(svc).iter().map(|i| i.to_string()).collect();
    Some(Finding {
        id: FindingId::ServiceNoEndpoints,
        severity: Severity::Error,
        title: format!("Service {ns}/{name} has no ready endpoints: {why_needed}"),
        nodes: Vec::new(),
        evidence: vec![
            format!(
                "Service {ns}/{name} ClusterIP {} selector {}",
                ips.join(","),
                if selector.is_empty() {
                    "(none)"
                } else {
                    &selector
                }
            ),
            format!("EndpointSlices list {all} endpoint(s), none ready"),
        ],
        remediation: format!(
            "Connections to {ns}/{name} are refused or time out until a backing pod is ready: \
             `kubectl -n {ns} get endpointslices -l kubernetes.io/service-name={name}` and \
             `kubectl -n {ns} get pods -l {}` show which pods should serve it and why they are not ready.",
            if selector.is_empty() {
                "<selector>"
            } else {
                &selector
            }
        ),
    })
}

/// The cluster domain from the CoreDNS Corefile (`kubernetes cluster.local …`).
pub fn cluster_domain_from_corefile(corefile: &str) -> Option<String> {
    corefile.lines().find_map(|l| {
        let mut w = l.split_whitespace();
        (w.next() == Some("kubernetes"))
            .then(|| w.next().map(|d| d.trim_end_matches('.').to_string()))
            .flatten()
    })
}

/// `dns-pods-not-ready`: some or all cluster DNS pods are not ready.
pub fn dns_pods_findings(dns_pods: &[Pod]) -> Vec<Finding> {
    let not_ready: Vec<&Pod> = dns_pods.iter().filter(|p| !pod_ready(p)).collect();
    if dns_pods.is_empty() {
        return vec![Finding {
            id: FindingId::DnsPodsNotReady,
            severity: Severity::Error,
            title: "No cluster DNS pods (k8s-app=kube-dns) exist".into(),
            nodes: Vec::new(),
            evidence: vec!["kube-system has no pod labelled k8s-app=kube-dns".into()],
            remediation: "Pods cannot resolve Service names. Check the CoreDNS Deployment: \
                          `kubectl -n kube-system get deploy coredns` and its events."
                .into(),
        }];
    }
    if not_ready.is_empty() {
        return Vec::new();
    }
    let all = not_ready.len() == dns_pods.len();
    let mut nodes: Vec<String> = not_ready
        .iter()
        .filter_map(|p| pod_node(p).map(str::to_string))
        .collect();
    nodes.sort();
    nodes.dedup();
    vec![Finding {
        id: FindingId::DnsPodsNotReady,
        severity: if all {
            Severity::Error
        } else {
            Severity::Warning
        },
        title: format!(
            "{} of {} cluster DNS pods are not ready{}",
            not_ready.len(),
            dns_pods.len(),
            if all { ": cluster DNS is down" } else { "" }
        ),
        nodes,
        evidence: not_ready.iter().map(|p| pod_state_line(p)).collect(),
        remediation: format!(
            "`kubectl -n kube-system describe pod {0}` and `kubectl -n kube-system logs {0}` show why; \
             CoreDNS that cannot reach the API server (pod→apiserver) or loops on its upstream \
             (the node's /etc/resolv.conf) stays unready.",
            not_ready[0].metadata.name.as_deref().unwrap_or("<pod>")
        ),
    }]
}

/// The DNS target: the Service, its ready server pods, the names to resolve.
pub fn dns_target(
    dns_svc: &Service,
    slices: &[EndpointSlice],
    dns_pods: &[Pod],
    api: Option<&ApiServer>,
    cluster_domain: &str,
) -> Option<DnsTarget> {
    let all_ips = service_ips(dns_svc);
    let ip = *all_ips.first()?;
    let name = dns_svc.metadata.name.clone().unwrap_or_default();
    let namespace = dns_svc.metadata.namespace.clone().unwrap_or_default();
    let mut servers = ready_endpoints(&name, &namespace, slices);
    if servers.is_empty() {
        // No EndpointSlices to read: the ready DNS pods themselves.
        for p in dns_pods.iter().filter(|p| pod_ready(p)) {
            for ip in pod_ips(p) {
                servers.push(Endpoint {
                    node: pod_node(p).map(str::to_string),
                    pod: p.metadata.name.clone(),
                    ip: Some(ip),
                    name: None,
                });
            }
        }
    }
    let mut names = Vec::new();
    if let Some(api) = api {
        let expect = api.service.cluster_ips.clone();
        names.push(DnsName {
            name: format!("kubernetes.default.svc.{cluster_domain}"),
            expect: expect.clone(),
            via_search: false,
        });
        names.push(DnsName {
            name: "kubernetes.default".into(),
            expect,
            via_search: true,
        });
    }
    names.push(DnsName {
        name: format!("{name}.{namespace}.svc.{cluster_domain}"),
        expect: service_ips(dns_svc),
        via_search: false,
    });
    Some(DnsTarget {
        service: ServiceRef {
            name,
            namespace,
            ip,
        },
        // Only on dual stack: a single-stack Service has just `ip`.
        service_ips: if all_ips.len() > 1 {
            all_ips
        } else {
            Vec::new()
        },
        servers,
        cluster_domain: cluster_domain.to_string(),
        names,
    })
}

// ---------------------------------------------------------------- the whole cluster

/// Everything discovery reads from the API server (`read_cluster` in
/// src/kube/read.rs makes every call), so that the deployment skeleton is a
/// pure function of it.
#[derive(Debug, Clone, Default)]
pub struct ClusterObjects {
    /// `/version` `gitVersion`.
    pub version: String,
    pub namespaces: Vec<Namespace>,
    /// Nodes (already filtered by the API when `--nodes` is a label selector).
    pub nodes: Vec<Node>,
    pub daemonsets: Vec<DaemonSet>,
    pub kube_system_pods: Vec<Pod>,
    /// The CNI agent's pods when its DaemonSet runs outside kube-system
    /// (None: the agents are among `kube_system_pods`).
    pub cni_pods: Option<Vec<Pod>>,
    pub kube_system_services: Vec<Service>,
    pub default_services: Vec<Service>,
    /// The EndpointSlices of `kube-dns` and `kubernetes`.
    pub slices: Vec<EndpointSlice>,
    pub policies: Vec<NetworkPolicy>,
    /// ConfigMaps of kube-system, when they exist and may be read.
    pub kube_proxy_config: Option<ConfigMap>,
    pub coredns_config: Option<ConfigMap>,
    pub cilium_config: Option<ConfigMap>,
    /// Policy kinds besides NetworkPolicy the API serves, with their objects.
    pub policy_kinds: Vec<crate::model::report::PolicyKind>,
}

/// The DaemonSet named `namespace/name`.
pub fn find_daemonset<'a>(daemonsets: &'a [DaemonSet], id: &str) -> Option<&'a DaemonSet> {
    daemonsets.iter().find(|d| {
        format!(
            "{}/{}",
            d.metadata.namespace.as_deref().unwrap_or(""),
            d.metadata.name.as_deref().unwrap_or("")
        ) == id
    })
}

/// The namespace of the CNI agent's DaemonSet when it is not kube-system:
/// its pods must be listed there.
pub fn cni_namespace(daemonsets: &[DaemonSet], kube_system_pods: &[Pod]) -> Option<String> {
    let cni = detect_cni(daemonsets, kube_system_pods);
    let ns = find_daemonset(daemonsets, cni.daemonset.as_deref()?)?
        .metadata
        .namespace
        .clone()?;
    (ns != "kube-system").then_some(ns)
}

/// The nodes to probe: `--nodes` names must all exist; a selector or names
/// that leave nothing is an error that says how to look.
pub fn select_nodes(nodes: &[Node], filter: &NodeFilter) -> Result<Vec<NodeInfo>, String> {
    let mut infos: Vec<NodeInfo> = nodes.iter().map(node_info).collect();
    if let NodeFilter::Names(names) = filter {
        let missing: Vec<&str> = names
            .iter()
            .filter(|n| !infos.iter().any(|i| &i.name == *n))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "--nodes names nodes the cluster does not have: {}",
                missing.join(", ")
            ));
        }
        infos.retain(|i| names.contains(&i.name));
    }
    if infos.is_empty() {
        return Err(match filter {
            NodeFilter::Selector(s) => format!(
                "no node matches --nodes {s}; `kubectl get nodes -l {s}` lists what it selects, `kubectl get nodes --show-labels` the labels there are"
            ),
            _ => "the cluster has no nodes".into(),
        });
    }
    Ok(infos)
}

/// `kubernetes.default` and cluster DNS, with the findings their Services,
/// endpoints and pods prove.
fn control_plane(
    c: &ClusterObjects,
    infos: &[NodeInfo],
) -> (Option<ApiServer>, Option<DnsTarget>, Vec<Finding>) {
    let mut findings = Vec::new();
    let api = c
        .default_services
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some("kubernetes"))
        .map(|s| {
            findings.extend(service_no_endpoints(
                s,
                &c.slices,
                "pods cannot reach the API server through kubernetes.default",
            ));
            ApiServer {
                node: apiserver_node(&c.slices, infos),
                ..apiserver(s)
            }
        });
    let by_name = |name: &str| {
        c.kube_system_services
            .iter()
            .find(|s| s.metadata.name.as_deref() == Some(name))
    };
    let dns_svc = by_name("kube-dns").or_else(|| by_name("coredns"));
    let dns_pods: Vec<Pod> = c
        .kube_system_pods
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
    let domain = c
        .coredns_config
        .as_ref()
        .and_then(|c| c.data.as_ref()?.get("Corefile").cloned())
        .and_then(|c| cluster_domain_from_corefile(&c))
        .unwrap_or_else(|| "cluster.local".into());
    let dns = dns_svc.and_then(|s| {
        findings.extend(dns_pods_findings(&dns_pods));
        findings.extend(service_no_endpoints(
            s,
            &c.slices,
            "cluster DNS does not answer through its Service",
        ));
        dns_target(s, &c.slices, &dns_pods, api.as_ref(), &domain)
    });
    (api, dns, findings)
}

/// Namespace labels and every NetworkPolicy: what policy judgement needs.
fn policy_world(c: &ClusterObjects) -> PolicyWorld {
    let mut world = PolicyWorld {
        namespaces: c
            .namespaces
            .iter()
            .filter_map(|n| {
                Some((
                    n.metadata.name.clone()?,
                    n.metadata.labels.clone().unwrap_or_default(),
                ))
            })
            .collect(),
        policies: c.policies.clone(),
    };
    world.namespaces.retain(|k, _| !k.is_empty());
    world
}

/// The deployment skeleton discovery hands to deploy: the cluster summary,
/// the nodes to probe, DNS, the API server, policies, and the control-plane
/// findings. `cluster_name` and `server` come from the kubeconfig.
pub fn deployment_from(
    c: &ClusterObjects,
    filter: &NodeFilter,
    cluster_name: &str,
    server: &str,
) -> Result<Deployment, String> {
    let infos = select_nodes(&c.nodes, filter)?;
    let mut cni = detect_cni(&c.daemonsets, &c.kube_system_pods);
    if cni.name == "unknown" {
        cni = detect_k3s_flannel(&c.nodes, &c.version).unwrap_or(cni);
    }
    let cni_ds = cni
        .daemonset
        .as_deref()
        .and_then(|id| find_daemonset(&c.daemonsets, id));
    let cni_pods = c.cni_pods.as_deref().unwrap_or(&c.kube_system_pods);
    let proxy_ds = find_daemonset(&c.daemonsets, "kube-system/kube-proxy");
    let proxy = detect_kube_proxy(
        proxy_ds,
        c.kube_proxy_config.as_ref(),
        &cni,
        c.cilium_config.as_ref(),
    );
    tracing::debug!(
        "CNI {}: {}; kube-proxy {}: {}",
        cni.name,
        cni.evidence,
        proxy.mode,
        proxy.evidence
    );
    let mut findings = node_not_ready_findings(&infos);
    findings.extend(cni_agent_findings(&cni, cni_ds, cni_pods, &infos));
    findings.extend(kube_proxy_findings(proxy_ds, &c.kube_system_pods, &infos));
    let (apiserver, dns, more) = control_plane(c, &infos);
    findings.extend(more);
    Ok(Deployment {
        cluster: ClusterSummary {
            name: cluster_name.to_string(),
            server: server.to_string(),
            version: c.version.clone(),
            cni: cni.name.clone(),
            kube_proxy_mode: proxy.mode.clone(),
            dns_service: dns.as_ref().map(|d| d.service.clone()),
            from_nodes: Default::default(),
            policy_kinds: c.policy_kinds.clone(),
        },
        nodes: infos,
        pods: Vec::new(),
        hosts: Vec::new(),
        dns,
        apiserver,
        policy: policy_world(c),
        findings,
    })
}

#[cfg(test)]
mod tests;
