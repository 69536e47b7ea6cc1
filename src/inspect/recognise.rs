//! Which CNI a cluster runs, recognised from what each one leaves behind:
//! its agent's DaemonSet (name, image), the annotations it puts on Nodes,
//! the plugin types of the CNI config it installs, and the devices it makes
//! on every node. One table entry per CNI; discovery (`kube::discover`) asks
//! it about API objects, host inspection (`inspect::cluster_facts`) about
//! node reports.
//!
//! Adding a CNI is one entry in [`CNIS`] (and a fixture directory under
//! tests/fixtures/cni/<name>/ with its default conflist and devices).
//! Facts come from each project's published manifests and docs; the
//! fixtures' README says which.

/// A device a CNI makes: an exact name, or a prefix when it ends in `*`;
/// `kind` when the name alone is not enough (`tunl0` is Calico's only
/// when it is an IPIP tunnel).
#[derive(Debug, Clone, Copy)]
pub struct Device {
    pub name: &'static str,
    pub kind: Option<&'static str>,
    /// An encapsulating device (VXLAN, IPIP, Geneve, WireGuard) rather than
    /// a pod's veth or a host bridge: what the node's overlay is.
    pub overlay: bool,
}

const fn dev(name: &'static str) -> Device {
    Device {
        name,
        kind: None,
        overlay: false,
    }
}

const fn tunnel(name: &'static str) -> Device {
    Device {
        name,
        kind: None,
        overlay: true,
    }
}

impl Device {
    pub fn matches(&self, name: &str, kind: Option<&str>) -> bool {
        let named = match self.name.strip_suffix('*') {
            // A prefix names pod veths (`cali1a2b…`): something must follow.
            Some(p) => name.len() > p.len() && name.starts_with(p),
            None => name == self.name,
        };
        named && self.kind.is_none_or(|k| kind == Some(k))
    }
}

/// What recognises one CNI.
#[derive(Debug, Clone, Copy)]
pub struct Recogniser {
    /// The common name the report uses (`cluster.cni`).
    pub name: &'static str,
    /// Substrings of its agent DaemonSet's (or pod's) name.
    pub daemonsets: &'static [&'static str],
    /// Substrings of its agent's container images.
    pub images: &'static [&'static str],
    /// Annotation prefixes its agent writes on every Node.
    pub node_annotations: &'static [&'static str],
    /// The main plugin `type`s of the conflist it installs.
    pub plugins: &'static [&'static str],
    /// Network `name`s of its conflist, for CNIs whose plugin is a generic
    /// one (kindnet installs `ptp` under the name `kindnet`).
    pub networks: &'static [&'static str],
    /// Devices it makes on the node.
    pub devices: &'static [Device],
    /// It can serve Services itself (eBPF or its own proxy), so a cluster
    /// without kube-proxy is not missing one.
    pub replaces_kube_proxy: bool,
}

const NONE: &[&str] = &[];

const fn cni(name: &'static str) -> Recogniser {
    Recogniser {
        name,
        daemonsets: NONE,
        images: NONE,
        node_annotations: NONE,
        plugins: NONE,
        networks: NONE,
        devices: &[],
        replaces_kube_proxy: false,
    }
}

/// Order matters where names overlap: Canal (Calico + flannel) before both,
/// Cilium before the rest; `bridge` (the reference plugin, no agent) last.
pub const CNIS: &[Recogniser] = &[
    Recogniser {
        daemonsets: &["canal"],
        images: NONE,
        ..cni("canal")
    },
    Recogniser {
        daemonsets: &["cilium"],
        images: &["cilium/cilium"],
        node_annotations: &["network.cilium.io/", "io.cilium."],
        plugins: &["cilium-cni"],
        devices: &[
            tunnel("cilium_vxlan"),
            tunnel("cilium_geneve"),
            tunnel("cilium_wg0"),
            dev("cilium_host"),
            dev("cilium_net"),
            dev("lxc*"),
        ],
        replaces_kube_proxy: true,
        ..cni("cilium")
    },
    Recogniser {
        daemonsets: &["calico-node", "calico"],
        images: &["calico/node", "calico"],
        node_annotations: &["projectcalico.org/"],
        plugins: &["calico"],
        devices: &[
            tunnel("vxlan.calico"),
            tunnel("vxlan-v6.calico"),
            tunnel("wireguard.cali"),
            tunnel("wg-v6.cali"),
            Device {
                name: "tunl0",
                kind: Some("ipip"),
                overlay: true,
            },
            dev("cali*"),
        ],
        ..cni("calico")
    },
    Recogniser {
        daemonsets: &["kube-flannel", "flannel"],
        images: &["flannel"],
        node_annotations: &["flannel.alpha.coreos.com/"],
        plugins: &["flannel"],
        devices: &[
            tunnel("flannel.*"),
            tunnel("flannel-v6.*"),
            tunnel("flannel-wg"),
            tunnel("flannel-wg-v6"),
        ],
        ..cni("flannel")
    },
    Recogniser {
        daemonsets: &["weave-net"],
        images: &["weaveworks/weave", "weave-kube"],
        plugins: &["weave-net"],
        devices: &[tunnel("vxlan-6784"), dev("weave"), dev("datapath")],
        ..cni("weave")
    },
    Recogniser {
        daemonsets: &["kindnet"],
        images: &["kindnet"],
        networks: &["kindnet"],
        ..cni("kindnet")
    },
    Recogniser {
        daemonsets: &["antrea-agent", "antrea"],
        images: &["antrea"],
        plugins: &["antrea"],
        devices: &[tunnel("antrea-tun0"), dev("antrea-gw0")],
        replaces_kube_proxy: true,
        ..cni("antrea")
    },
    Recogniser {
        daemonsets: &["kube-router"],
        images: &["kube-router"],
        node_annotations: &["kube-router.io/"],
        networks: &["kube-router", "kuberouter"],
        devices: &[dev("kube-bridge"), dev("kube-dummy-if")],
        replaces_kube_proxy: true,
        ..cni("kube-router")
    },
    Recogniser {
        daemonsets: &["ovnkube-node", "ovnkube", "ovn-kubernetes"],
        images: &["ovnkube", "ovn-kubernetes"],
        plugins: &["ovn-k8s-cni-overlay"],
        devices: &[tunnel("genev_sys_*"), dev("ovn-k8s-mp*")],
        replaces_kube_proxy: true,
        ..cni("ovn-kubernetes")
    },
    Recogniser {
        daemonsets: &["aws-node"],
        images: &["amazon-k8s-cni"],
        plugins: &["aws-cni"],
        devices: &[dev("eni*")],
        ..cni("aws-vpc-cni")
    },
    Recogniser {
        daemonsets: &["azure-cns", "azure-cni", "azure-vnet"],
        images: &["azure-cns", "azure-cni", "azure-vnet"],
        plugins: &["azure-vnet"],
        devices: &[dev("azure0"), dev("azv*")],
        ..cni("azure-cni")
    },
    Recogniser {
        daemonsets: &["netd", "gke-connectivity"],
        images: &["gke-connectivity"],
        ..cni("gke")
    },
    Recogniser {
        plugins: &["multus-shim", "multus"],
        ..cni("multus")
    },
];

/// The entry of a CNI by its common name.
pub fn by_name(name: &str) -> Option<&'static Recogniser> {
    CNIS.iter().find(|r| r.name == name)
}

/// The CNI a conflist names: by its main plugin type, else by its network
/// name (kindnet's `ptp`). None for a generic plugin (`bridge`, `ptp`).
pub fn by_config(plugin_type: &str, network: Option<&str>) -> Option<&'static Recogniser> {
    CNIS.iter()
        .find(|r| r.plugins.contains(&plugin_type))
        .or_else(|| {
            let n = network?;
            CNIS.iter().find(|r| r.networks.contains(&n))
        })
}

/// The CNI that made a device, and whether it is that CNI's overlay.
pub fn by_device(name: &str, kind: Option<&str>) -> Option<(&'static Recogniser, Device)> {
    CNIS.iter().find_map(|r| {
        r.devices
            .iter()
            .find(|d| d.matches(name, kind))
            .map(|d| (r, *d))
    })
}

impl Recogniser {
    /// The marker by which a DaemonSet (or pod) name or its images show
    /// this CNI's agent.
    pub fn workload_marker(&self, name: &str, images: &[String]) -> Option<&'static str> {
        self.daemonsets
            .iter()
            .find(|m| name.contains(*m))
            .or_else(|| {
                self.images
                    .iter()
                    .find(|m| images.iter().any(|i| i.contains(*m)))
            })
            .copied()
    }
}

/// The CNI whose agent a DaemonSet (or pod) name and its images give away,
/// with the marker that matched.
pub fn by_workload(name: &str, images: &[String]) -> Option<(&'static Recogniser, &'static str)> {
    CNIS.iter()
        .find_map(|r| r.workload_marker(name, images).map(|m| (r, m)))
}

/// The CNI whose annotations a Node carries, with the annotation.
pub fn by_node_annotation<'a>(
    keys: impl IntoIterator<Item = &'a str>,
) -> Option<(&'static Recogniser, String)> {
    let keys: Vec<&str> = keys.into_iter().collect();
    CNIS.iter().find_map(|r| {
        keys.iter()
            .find(|k| r.node_annotations.iter().any(|p| k.starts_with(p)))
            .map(|k| (r, k.to_string()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_match_by_name_prefix_and_kind() {
        let cali = by_device("cali1a2b3c4d5e6", None).unwrap();
        assert_eq!((cali.0.name, cali.1.overlay), ("calico", false));
        assert!(
            by_device("cali", None).is_none(),
            "a bare prefix is no veth"
        );
        assert_eq!(
            by_device("vxlan.calico", Some("vxlan")).unwrap().0.name,
            "calico"
        );
        let v6 = by_device("vxlan-v6.calico", Some("vxlan")).unwrap();
        assert_eq!((v6.0.name, v6.1.overlay), ("calico", true));
        assert_eq!(by_device("tunl0", Some("ipip")).unwrap().0.name, "calico");
        assert!(
            by_device("tunl0", None).is_none(),
            "tunl0 of the ipip module alone"
        );
        assert_eq!(
            by_device("flannel.1", Some("vxlan")).unwrap().0.name,
            "flannel"
        );
        assert_eq!(
            by_device("cilium_host", Some("veth")).unwrap().0.name,
            "cilium"
        );
        assert!(by_device("cilium_vxlan", Some("vxlan")).unwrap().1.overlay);
        assert_eq!(by_device("weave", Some("bridge")).unwrap().0.name, "weave");
        assert_eq!(
            by_device("eni3f2a9c1b7d0", Some("veth")).unwrap().0.name,
            "aws-vpc-cni"
        );
        assert_eq!(by_device("azv1234abcd", None).unwrap().0.name, "azure-cni");
        assert!(by_device("eth0", None).is_none());
        assert!(
            by_device("cni0", Some("bridge")).is_none(),
            "the bridge plugin's, not a CNI's"
        );
        assert!(
            by_device("kube-ipvs0", Some("dummy")).is_none(),
            "kube-proxy's"
        );
    }

    #[test]
    fn configs_workloads_and_annotations() {
        assert_eq!(by_config("calico", None).unwrap().name, "calico");
        assert_eq!(
            by_config("aws-cni", Some("aws-cni")).unwrap().name,
            "aws-vpc-cni"
        );
        assert_eq!(by_config("ptp", Some("kindnet")).unwrap().name, "kindnet");
        assert!(by_config("ptp", Some("mynet")).is_none());
        assert!(by_config("bridge", Some("cbr0")).is_none());
        let img = |s: &str| vec![s.to_string()];
        let (r, m) = by_workload("aws-node", &img("x/amazon-k8s-cni:v1.19")).unwrap();
        assert_eq!((r.name, m), ("aws-vpc-cni", "aws-node"));
        let (r, m) = by_workload("node-agent", &img("quay.io/cilium/cilium:v1.17")).unwrap();
        assert_eq!((r.name, m), ("cilium", "cilium/cilium"));
        assert_eq!(
            by_workload("canal", &img("calico/node:v3")).unwrap().0.name,
            "canal"
        );
        assert!(by_workload("kube-proxy", &img("registry.k8s.io/kube-proxy:v1.36")).is_none());
        let (r, k) = by_node_annotation(["flannel.alpha.coreos.com/backend-type", "x"]).unwrap();
        assert_eq!(
            (r.name, k.as_str()),
            ("flannel", "flannel.alpha.coreos.com/backend-type")
        );
        assert!(by_node_annotation(["node.alpha.kubernetes.io/ttl"]).is_none());
    }

    #[test]
    fn every_entry_can_be_recognised_somehow_and_names_are_unique() {
        for r in CNIS {
            assert!(
                !(r.daemonsets.is_empty() && r.plugins.is_empty() && r.devices.is_empty()),
                "{} has nothing to recognise it by",
                r.name
            );
            assert_eq!(CNIS.iter().filter(|x| x.name == r.name).count(), 1);
        }
    }
}
