//! `kube-proxy-rules-missing`: the cluster runs kube-proxy in a mode that
//! writes netfilter rules (or the other nodes have them), but this node has
//! neither the KUBE-SERVICES chain nor the `kube-proxy` nftables table, or
//! (IPVS mode) its IPVS table lacks the cluster DNS Service.

use super::host::{self, claim, diagnosis, service_from};
use crate::diagnose::{Diagnosis, Evidence, Rule};
use crate::inspect::query;
use crate::model::{CheckKind, FindingId, Severity};
use std::collections::BTreeSet;

pub struct KubeProxyRulesMissing;

impl Rule for KubeProxyRulesMissing {
    fn rank(&self) -> u16 {
        15
    }
    fn evaluate(&self, ev: &Evidence<'_>, explained: &BTreeSet<usize>) -> Vec<Diagnosis> {
        let mode = ev.deployment.cluster.kube_proxy_mode.as_str();
        let with: Vec<&str> = host::hosts(ev)
            .filter(|h| h.firewall.as_ref().and_then(query::kube_proxy_rules) == Some(true))
            .map(|h| h.node.as_str())
            .collect();
        let expected = match mode {
            "iptables" | "ipvs" | "nftables" => true,
            m if m == "none" || m.starts_with("replaced") => false,
            _ => !with.is_empty(),
        };
        if !expected {
            return Vec::new();
        }
        let dns = ev.deployment.dns.as_ref().map(|d| &d.service).or(ev
            .deployment
            .cluster
            .dns_service
            .as_ref());
        host::hosts(ev)
            .filter_map(|h| {
                if h.firewall.as_ref().and_then(query::kube_proxy_rules) == Some(false) {
                    return Some((h, None));
                }
                ipvs_gap(h, dns).map(|gap| (h, Some(gap)))
            })
            .map(|(h, ipvs)| {
                let n = h.node.as_str();
                // On dual stack the IPv6 run sees ip6tables in iptables' place
                // and only the IPv6 tables (`Firewall::for_family`).
                let v6 = h.firewall.as_ref().is_some_and(is_ip6tables);
                let (tool, table) = if v6 {
                    ("ip6tables", "`ip6 kube-proxy`")
                } else {
                    ("iptables", "`kube-proxy`")
                };
                let mut evidence = vec![ipvs.clone().unwrap_or_else(|| format!(
                    "{n}: no KUBE-SERVICES chain in any {tool} backend and no {table} nftables table"
                ))];
                if ipvs.is_some() {
                    evidence.push(format!(
                        "{n}: kube-proxy's iptables chains are there (KUBE-SERVICES): in IPVS mode they only mark and masquerade"
                    ));
                } else if let Some(fw) = &h.firewall {
                    for b in &fw.iptables {
                        evidence.push(format!(
                            "{n}: {tool}-{}: {}",
                            b.backend,
                            b.error.clone().unwrap_or_else(|| format!("{} rules", b.rule_count))
                        ));
                    }
                    if let Some(nft) = fw.nftables.as_ref().filter(|t| t.error.is_none()) {
                        evidence.push(nft_tables(n, nft));
                    }
                }
                if mode == "iptables" || mode == "ipvs" || mode == "nftables" {
                    evidence.push(format!("kube-proxy mode: {mode}"));
                }
                if !with.is_empty() {
                    evidence.push(format!("nodes that have them: {}", with.join(", ")));
                }
                // Its Services from its pods, and its own NodePorts from anywhere.
                let explains = claim(ev, explained, |c| {
                    service_from(c, n)
                        || (c.kind == CheckKind::Nodeport && c.target_node() == Some(n))
                });
                let tail = if ipvs.is_some() {
                    format!(
                        "In IPVS mode it writes the kernel's IPVS table: `ipvsadm -Ln` on {n} shows whether \
                         the Services are back."
                    )
                } else if mode == "nftables" {
                    format!(
                        "In nftables mode it writes `table ip kube-proxy`, and `table ip6 kube-proxy` for IPv6: \
                         `nft list tables` on {n} shows whether they are back."
                    )
                } else {
                    "If its iptables backend differs from the one inspected, see iptables-backend-mix.".into()
                };
                diagnosis(
                    ev,
                    FindingId::KubeProxyRulesMissing,
                    Severity::Error,
                    format!("kube-proxy's rules are missing on {n}: Services do not work from its pods"),
                    n,
                    evidence,
                    explains,
                    format!(
                        "Check kube-proxy on {n}: `kubectl -n kube-system get pods -l k8s-app=kube-proxy -o wide \
                         --field-selector spec.nodeName={n}` and its logs; restarting it rewrites the rules. {tail}"
                    ),
                )
            })
            .collect()
    }
}

/// A node whose IPVS table was read but holds no virtual service for the
/// cluster DNS Service's ClusterIP (or none at all when that is unknown):
/// kube-proxy in IPVS mode has not programmed it, whatever its iptables
/// chains say. The DNS Service exists before any run, so a sync still to
/// come for the probe Services does not count.
fn ipvs_gap(
    h: &crate::model::host::HostReport,
    dns: Option<&crate::model::report::ServiceRef>,
) -> Option<String> {
    let t = h.ipvs.as_ref().filter(|t| t.error.is_none())?;
    let n = h.node.as_str();
    if t.services_total() == 0 {
        return Some(format!(
            "{n}: the IPVS table (`ipvsadm -Ln`) has no virtual service"
        ));
    }
    let dns = dns?;
    let ip = dns.ip.to_string();
    let has = t.services.iter().any(|s| {
        let host = s
            .address
            .rsplit_once(':')
            .map_or(s.address.as_str(), |(h, _)| h);
        host.trim_start_matches('[').trim_end_matches(']') == ip
    });
    (!has).then(|| {
        format!(
            "{n}: the IPVS table (`ipvsadm -Ln`) has {} virtual services, none for {}/{}'s ClusterIP {ip}",
            t.services_total(),
            dns.namespace,
            dns.name
        )
    })
}

/// The iptables backends of `fw` are ip6tables (the IPv6 run's view of a
/// dual-stack node's firewall, [`crate::model::host::Firewall::for_family`]).
fn is_ip6tables(fw: &crate::model::host::Firewall) -> bool {
    fw.iptables.iter().any(|b| {
        b.binary
            .as_deref()
            .is_some_and(|bin| bin.contains("ip6tables"))
    })
}

/// `node: nftables: tables ip filter, ip nat (none is kube-proxy)`.
fn nft_tables(node: &str, nft: &crate::model::host::NftRuleset) -> String {
    if nft.tables.is_empty() {
        return format!("{node}: nftables: no tables");
    }
    let names: Vec<String> = nft
        .tables
        .iter()
        .map(|t| format!("{} {}", t.family, t.name))
        .collect();
    format!(
        "{node}: nftables: tables {} (none is kube-proxy)",
        names.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use crate::diagnose::rules::host::testing;
    use crate::diagnose::sim;
    use crate::model::{CheckKind, FindingId};

    /// Checks where `node`'s pods reach no Service (nor the API server's).
    fn services_dead_from(d: &crate::model::Deployment, node: &str) -> Vec<crate::model::Check> {
        sim::run(d, |t| {
            if t.source.node.as_deref() == Some(node)
                && matches!(t.kind, CheckKind::PodToService | CheckKind::PodToApiserver)
            {
                sim::timeout()
            } else {
                sim::ok()
            }
        })
    }

    fn strip_kube(h: &mut crate::model::host::HostReport) {
        for b in h.firewall.as_mut().unwrap().iptables.iter_mut() {
            for t in b.tables.iter_mut() {
                t.chains.retain(|c| !c.name.starts_with("KUBE-"));
                t.folded.clear();
                for c in t.chains.iter_mut() {
                    c.rules
                        .retain(|r| !r.target.as_deref().unwrap_or("").starts_with("KUBE-"));
                }
            }
        }
    }

    #[test]
    fn a_node_without_kube_services_is_the_root_of_its_service_failures() {
        let d = sim::cluster(2);
        let checks = services_dead_from(&d, "node-1");
        let mut hosts = testing::healthy_hosts(&d);
        strip_kube(&mut hosts[1]);
        let f = testing::diagnose(&d, &checks, &hosts);
        assert_eq!(f[0].id, FindingId::KubeProxyRulesMissing, "{f:#?}");
        assert_eq!(f[0].nodes, vec!["node-1"]);
        assert!(
            f[0].evidence
                .iter()
                .any(|e| e == "nodes that have them: node-0")
        );
        assert!(
            !sim::ids(&f).contains(&FindingId::ServiceVipUnreachable),
            "{f:#?}"
        );
    }

    #[test]
    fn a_cluster_without_kube_proxy_is_silent() {
        let (mut d, checks, mut hosts) = testing::healthy(2);
        for h in hosts.iter_mut() {
            strip_kube(h);
        }
        d.cluster.kube_proxy_mode = "replaced".into();
        assert!(testing::diagnose(&d, &checks, &hosts).is_empty());
        d.cluster.kube_proxy_mode = "replaced by cilium".into();
        assert!(testing::diagnose(&d, &checks, &hosts).is_empty());
        d.cluster.kube_proxy_mode = "unknown".into();
        assert!(testing::diagnose(&d, &checks, &hosts).is_empty());
        d.cluster.kube_proxy_mode = "iptables".into();
        assert_eq!(testing::diagnose(&d, &checks, &hosts).len(), 2);
    }

    /// IPVS mode: KUBE-SERVICES is there (it only marks and masquerades),
    /// but the node's IPVS table lacks the Services.
    #[test]
    fn in_ipvs_mode_a_node_whose_ipvs_table_lacks_the_services_is_named() {
        use crate::model::host::{Ipvs, IpvsService};
        let d = {
            let mut d = sim::cluster(3);
            d.cluster.kube_proxy_mode = "ipvs".into();
            d
        };
        let dns = d
            .dns
            .as_ref()
            .expect("the sim has a DNS Service")
            .service
            .clone();
        let checks = services_dead_from(&d, "node-2");
        let mut hosts = testing::healthy_hosts(&d);
        let table = |services: Vec<IpvsService>| Ipvs {
            version: Some("1.2.1".into()),
            services,
            error: None,
            ..Default::default()
        };
        let svc = |a: String| IpvsService {
            protocol: "UDP".into(),
            address: a,
            scheduler: "rr".into(),
            ..Default::default()
        };
        hosts[0].ipvs = Some(table(vec![svc(format!("{}:53", dns.ip))]));
        hosts[1].ipvs = Some(table(vec![svc(format!("{}:53", dns.ip))]));
        hosts[2].ipvs = Some(table(vec![svc("198.19.0.1:443".into())]));
        let f = testing::diagnose(&d, &checks, &hosts);
        assert_eq!(f[0].id, FindingId::KubeProxyRulesMissing, "{f:#?}");
        assert_eq!(f[0].nodes, vec!["node-2"]);
        let ev = f[0].evidence.join("\n");
        assert!(
            ev.contains(&format!(
                "node-2: the IPVS table (`ipvsadm -Ln`) has 1 virtual services, none for {}/{}'s ClusterIP {}",
                dns.namespace, dns.name, dns.ip
            )),
            "{ev}"
        );
        assert!(
            f[0].remediation.contains("ipvsadm -Ln"),
            "{}",
            f[0].remediation
        );
        assert_eq!(
            sim::ids(&f)
                .iter()
                .filter(|id| **id == FindingId::KubeProxyRulesMissing)
                .count(),
            1,
            "{f:#?}"
        );
        // An empty table is named too; one that could not be read is not.
        hosts[2].ipvs = Some(table(Vec::new()));
        let f = testing::diagnose(&d, &checks, &hosts);
        assert!(
            f[0].evidence[0].ends_with("has no virtual service"),
            "{f:#?}"
        );
        hosts[2].ipvs = Some(Ipvs {
            error: Some("not available: ipvsadm not found".into()),
            ..Default::default()
        });
        let f = testing::diagnose(&d, &checks, &hosts);
        assert!(
            !sim::ids(&f).contains(&FindingId::KubeProxyRulesMissing),
            "{f:#?}"
        );
    }

    /// nftables mode: kube-proxy's rules are its `table ip kube-proxy`, not
    /// chains in iptables; a node without the table is the root.
    #[test]
    fn in_nftables_mode_a_node_without_the_kube_proxy_table_is_named() {
        use crate::model::host::{NftRuleset, NftTable};
        let d = {
            let mut d = sim::cluster(3);
            d.cluster.kube_proxy_mode = "nftables".into();
            d
        };
        let checks = services_dead_from(&d, "node-2");
        let mut hosts = testing::healthy_hosts(&d);
        for (i, h) in hosts.iter_mut().enumerate() {
            strip_kube(h);
            let mut tables = vec![NftTable {
                family: "ip".into(),
                name: "filter".into(),
                ..Default::default()
            }];
            if i != 2 {
                tables.push(NftTable {
                    family: "ip".into(),
                    name: "kube-proxy".into(),
                    ..Default::default()
                });
            }
            h.firewall.as_mut().unwrap().nftables = Some(NftRuleset {
                tables,
                ..Default::default()
            });
        }
        let f = testing::diagnose(&d, &checks, &hosts);
        assert_eq!(f[0].id, FindingId::KubeProxyRulesMissing, "{f:#?}");
        assert_eq!(f[0].nodes, vec!["node-2"]);
        let ev = f[0].evidence.join("\n");
        assert!(
            ev.contains("node-2: nftables: tables ip filter (none is kube-proxy)"),
            "{ev}"
        );
        assert!(ev.contains("nodes that have them: node-0, node-1"), "{ev}");
        assert!(ev.contains("kube-proxy mode: nftables"), "{ev}");
        assert!(
            f[0].remediation.contains("`table ip kube-proxy`")
                && f[0].remediation.contains("`nft list tables` on node-2"),
            "{:?}",
            f[0].remediation
        );
        assert_eq!(
            sim::ids(&f)
                .iter()
                .filter(|id| **id == FindingId::KubeProxyRulesMissing)
                .count(),
            1,
            "nodes with the table are not flagged: {f:#?}"
        );
    }

    /// A dual-stack node in nftables mode (the derived fixture's `table ip
    /// kube-proxy` and `table ip6 kube-proxy`, kubelet's chains in
    /// ip6tables) on every node but `node`, which lacks the tables of
    /// `gone` ("ip", "ip6"); its pods' Services fail in those families.
    fn dual_nftables(node: &str, gone: &[&str]) -> Vec<crate::model::Finding> {
        use crate::model::Family;
        use crate::model::host::IptablesBackend;
        let mut d = sim::dual_stack(sim::cluster(3));
        d.cluster.kube_proxy_mode = "nftables".into();
        let json = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/derived-v1.36-dualstack/node1-nft-ruleset-dualstack.json"
        ))
        .expect("fixture");
        let ruleset = crate::inspect::nft::parse(&json).expect("nft JSON");
        let kubelet6 = crate::inspect::iptables::parse(
            "*mangle\n:KUBE-IPTABLES-HINT - [0:0]\n:KUBE-KUBELET-CANARY - [0:0]\nCOMMIT\n",
        );
        let mut hosts = testing::healthy_hosts(&d);
        for h in hosts.iter_mut() {
            strip_kube(h);
            let fw = h.firewall.as_mut().unwrap();
            fw.ip6tables = vec![IptablesBackend {
                backend: "nft".into(),
                binary: Some("/usr/sbin/ip6tables-nft-save".into()),
                rule_count: 0,
                tables: kubelet6.tables.clone(),
                ..Default::default()
            }];
            let mut rs = ruleset.clone();
            if h.node == node {
                rs.tables
                    .retain(|t| !(t.name == "kube-proxy" && gone.contains(&t.family.as_str())));
            }
            fw.nftables = Some(rs);
        }
        let dead = |f: Family| gone.contains(&if f == Family::Ipv6 { "ip6" } else { "ip" });
        let checks = sim::run(&d, |t| {
            if t.source.node.as_deref() == Some(node)
                && matches!(t.kind, CheckKind::PodToService | CheckKind::PodToApiserver)
                && dead(sim::family_of(t))
            {
                sim::timeout()
            } else {
                sim::ok()
            }
        });
        assert!(checks.iter().any(|c| c.family() == Family::Ipv6));
        testing::diagnose(&d, &checks, &hosts)
    }

    /// IPv6's table gone, IPv4's there: the IPv6 run, judged on `table ip6
    /// kube-proxy` alone, names it; the IPv4 run sees its table and is silent.
    #[test]
    fn on_dual_stack_a_node_without_its_ip6_table_is_named_for_ipv6() {
        let f = dual_nftables("node-2", &["ip6"]);
        assert_eq!(
            sim::ids(&f),
            vec![FindingId::KubeProxyRulesMissing],
            "{f:#?}"
        );
        assert_eq!(f[0].nodes, vec!["node-2"]);
        assert!(f[0].title.starts_with("IPv6 only: "), "{}", f[0].title);
        let ev = f[0].evidence.join("\n");
        assert!(
            ev.contains(
                "node-2: no KUBE-SERVICES chain in any ip6tables backend and no `ip6 kube-proxy` nftables table"
            ),
            "{ev}"
        );
        assert!(ev.contains("node-2: ip6tables-nft: 0 rules"), "{ev}");
        // The IPv6 run sees no table of IPv4's: `table ip kube-proxy` is
        // there and does not count.
        assert!(ev.contains("node-2: nftables: no tables"), "{ev}");
        assert!(
            f[0].remediation.contains("`table ip6 kube-proxy` for IPv6"),
            "{}",
            f[0].remediation
        );
    }

    /// Both tables gone (kube-proxy down on a dual-stack node): one finding
    /// for both families, with each family's evidence.
    #[test]
    fn on_dual_stack_a_node_without_both_tables_is_one_finding() {
        let f = dual_nftables("node-2", &["ip", "ip6"]);
        assert_eq!(
            sim::ids(&f),
            vec![FindingId::KubeProxyRulesMissing],
            "{f:#?}"
        );
        assert_eq!(f[0].nodes, vec!["node-2"]);
        assert!(!f[0].title.contains("only"), "{}", f[0].title);
        let ev = f[0].evidence.join("\n");
        assert!(
            ev.contains(
                "no KUBE-SERVICES chain in any iptables backend and no `kube-proxy` nftables table"
            ),
            "{ev}"
        );
        assert!(ev.contains("no KUBE-SERVICES chain in any ip6tables backend and no `ip6 kube-proxy` nftables table"), "{ev}");
        // The IPv4 table alone gone is IPv4's.
        let f = dual_nftables("node-2", &["ip"]);
        assert_eq!(
            sim::ids(&f),
            vec![FindingId::KubeProxyRulesMissing],
            "{f:#?}"
        );
        assert!(f[0].title.starts_with("IPv4 only: "), "{}", f[0].title);
    }

    /// An IPv4-only cluster in nftables mode: its nodes carry `table ip6
    /// kube-proxy` too (the real capture has it, without Services); a node
    /// that lost `table ip kube-proxy` is named although its IPv6 table is
    /// there: IPv4 is judged on IPv4's table.
    #[test]
    fn on_ipv4_only_the_ip6_table_does_not_stand_in_for_the_ip_one() {
        let d = {
            let mut d = sim::cluster(3);
            d.cluster.kube_proxy_mode = "nftables".into();
            d
        };
        let checks = services_dead_from(&d, "node-2");
        let json = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/host-v1.36/turn2/node1-nft-ruleset-kube-proxy-nftables-mode.json"
        ))
        .expect("fixture");
        let ruleset = crate::inspect::nft::parse(&json).expect("nft JSON");
        assert!(
            ruleset
                .tables
                .iter()
                .any(|t| t.family == "ip6" && t.name == "kube-proxy"),
            "the real IPv4-only node has table ip6 kube-proxy"
        );
        let mut hosts = testing::healthy_hosts(&d);
        for h in hosts.iter_mut() {
            strip_kube(h);
            let mut rs = ruleset.clone();
            if h.node == "node-2" {
                rs.tables
                    .retain(|t| !(t.family == "ip" && t.name == "kube-proxy"));
            }
            h.firewall.as_mut().unwrap().nftables = Some(rs);
        }
        let f = testing::diagnose(&d, &checks, &hosts);
        assert_eq!(f[0].id, FindingId::KubeProxyRulesMissing, "{f:#?}");
        assert_eq!(f[0].nodes, vec!["node-2"]);
        assert!(!f[0].title.contains("only"), "{}", f[0].title);
    }
}
