//! What the nodes show about the cluster when the API does not say: the
//! kube-proxy mode (from its rules) and the CNI (from the config the runtime
//! uses and the overlay device). kube-proxy and the overlay can run on the
//! nodes as host processes, with no DaemonSet for discovery to find; their
//! footprint is still in every node's host report.
//!
//! Pure: host reports and the discovered summary in, the filled summary out.
//! Only `unknown` (or empty) values are filled, and each filled field is
//! named in `fromNodes` with what showed it.

use crate::inspect::{query, recognise};
use crate::model::Deployment;
use crate::model::host::{CniFile, HostReport};
use crate::model::report::ClusterSummary;

/// Chains only kube-proxy creates. The kubelet makes KUBE-FIREWALL,
/// KUBE-KUBELET-CANARY, KUBE-IPTABLES-HINT (and once KUBE-MARK-DROP,
/// KUBE-MARK-MASQ, KUBE-POSTROUTING) on every node whatever the proxy, so
/// those say nothing about kube-proxy.
const KUBE_PROXY_CHAINS: [&str; 6] = [
    "KUBE-SERVICES",
    "KUBE-NODEPORTS",
    "KUBE-PROXY-CANARY",
    "KUBE-EXTERNAL-SERVICES",
    "KUBE-PROXY-FIREWALL",
    "KUBE-FORWARD",
];
/// Its per-Service and per-endpoint chains, which a host report folds
/// into counts ([`crate::inspect::slim`]).
const KUBE_PROXY_CHAIN_PREFIXES: [&str; 6] = crate::inspect::slim::PER_SERVICE_CHAINS;

/// Plugins that decorate a chain rather than give pods their network.
const META_PLUGINS: [&str; 8] = [
    "portmap",
    "bandwidth",
    "tuning",
    "firewall",
    "sbr",
    "loopback",
    "vrf",
    "static",
];

fn is_kube_proxy_chain(name: &str) -> bool {
    KUBE_PROXY_CHAINS.contains(&name)
        || KUBE_PROXY_CHAIN_PREFIXES
            .iter()
            .any(|p| name.starts_with(p))
}

fn is_unknown(v: &str) -> bool {
    v.is_empty() || v == "unknown"
}

/// kube-proxy's mode on one node and what showed it: its nftables table
/// (nftables), the kube-ipvs0 device (ipvs, with its IPVS table when read),
/// its chains (iptables), or none of them on a node whose CNI serves
/// Services itself (`replaced by cilium`). None: no kube-proxy footprint,
/// or the firewall could not be read.
pub fn node_kube_proxy_mode(h: &HostReport) -> Option<(String, String)> {
    let fw = h.firewall.as_ref()?;
    // One table per IP family kube-proxy runs (`ip`, `ip6`), in that order
    // whatever order the node lists them in.
    let mut tables: Vec<String> = fw
        .nftables
        .iter()
        .filter(|n| n.error.is_none())
        .flat_map(|n| &n.tables)
        .filter(|t| t.name == "kube-proxy")
        .map(|t| format!("{} kube-proxy", t.family))
        .collect();
    tables.sort();
    tables.dedup();
    match tables.as_slice() {
        [] => {}
        [one] => return Some(("nftables".into(), format!("nftables table {one}"))),
        more => {
            return Some((
                "nftables".into(),
                format!("nftables tables {}", more.join(" and ")),
            ));
        }
    }
    // The best-known chain first (KUBE-SERVICES), wherever it is.
    let mut chains: Vec<(usize, String)> = fw
        .iptables
        .iter()
        .filter(|b| b.error.is_none())
        .flat_map(|b| {
            b.tables.iter().flat_map(move |t| {
                let named = t
                    .chains
                    .iter()
                    .filter(|c| is_kube_proxy_chain(&c.name))
                    .map(move |c| {
                        let rank = KUBE_PROXY_CHAINS
                            .iter()
                            .position(|k| *k == c.name)
                            .unwrap_or(KUBE_PROXY_CHAINS.len());
                        (rank, format!("{} chain in iptables-{}", c.name, b.backend))
                    });
                let folded = t
                    .folded
                    .iter()
                    .filter(|g| g.chains > 0 && is_kube_proxy_chain(&g.prefix))
                    .map(move |g| {
                        let what = format!("{} {}* chains", g.chains, g.prefix);
                        (
                            KUBE_PROXY_CHAINS.len(),
                            format!("{what} in iptables-{}", b.backend),
                        )
                    });
                named.chain(folded)
            })
        })
        .collect();
    chains.sort_by_key(|(rank, _)| *rank);
    let chain = chains.into_iter().next().map(|(_, c)| c);
    if h.interfaces.iter().any(|i| i.name == "kube-ipvs0") {
        let table = h
            .ipvs
            .as_ref()
            .filter(|t| t.error.is_none())
            .map(|t| format!(" ({} IPVS virtual services)", t.services_total()))
            .unwrap_or_default();
        let with = chain.map(|c| format!(" and {c}")).unwrap_or_default();
        return Some(("ipvs".into(), format!("the kube-ipvs0 device{table}{with}")));
    }
    if let Some(c) = chain {
        return Some(("iptables".into(), c));
    }
    // No kube-proxy at all, and a CNI that serves Services in its place.
    let (r, dev) = h.interfaces.iter().find_map(|i| {
        let (r, _) = recognise::by_device(&i.name, i.kind.as_deref())?;
        r.replaces_kube_proxy.then_some((r, &i.name))
    })?;
    let backend = fw
        .iptables
        .iter()
        .filter(|b| b.error.is_none())
        .map(|b| format!("iptables-{}", b.backend))
        .collect::<Vec<_>>();
    Some((
        format!("replaced by {}", r.name),
        format!(
            "no kube-proxy chain ({}) nor nftables table, and {}'s {dev} device ({} serves Services itself)",
            if backend.is_empty() {
                "iptables unreadable".into()
            } else {
                backend.join(", ")
            },
            r.name,
            r.name
        ),
    ))
}

/// The CNI a config names by its main plugin: the common name of a known
/// CNI (`cilium-cni` → `cilium`, kindnet's `ptp`), else the plugin type.
fn cni_of_config(f: &CniFile) -> Option<String> {
    let types = f.types();
    let main = types
        .iter()
        .find(|t| !META_PLUGINS.contains(&t.as_str()))
        .or(types.first())?;
    Some(
        recognise::by_config(main, f.name.as_deref())
            .map(|r| r.name.to_string())
            .unwrap_or_else(|| main.clone()),
    )
}

/// The device that shows the node's network: a CNI's own overlay device,
/// else any overlay (`vxlan`), else a device a CNI names (Calico's `cali*`
/// veths, `cilium_host`, AWS's `eni*`). (CNI or device kind, device name).
fn cni_device(h: &HostReport) -> Option<(String, String)> {
    let known = |overlay: bool| {
        h.interfaces.iter().find_map(|i| {
            let (r, d) = recognise::by_device(&i.name, i.kind.as_deref())?;
            (d.overlay == overlay).then(|| (r.name.to_string(), i.name.clone()))
        })
    };
    known(true)
        .or_else(|| query::overlay(h).map(|o| (o.kind.clone(), o.device.clone())))
        .or_else(|| known(false))
}

/// One node's CNI in a word or two (`bridge+flannel`, `calico`, `canal`)
/// and what showed it.
pub fn node_cni(h: &HostReport) -> Option<(String, String)> {
    let sel: Option<&CniFile> = h.cni.as_ref().and_then(|c| c.selected_file());
    let plugin = sel.and_then(cni_of_config);
    let overlay = cni_device(h);
    let host_gw = (plugin.as_deref() == Some("flannel") && overlay.is_none())
        .then(|| flannel_host_gw_routes(h))
        .flatten();
    let mut name = match (&plugin, &overlay) {
        (None, None) => return None,
        (Some(_), None) if host_gw.is_some() => "flannel host-gw".to_string(),
        (Some(p), None) => p.clone(),
        (None, Some((o, _))) => o.clone(),
        (Some(p), Some((o, _))) if p == o => p.clone(),
        (Some(p), Some((o, _))) if (p == "calico" && o == "flannel") => "canal".into(),
        (Some(p), Some((o, _))) => format!("{p}+{o}"),
    };
    let conf_dir = h.cni.as_ref().map(|c| c.conf_dir.as_str()).unwrap_or("");
    if name == "flannel" && conf_dir.starts_with("/var/lib/rancher/k3s/") {
        name = "flannel (k3s embedded)".into();
    }
    let mut why = Vec::new();
    if let Some(f) = sel {
        let dir = if conf_dir.is_empty() || conf_dir == "/etc/cni/net.d" {
            String::new()
        } else {
            format!("{conf_dir}/")
        };
        why.push(format!("{dir}{} {}", f.file, f.describe()));
    }
    if let Some((_, dev)) = &overlay {
        let kind = h
            .interfaces
            .iter()
            .find(|i| &i.name == dev)
            .and_then(|i| i.kind.clone())
            .unwrap_or_else(|| "device".into());
        why.push(format!("{kind} {dev}"));
    }
    if let Some(routes) = host_gw {
        why.push(routes);
    }
    Some((name, why.join(" and ")))
}

/// flannel's host-gw backend: no flannel device, and the other nodes' pod
/// subnets routed via gateways on the node's own link (their node
/// addresses). Which routes: a gateway route to a prefix (not the default
/// route) on a device that is not a bridge. None: not that shape.
fn flannel_host_gw_routes(h: &HostReport) -> Option<String> {
    let bridges: Vec<&str> = h
        .interfaces
        .iter()
        .filter(|i| i.kind.as_deref() == Some("bridge"))
        .map(|i| i.name.as_str())
        .collect();
    let routed: Vec<&crate::model::host::Route> = h
        .routes
        .iter()
        .filter(|r| r.dst != "default" && r.gateway.is_some())
        .filter(|r| r.dev.as_deref().is_some_and(|d| !bridges.contains(&d)))
        .collect();
    let dev = routed.first()?.dev.clone().unwrap_or_default();
    Some(format!(
        "no flannel device, {} gateway route(s) on {dev} (host-gw)",
        routed.len()
    ))
}

/// The value most nodes agree on (ties: the first node's), and a line that
/// says which nodes showed what.
fn vote(per_node: Vec<(&str, String, String)>) -> Option<(String, String)> {
    // (value, evidence, nodes) in order of first appearance.
    let mut groups: Vec<(String, String, Vec<&str>)> = Vec::new();
    for (node, value, evidence) in per_node {
        match groups
            .iter_mut()
            .find(|(v, e, _)| *v == value && *e == evidence)
        {
            Some((_, _, nodes)) => nodes.push(node),
            None => groups.push((value, evidence, vec![node])),
        }
    }
    let mut by_value: Vec<(String, usize)> = Vec::new();
    for (v, _, nodes) in &groups {
        match by_value.iter_mut().find(|(x, _)| x == v) {
            Some((_, n)) => *n += nodes.len(),
            None => by_value.push((v.clone(), nodes.len())),
        }
    }
    let best = by_value
        .iter()
        .fold(None::<&(String, usize)>, |b, x| match b {
            Some(b) if b.1 >= x.1 => Some(b),
            _ => Some(x),
        })?
        .0
        .clone();
    let lines: Vec<String> = groups
        .iter()
        .map(|(v, e, nodes)| {
            let e = if *v == best {
                e.clone()
            } else {
                format!("{v}: {e}")
            };
            format!("{e} on {}", nodes.join(", "))
        })
        .collect();
    Some((best, lines.join("; ")))
}

/// The summary with `cni` and `kubeProxyMode` filled from the nodes where
/// the API left them unknown; anything the API said is kept as it is.
pub fn fill(cluster: &ClusterSummary, hosts: &[HostReport]) -> ClusterSummary {
    let mut c = cluster.clone();
    if is_unknown(&c.kube_proxy_mode) {
        let per_node = hosts
            .iter()
            .filter_map(|h| {
                let (mode, why) = node_kube_proxy_mode(h)?;
                Some((h.node.as_str(), mode, why))
            })
            .collect();
        if let Some((mode, why)) = vote(per_node) {
            c.kube_proxy_mode = mode;
            c.from_nodes.insert("kubeProxyMode".into(), why);
        }
    }
    if is_unknown(&c.cni) {
        let per_node = hosts
            .iter()
            .filter_map(|h| {
                let (cni, why) = node_cni(h)?;
                Some((h.node.as_str(), cni, why))
            })
            .collect();
        if let Some((cni, why)) = vote(per_node) {
            c.cni = cni;
            c.from_nodes.insert("cni".into(), why);
        }
    }
    c
}

/// [`fill`] on a deployment: the pipeline's one call after host inspection.
pub fn with_host_facts(mut d: Deployment, hosts: &[HostReport]) -> Deployment {
    d.cluster = fill(&d.cluster, hosts);
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::captures::{Captures, fixture, from_captures};
    use crate::model::host::Interface;

    fn real(rel: &str) -> String {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/host-v1.36")
            .join(rel);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    fn unknown() -> ClusterSummary {
        ClusterSummary {
            cni: "unknown".into(),
            kube_proxy_mode: "unknown".into(),
            ..Default::default()
        }
    }

    /// node1 of the real cluster with kube-proxy switched to nftables mode:
    /// its `kube-proxy` table, and iptables holding only the kubelet's and
    /// flannel's chains.
    fn nftables_mode_node() -> HostReport {
        let mut r = fixture("node1");
        let n = from_captures(&Captures {
            node: "node1".into(),
            iptables_nft_save: Some(real(
                "turn2/node1-iptables-nft-save-kube-proxy-nftables-mode.txt",
            )),
            iptables_legacy_save: Some(String::new()),
            nft_json: Some(real(
                "turn2/node1-nft-ruleset-kube-proxy-nftables-mode.json",
            )),
            ..Default::default()
        });
        r.firewall = n.firewall;
        r
    }

    #[test]
    fn iptables_mode_and_bridge_flannel_from_the_real_nodes() {
        let hosts = [fixture("node1"), fixture("node2")];
        let c = fill(&unknown(), &hosts);
        assert_eq!(c.kube_proxy_mode, "iptables");
        assert_eq!(c.cni, "bridge+flannel");
        assert_eq!(
            c.from_nodes.get("kubeProxyMode").map(String::as_str),
            Some("KUBE-SERVICES chain in iptables-nft on node1, node2")
        );
        assert_eq!(
            c.from_nodes.get("cni").map(String::as_str),
            Some("10-bridge.conflist cbr0 (bridge, portmap) and vxlan flannel.1 on node1, node2")
        );
    }

    #[test]
    fn nftables_mode_from_the_kube_proxy_table() {
        let hosts = [nftables_mode_node()];
        let c = fill(&unknown(), &hosts);
        assert_eq!(c.kube_proxy_mode, "nftables");
        assert_eq!(
            c.from_nodes.get("kubeProxyMode").map(String::as_str),
            // The real node has both families' tables (the IPv6 one empty).
            Some("nftables tables ip kube-proxy and ip6 kube-proxy on node1")
        );
    }

    #[test]
    fn the_kubelets_own_chains_are_not_kube_proxy() {
        // The same node's iptables in nftables mode, without the nft view:
        // KUBE-FIREWALL, KUBE-KUBELET-CANARY, KUBE-IPTABLES-HINT only.
        let mut h = nftables_mode_node();
        let fw = h.firewall.as_mut().unwrap();
        fw.nftables = None;
        let names: Vec<&str> = fw.iptables[1]
            .tables
            .iter()
            .flat_map(|t| t.chains.iter().map(|c| c.name.as_str()))
            .collect();
        for kubelet in ["KUBE-FIREWALL", "KUBE-KUBELET-CANARY", "KUBE-IPTABLES-HINT"] {
            assert!(names.contains(&kubelet), "{names:?}");
        }
        assert_eq!(node_kube_proxy_mode(&h), None);
        let c = fill(&unknown(), &[h]);
        assert_eq!(c.kube_proxy_mode, "unknown");
        assert!(!c.from_nodes.contains_key("kubeProxyMode"));
    }

    #[test]
    fn ipvs_when_kube_ipvs0_exists() {
        let mut h = fixture("node1");
        h.interfaces.push(Interface {
            name: "kube-ipvs0".into(),
            kind: Some("dummy".into()),
            ..Default::default()
        });
        let (mode, why) = node_kube_proxy_mode(&h).unwrap();
        assert_eq!(mode, "ipvs");
        assert!(
            why.starts_with("the kube-ipvs0 device and KUBE-SERVICES"),
            "{why}"
        );
    }

    #[test]
    fn what_the_api_said_is_kept() {
        let api = ClusterSummary {
            cni: "calico".into(),
            kube_proxy_mode: "replaced".into(),
            ..Default::default()
        };
        let c = fill(&api, &[fixture("node1")]);
        assert_eq!(c, api);
        // No host reports: nothing to fill.
        assert_eq!(fill(&unknown(), &[]), unknown());
    }

    #[test]
    fn most_nodes_win_and_the_odd_node_is_named() {
        let mut odd = fixture("node2");
        let c = odd.cni.as_mut().unwrap();
        c.files[0] = crate::inspect::cni::parse_file(
            "10-calico.conflist",
            &std::fs::read_to_string(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("tests/fixtures/cni/10-calico.conflist"),
            )
            .unwrap(),
        );
        c.selected = Some("10-calico.conflist".into());
        let mut n3 = fixture("node1");
        n3.node = "node3".into();
        let s = fill(&unknown(), &[fixture("node1"), odd, n3]);
        assert_eq!(s.cni, "bridge+flannel");
        let why = &s.from_nodes["cni"];
        assert!(why.ends_with("on node1, node3; canal: 10-calico.conflist k8s-pod-network (calico, portmap, bandwidth) and vxlan flannel.1 on node2"), "{why}");
    }

    /// The pipeline fills the summary once inspection is in: a cluster whose
    /// API shows neither kube-proxy nor a CNI, nodes that show both.
    struct HostProcesses;

    impl crate::runtime::Runtime for HostProcesses {
        async fn discover(
            &self,
            _p: &dyn crate::runtime::Progress,
        ) -> crate::runtime::Result<Deployment> {
            let mut d = crate::diagnose::sim::cluster(2);
            d.cluster.cni = "unknown".into();
            d.cluster.kube_proxy_mode = "unknown".into();
            Ok(d)
        }
        async fn deploy(
            &self,
            d: Deployment,
            _p: &dyn crate::runtime::Progress,
        ) -> crate::runtime::Result<Deployment> {
            Ok(d)
        }
        async fn probe(
            &self,
            _s: &crate::model::topology::Source,
            _plan: &crate::model::ProbePlan,
        ) -> crate::runtime::Result<crate::model::ProbeReport> {
            Ok(crate::model::ProbeReport {
                results: Vec::new(),
                duration_ms: 0.0,
                peak_rss_kib: None,
                cells: Vec::new(),
            })
        }
        async fn inspect_host(&self, node: &str) -> crate::runtime::Result<HostReport> {
            let mut h = fixture("node1");
            h.node = node.to_string();
            Ok(h)
        }
        async fn teardown(&self) -> crate::runtime::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn the_pipeline_fills_the_report_from_the_nodes() {
        let r = crate::pipeline::run(
            &HostProcesses,
            &crate::pipeline::Options::default(),
            &crate::runtime::Quiet,
        )
        .await
        .unwrap();
        assert_eq!(r.cluster.cni, "bridge+flannel");
        assert_eq!(r.cluster.kube_proxy_mode, "iptables");
        assert_eq!(
            r.cluster.from_nodes["kubeProxyMode"],
            "KUBE-SERVICES chain in iptables-nft on node-0, node-1"
        );
    }

    #[test]
    fn cni_names_from_configs_and_devices() {
        let cfg = |file: &str| {
            let text = std::fs::read_to_string(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("tests/fixtures/cni")
                    .join(file),
            )
            .unwrap();
            HostReport {
                cni: Some(crate::inspect::cni::analyse(
                    "/etc/cni/net.d",
                    "/opt/cni/bin",
                    vec![(file.to_string(), Ok(text))],
                    Ok(vec![]),
                )),
                ..Default::default()
            }
        };
        let name = |h: &HostReport| node_cni(h).map(|(n, _)| n);
        assert_eq!(
            name(&cfg("10-flannel.conflist")).as_deref(),
            Some("flannel")
        );
        assert_eq!(name(&cfg("05-cilium.conflist")).as_deref(), Some("cilium"));
        assert_eq!(name(&cfg("10-weave.conflist")).as_deref(), Some("weave"));
        assert_eq!(
            name(&cfg("10-kindnet.conflist")).as_deref(),
            Some("kindnet")
        );
        let mut calico = cfg("10-calico.conflist");
        calico.interfaces.push(Interface {
            name: "vxlan.calico".into(),
            kind: Some("vxlan".into()),
            ..Default::default()
        });
        assert_eq!(name(&calico).as_deref(), Some("calico"));
        let mut flannel = cfg("10-flannel.conflist");
        flannel.interfaces.push(Interface {
            name: "flannel.1".into(),
            kind: Some("vxlan".into()),
            ..Default::default()
        });
        assert_eq!(name(&flannel).as_deref(), Some("flannel"));
        assert_eq!(name(&HostReport::default()), None);
    }

    /// flannel's host-gw backend: flannel's conflist, no flannel.1, the
    /// other node's pod subnet routed via its node address.
    #[test]
    fn flannel_without_its_vxlan_device_and_with_peer_routes_is_host_gw() {
        let mut h = fixture("node1");
        h.interfaces.retain(|i| !i.name.starts_with("flannel"));
        h.routes.retain(|r| r.dev.as_deref() != Some("flannel.1"));
        let routed = |h: &HostReport| node_cni(h).map(|(n, _)| n);
        // The real node's conflist is the bridge plugin's: not flannel's.
        assert_ne!(routed(&h).as_deref(), Some("flannel host-gw"));
        if let Some(c) = h.cni.as_mut() {
            for f in &mut c.files {
                *f = crate::inspect::cni::parse_file(
                    &f.file,
                    &crate::lab::flavours::flannel::conflist(),
                );
            }
        }
        h.routes.push(crate::model::host::Route {
            dst: "198.18.1.0/24".into(),
            dev: Some("eth0".into()),
            gateway: Some("198.18.255.12".into()),
            protocol: None,
        });
        let (name, why) = node_cni(&h).unwrap_or_default();
        assert_eq!(name, "flannel host-gw", "{why}");
        assert!(why.contains("gateway route(s) on eth0"), "{why}");
    }
}
