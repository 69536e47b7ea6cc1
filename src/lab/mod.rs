//! The lab runtime: a cluster's network built from Linux network namespaces
//! on this machine (DESIGN.md, "The lab").
//!
//! - [`plan`]: names and addresses (pure).
//! - [`build`]: the network: wire, nodes (underlay, iptables from [`rules`]),
//!   pods, DNS pods; [`nodefs`] the node files.
//! - [`flavours`]: `lab --cni NAME`, one file per CNI: its devices, routes,
//!   pod wiring, MTU, conflist and files, own iptables chains (flannel's
//!   VXLAN is the default).
//! - [`kube_proxy`]: kube-proxy's delayed sync of the probe Services.
//! - [`kube_proxy_mode`]: `lab --kube-proxy iptables|nftables`, what each
//!   mode writes and with which tool; [`rules`] the iptables mode's chains
//!   (and kubelet's, and the CNI's from its flavour), [`kube_proxy_nft`] the nftables mode's
//!   `table ip kube-proxy`, one file per mode.
//! - [`procs`]: dnsmasq and the agents, started with `ip netns exec`.
//! - [`runtime`]: [`LabRuntime`], the pipeline's `Runtime`.
//! - [`state`]: what exists, for teardown and the leftover sweep.
//! - [`faults`]: one small file per way to break it; [`host_faults`] the
//!   node-level breakages (FORWARD DROP, ip_forward, CNI files, ...).
//!
//! A peer of the kube runtime under the CLI: it knows no flags. The `lab`
//! command's handler and its benchmark are `cli/lab_run.rs` and
//! `cli/bench.rs`; they build a [`LabConfig`] and drive [`LabRuntime`].
//!
//! The lab is as unkind as real clusters (DESIGN.md, "What real clusters do
//! that the lab must do too"; issue 11), so that the pipeline can only
//! believe what agents and host inspection observe:
//!
//! - two DNS replicas (dnsmasq) on node-1 and node-2 behind the DNS Service,
//!   balanced by kube-proxy's `statistic --mode random` rules (nftables
//!   mode: `numgen random mod 2`), both listed in `Deployment.dns.servers`
//!   with their nodes;
//! - Service rules after the endpoints: the probe Services start with
//!   kube-proxy's REJECT ("has no endpoints", or `no-endpoint-services` →
//!   `reject-chain` in nftables mode: a connect is refused) and each node
//!   installs their DNAT 0.2–1.0 s after deploy, in the background;
//! - kube-proxy and the CNI as host processes: `discover` names neither
//!   (`unknown`, as a cluster without their DaemonSets); the nodes' rules
//!   (kube-proxy's chains or nftables table, kubelet's chains) and files say
//!   what they are;
//! - CNI plugins in /usr/lib/cni (Debian's package), named by containerd's
//!   config.toml (`[plugins."io.containerd.grpc.v1.cri".cni] bin_dir`);
//! - the pod MTU (the flavour's: 1450 under flannel's VXLAN) on the pods' eth0 and nowhere in what
//!   the runtime hands the planner.
//!
//! A bridge CNI with `isGateway` turns ip_forward back on at every pod ADD;
//! the lab's faults are applied after every pod of the lab is wired, so the
//! `ip-forward-off` fault is a node where ip_forward went off after its last
//! pod ADD (as after a `sysctl --system` run), which no later ADD repairs.

pub mod build;
pub mod cmd;
pub mod ctx;
pub mod faults;
pub mod flavours;
pub mod host_faults;
pub mod kube_proxy;
pub mod kube_proxy_mode;
pub mod kube_proxy_nft;
pub mod nodefs;
pub mod plan;
pub mod procs;
pub mod rules;
pub mod runtime;
pub mod state;
pub mod testing;

pub use ctx::LabCtx;
pub use flavours::Flavour;
pub use kube_proxy_mode::KubeProxyMode;
pub use plan::LabPlan;
pub use runtime::{LabConfig, LabRuntime, NEEDS_ROOT, is_root};
