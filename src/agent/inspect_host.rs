//! `agent inspect-host`: read the node and print one [`HostReport`] as JSON.
//! The work is in [`crate::inspect`]; this only maps the flags (a CNI dir
//! not given is the container runtime's own setting, see
//! [`crate::inspect::runtime_config`]).

use crate::inspect::collect::{self, Options};
use crate::model::host::HostReport;
use std::path::PathBuf;

pub fn options(
    host_root: PathBuf,
    cni_conf_dir: Option<PathBuf>,
    cni_bin_dir: Option<PathBuf>,
    node_name: String,
) -> Options {
    let node_name = if node_name.is_empty() {
        // Outside Kubernetes (the lab sets --node-name): the host's name.
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    } else {
        node_name
    };
    Options {
        host_root,
        cni_conf_dir,
        cni_bin_dir,
        node_name,
        ..Options::default()
    }
}

/// Inspect; never fails (what could not be read is in `unavailable`).
pub fn inspect(opts: &Options) -> HostReport {
    collect::inspect(opts)
}
