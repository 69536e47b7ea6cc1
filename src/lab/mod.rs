//! The lab runtime: a cluster's network built from Linux network namespaces
//! on this machine (DESIGN.md, "The lab").
//!
//! - [`plan`]: names and addresses (pure).
//! - [`build`]: the network: wire, nodes (cni0, flannel.1 VXLAN, routes,
//!   iptables from [`rules`]), pods, DNS pod; [`nodefs`] the node files.
//! - [`procs`]: dnsmasq and the agents, started with `ip netns exec`.
//! - [`runtime`]: [`LabRuntime`], the pipeline's `Runtime`.
//! - [`state`]: what exists, for teardown and the leftover sweep.
//! - [`faults`]: one small file per way to break it; [`host_faults`] the
//!   node-level breakages (FORWARD DROP, ip_forward, CNI files, ...).

pub mod bench;
pub mod build;
pub mod cmd;
pub mod command;
pub mod ctx;
pub mod faults;
pub mod host_faults;
pub mod kube_proxy;
pub mod nodefs;
pub mod plan;
pub mod procs;
pub mod rules;
pub mod runtime;
pub mod state;
pub mod testing;

pub use ctx::LabCtx;
pub use plan::LabPlan;
pub use runtime::{LabConfig, LabRuntime, NEEDS_ROOT, is_root};
