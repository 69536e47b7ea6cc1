//! The lab's kube-proxy modes (`lab --kube-proxy`): what each writes on a
//! node and with which tool. One variant per mode; its rules in their own
//! file ([`super::rules`] for iptables, [`super::kube_proxy_nft`] for
//! nftables). The delayed sync ([`super::kube_proxy`]) and the
//! `kube-proxy-down` fault go through [`Load`], so they work in every mode.
//!
//! Adding a mode: a variant in [`KubeProxyMode`] (its name in [`ALL`]), a
//! file that writes its rules, and an arm in each method below.

use super::cmd::Tools;
use super::flavours::CniRules;
use super::kube_proxy_nft::{self, NftNode};
use super::rules::{self, ServicePort};
use crate::runtime::{Result, RuntimeError};

/// How kube-proxy programs Services on the lab's nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KubeProxyMode {
    /// KUBE-SERVICES → KUBE-SVC-… → KUBE-SEP-… in iptables (the default).
    #[default]
    Iptables,
    /// `table ip kube-proxy` (and `table ip6 kube-proxy` for IPv6) in
    /// nftables; nothing of kube-proxy in iptables or ip6tables.
    Nftables,
}

/// Every mode, in the order `--kube-proxy` lists them.
pub const ALL: [KubeProxyMode; 2] = [KubeProxyMode::Iptables, KubeProxyMode::Nftables];

/// Rules to load into a node's namespace, with the tool that loads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Load {
    /// `iptables-restore --noflush`.
    IptablesNoflush(String),
    /// `nft -f -`.
    Nft(String),
    /// `ip6tables-restore --noflush` (kube-proxy's IPv6 rules).
    Ip6tablesNoflush(String),
    /// Several loads, in order (dual stack: IPv4's, then IPv6's).
    All(Vec<Load>),
}

impl Load {
    pub async fn apply(&self, tools: &Tools, ns: &str) -> Result<()> {
        match self {
            Load::IptablesNoflush(doc) => tools.iptables_restore(ns, doc, true).await,
            Load::Nft(doc) => tools.nft_load(ns, doc).await,
            Load::Ip6tablesNoflush(doc) => tools.ip6tables_restore(ns, doc, true).await,
            Load::All(loads) => {
                for l in loads {
                    Box::pin(l.apply(tools, ns)).await?;
                }
                Ok(())
            }
        }
    }
}

impl KubeProxyMode {
    /// The `--kube-proxy` value (and `cluster.kubeProxyMode`).
    pub fn name(self) -> &'static str {
        match self {
            KubeProxyMode::Iptables => "iptables",
            KubeProxyMode::Nftables => "nftables",
        }
    }

    pub fn parse(s: &str) -> std::result::Result<Self, String> {
        ALL.into_iter().find(|m| m.name() == s).ok_or_else(|| {
            let names: Vec<&str> = ALL.iter().map(|m| m.name()).collect();
            format!(
                "unknown kube-proxy mode {s:?}: use one of {}",
                names.join(", ")
            )
        })
    }

    /// The node's whole iptables document (kubelet's and the CNI's chains,
    /// and kube-proxy's IPv4 ones in iptables mode).
    pub fn node_iptables(self, cni: &CniRules, services: &[ServicePort]) -> String {
        match self {
            KubeProxyMode::Iptables => rules::node_rules(cni, Some(services)),
            KubeProxyMode::Nftables => rules::node_rules(cni, None),
        }
    }

    /// The node's ip6tables document (every node, whatever the cluster's
    /// families): kubelet's chains, and kube-proxy's IPv6 ones in iptables
    /// mode (with no Services on an IPv4-only cluster), and the CNI's
    /// IPv6 chains (`cni6`, none on an IPv4-only lab).
    pub fn node_ip6tables(self, cni6: &CniRules, services6: &[ServicePort]) -> String {
        match self {
            KubeProxyMode::Iptables => rules::node_rules6(cni6, services6),
            KubeProxyMode::Nftables => rules::kubelet_rules6(cni6),
        }
    }

    /// What kube-proxy writes at build time besides the iptables documents:
    /// in nftables mode, each family's table.
    pub fn initial(self, families: &[FamilyServices]) -> Option<Load> {
        match self {
            KubeProxyMode::Iptables => None,
            KubeProxyMode::Nftables => Some(nft_tables(families)),
        }
    }

    /// What kube-proxy's later sync writes: its own rules only, in each
    /// family (IPv4's first; kube-proxy runs one proxier per family).
    pub fn sync(self, families: &[FamilyServices]) -> Load {
        match self {
            KubeProxyMode::Iptables => all(families
                .iter()
                .map(|f| {
                    let doc = rules::kube_proxy_sync(&f.services);
                    if f.node.v6() {
                        Load::Ip6tablesNoflush(doc)
                    } else {
                        Load::IptablesNoflush(doc)
                    }
                })
                .collect()),
            KubeProxyMode::Nftables => nft_tables(families),
        }
    }

    /// Removes the Service rules of both families (`kube-proxy-down`; a
    /// node carries both whatever the cluster's, see
    /// `build::kube_proxy_families`): KUBE-SERVICES flushed in nat (iptables and
    /// ip6tables), or each kube-proxy table deleted, as a node shows them
    /// when kube-proxy is not running and its rules were cleaned up or never
    /// came back (`kube-proxy --cleanup`, a reboot: nftables tables do not
    /// survive one).
    pub fn remove_services(self) -> Load {
        both_families(|v6| match self {
            KubeProxyMode::Iptables => {
                let doc = "*nat\n-F KUBE-SERVICES\nCOMMIT\n".to_string();
                if v6 {
                    Load::Ip6tablesNoflush(doc)
                } else {
                    Load::IptablesNoflush(doc)
                }
            }
            KubeProxyMode::Nftables => Load::Nft(kube_proxy_nft::delete_table(v6)),
        })
    }

    /// Removes the NodePort rules only (`nodeport-down`), the ClusterIP rules
    /// staying, in every family the lab has: nat KUBE-NODEPORTS flushed, or
    /// each table's `service-nodeports` map.
    pub fn remove_node_ports(self) -> Load {
        both_families(|v6| match self {
            KubeProxyMode::Iptables => {
                let doc = "*nat\n-F KUBE-NODEPORTS\nCOMMIT\n".to_string();
                if v6 {
                    Load::Ip6tablesNoflush(doc)
                } else {
                    Load::IptablesNoflush(doc)
                }
            }
            KubeProxyMode::Nftables => Load::Nft(format!(
                "flush map {} service-nodeports\n",
                kube_proxy_nft::table_name(v6)
            )),
        })
    }

    /// The mode's tools are there (`nft` for nftables), or what to install.
    pub fn check_tools(self, tools: &Tools) -> Result<()> {
        match self {
            KubeProxyMode::Nftables if tools.nft.is_none() => Err(RuntimeError::NotReady(
                "kubectl netcheck lab --kube-proxy nftables needs nft, which is not installed: \
                 install it with `apt-get install nftables`"
                    .into(),
            )),
            _ => Ok(()),
        }
    }
}

/// One IP family of a node as kube-proxy programs it: the node's address
/// and pod CIDR of that family ([`NftNode`]) and that family's Service ports.
#[derive(Debug, Clone)]
pub struct FamilyServices {
    pub node: NftNode,
    pub services: Vec<ServicePort>,
}

/// Each family's whole kube-proxy table, replaced (one `nft -f` each: the
/// proxiers sync on their own).
fn nft_tables(families: &[FamilyServices]) -> Load {
    all(families
        .iter()
        .map(|f| Load::Nft(kube_proxy_nft::replace_table(&f.node, &f.services)))
        .collect())
}

/// `load(v6)` for each family, IPv4's first.
fn both_families(load: impl Fn(bool) -> Load) -> Load {
    all(vec![load(false), load(true)])
}

/// One load, or several in order.
fn all(mut loads: Vec<Load>) -> Load {
    if loads.len() == 1 {
        loads.remove(0)
    } else {
        Load::All(loads)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_ones_say_what_to_use() {
        for m in ALL {
            assert_eq!(KubeProxyMode::parse(m.name()), Ok(m));
        }
        let e = KubeProxyMode::parse("ipvs").unwrap_err();
        assert!(e.contains("iptables, nftables"), "{e}");
        assert_eq!(KubeProxyMode::default(), KubeProxyMode::Iptables);
    }

    fn v4_node() -> FamilyServices {
        FamilyServices {
            node: NftNode {
                node_ip: std::net::Ipv4Addr::new(198, 19, 255, 1).into(),
                pod_cidr: "198.18.0.0/24".parse().unwrap(),
            },
            services: Vec::new(),
        }
    }

    fn v6_node() -> FamilyServices {
        FamilyServices {
            node: NftNode {
                node_ip: "2001:2:0:fffe::1".parse().unwrap(),
                pod_cidr: "2001:2::/64".parse().unwrap(),
            },
            services: Vec::new(),
        }
    }

    #[test]
    fn each_mode_writes_where_kube_proxy_does() {
        let node = [v4_node()];
        let ipt = KubeProxyMode::Iptables;
        let nft = KubeProxyMode::Nftables;
        let cni = crate::lab::flavours::flannel::flanneld_rules("198.18.0.0/24");
        assert!(ipt.node_iptables(&cni, &[]).contains("KUBE-SERVICES"));
        assert!(!nft.node_iptables(&cni, &[]).contains("KUBE-SERVICES"));
        assert_eq!(ipt.initial(&node), None);
        assert!(
            matches!(nft.initial(&node), Some(Load::Nft(d)) if d.contains("table ip kube-proxy {\n"))
        );
        assert!(matches!(ipt.sync(&node), Load::IptablesNoflush(_)));
        assert!(matches!(nft.sync(&node), Load::Nft(_)));
        assert!(
            matches!(ipt.remove_node_ports(), Load::All(l) if matches!(&l[..],
                [Load::IptablesNoflush(d), Load::Ip6tablesNoflush(_)] if d.contains("-F KUBE-NODEPORTS")))
        );
    }

    /// Dual stack: kube-proxy writes each family where that family's rules
    /// live (ip6tables, or `table ip6 kube-proxy`), and the faults remove
    /// both families' rules, as a node without kube-proxy shows them.
    #[test]
    fn each_family_has_its_own_rules_and_the_faults_remove_both() {
        let both = [v4_node(), v6_node()];
        let ipt = KubeProxyMode::Iptables;
        let nft = KubeProxyMode::Nftables;
        assert!(
            ipt.node_ip6tables(&CniRules::default(), &[])
                .contains(":KUBE-SERVICES")
        );
        let kubelet6 = nft.node_ip6tables(&CniRules::default(), &[]);
        assert!(!kubelet6.contains("KUBE-SERVICES") && !kubelet6.contains("127.0.0.0/8"));
        assert!(kubelet6.contains(":KUBE-KUBELET-CANARY"));
        let Some(Load::All(tables)) = nft.initial(&both) else {
            panic!("two tables")
        };
        assert!(matches!(&tables[..], [Load::Nft(a), Load::Nft(b)]
            if a.contains("table ip kube-proxy {\n") && b.contains("table ip6 kube-proxy {\n")));
        assert_eq!(Some(nft.sync(&both)), nft.initial(&both));
        assert!(matches!(ipt.sync(&both),
            Load::All(l) if matches!(&l[..], [Load::IptablesNoflush(_), Load::Ip6tablesNoflush(_)])));
        assert!(matches!(ipt.sync(&[v6_node()]), Load::Ip6tablesNoflush(_)));
        assert_eq!(
            nft.remove_services(),
            Load::All(vec![
                Load::Nft("delete table ip kube-proxy\n".into()),
                Load::Nft("delete table ip6 kube-proxy\n".into()),
            ])
        );
        assert_eq!(
            nft.remove_node_ports(),
            Load::All(vec![
                Load::Nft("flush map ip kube-proxy service-nodeports\n".into()),
                Load::Nft("flush map ip6 kube-proxy service-nodeports\n".into()),
            ])
        );
        assert!(matches!(ipt.remove_services(),
            Load::All(l) if matches!(&l[..], [_, Load::Ip6tablesNoflush(d)] if d.contains("-F KUBE-SERVICES"))));
    }
}
