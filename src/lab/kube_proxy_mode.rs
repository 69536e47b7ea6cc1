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
    /// `table ip kube-proxy` in nftables; nothing of kube-proxy in iptables.
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
    /// and kube-proxy's in iptables mode).
    pub fn node_iptables(self, cni: &CniRules, services: &[ServicePort]) -> String {
        match self {
            KubeProxyMode::Iptables => rules::node_rules(cni, Some(services)),
            KubeProxyMode::Nftables => rules::node_rules(cni, None),
        }
    }

    /// What kube-proxy writes at build time besides the iptables document.
    pub fn initial(self, node: &NftNode, services: &[ServicePort]) -> Option<Load> {
        match self {
            KubeProxyMode::Iptables => None,
            KubeProxyMode::Nftables => {
                Some(Load::Nft(kube_proxy_nft::replace_table(node, services)))
            }
        }
    }

    /// What kube-proxy's later sync writes: its own rules only.
    pub fn sync(self, node: &NftNode, services: &[ServicePort]) -> Load {
        match self {
            KubeProxyMode::Iptables => Load::IptablesNoflush(rules::kube_proxy_sync(services)),
            KubeProxyMode::Nftables => Load::Nft(kube_proxy_nft::replace_table(node, services)),
        }
    }

    /// Removes the Service rules (`kube-proxy-down`): KUBE-SERVICES flushed
    /// in nat, or the whole kube-proxy table deleted.
    pub fn remove_services(self) -> Load {
        match self {
            KubeProxyMode::Iptables => {
                Load::IptablesNoflush("*nat\n-F KUBE-SERVICES\nCOMMIT\n".into())
            }
            KubeProxyMode::Nftables => Load::Nft(kube_proxy_nft::delete_table()),
        }
    }

    /// Removes the NodePort rules only (`nodeport-down`), the ClusterIP rules
    /// staying: nat KUBE-NODEPORTS flushed, or the `service-nodeports` map.
    pub fn remove_node_ports(self) -> Load {
        match self {
            KubeProxyMode::Iptables => {
                Load::IptablesNoflush("*nat\n-F KUBE-NODEPORTS\nCOMMIT\n".into())
            }
            KubeProxyMode::Nftables => Load::Nft(format!(
                "flush map {} service-nodeports\n",
                kube_proxy_nft::TABLE
            )),
        }
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

    #[test]
    fn each_mode_writes_where_kube_proxy_does() {
        let node = NftNode {
            node_ip: std::net::Ipv4Addr::new(198, 19, 255, 1),
            pod_cidr: "198.18.0.0/24".parse().unwrap(),
        };
        let ipt = KubeProxyMode::Iptables;
        let nft = KubeProxyMode::Nftables;
        let cni = crate::lab::flavours::flannel::flanneld_rules("198.18.0.0/24");
        assert!(ipt.node_iptables(&cni, &[]).contains("KUBE-SERVICES"));
        assert!(!nft.node_iptables(&cni, &[]).contains("KUBE-SERVICES"));
        assert_eq!(ipt.initial(&node, &[]), None);
        assert!(
            matches!(nft.initial(&node, &[]), Some(Load::Nft(d)) if d.contains("table ip kube-proxy {\n"))
        );
        assert!(matches!(ipt.sync(&node, &[]), Load::IptablesNoflush(_)));
        assert!(matches!(nft.sync(&node, &[]), Load::Nft(_)));
        assert_eq!(
            nft.remove_services(),
            Load::Nft("delete table ip kube-proxy\n".into())
        );
        assert_eq!(
            nft.remove_node_ports(),
            Load::Nft("flush map ip kube-proxy service-nodeports\n".into())
        );
        assert!(
            matches!(ipt.remove_node_ports(), Load::IptablesNoflush(d) if d.contains("-F KUBE-NODEPORTS"))
        );
    }
}
