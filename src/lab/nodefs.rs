//! The simulated root filesystem of a lab node (`<state dir>/nodes/<node>/`):
//! the files host inspection reads on a node. The CNI config and the other
//! files of the CNI are the flavour's ([`super::flavours`]); the plugin binaries are small stand-ins (the lab wires
//! interfaces itself, nothing executes them), and they are where Debian's
//! `containernetworking-plugins` package puts them, /usr/lib/cni, not
//! /opt/cni/bin: containerd's config.toml names that directory (the CRI
//! plugin's `bin_dir`, as on the real cluster of issue 11), and only a reader
//! of the runtime's own setting finds them.

use super::flavours::Flavour;
use super::plan::LabPlan;
use std::path::Path;

pub const CNI_CONF_DIR: &str = "etc/cni/net.d";
/// Where the plugins are (Debian's package), as containerd's config says.
pub const CNI_BIN_DIR: &str = "usr/lib/cni";
/// containerd's configuration (1.6, version 2 config).
pub const CONTAINERD_CONFIG: &str = "etc/containerd/config.toml";

/// containerd 1.6's config.toml (version 2) as a node with Debian's CNI
/// plugins has it: the CRI plugin's `cni` section names the binaries' dir.
pub fn containerd_config() -> String {
    format!(
        "version = 2\n\n\
         [plugins]\n\
         \x20 [plugins.\"io.containerd.grpc.v1.cri\"]\n\
         \x20   sandbox_image = \"registry.k8s.io/pause:3.8\"\n\n\
         \x20   [plugins.\"io.containerd.grpc.v1.cri\".cni]\n\
         \x20     bin_dir = \"/{CNI_BIN_DIR}\"\n\
         \x20     conf_dir = \"/{CNI_CONF_DIR}\"\n\n\
         \x20   [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n\
         \x20     runtime_type = \"io.containerd.runc.v2\"\n\n\
         \x20     [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\n\
         \x20       SystemdCgroup = true\n"
    )
}

/// Write node i's files under `root`: the flavour's (its conflist and the
/// rest), its plugins' stand-ins, containerd's config.
pub fn write_node_root(
    plan: &LabPlan,
    cni: &dyn Flavour,
    i: usize,
    root: &Path,
) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for (rel, content) in cni.node_files(plan, i) {
        let f = root.join(rel);
        if let Some(dir) = f.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(f, content)?;
    }
    let bin = root.join(CNI_BIN_DIR);
    std::fs::create_dir_all(&bin)?;
    for p in cni.plugins() {
        let f = bin.join(p);
        std::fs::write(
            &f,
            format!("#!/bin/sh\n# kubectl-netcheck lab stand-in for the {p} CNI plugin\nexit 0\n"),
        )?;
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755))?;
    }
    let containerd = root.join(CONTAINERD_CONFIG);
    if let Some(dir) = containerd.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(containerd, containerd_config())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::flavours::{self, Flannel};

    #[test]
    fn node_root_has_config_and_every_plugin() {
        let dir = tempfile::tempdir().unwrap();
        let plan = LabPlan::new("abcde", 2, 2).unwrap();
        write_node_root(&plan, &Flannel, 1, dir.path()).unwrap();
        assert!(
            dir.path()
                .join(CNI_CONF_DIR)
                .join(flavours::flannel::CONFLIST)
                .is_file()
        );
        for p in Flannel.plugins() {
            assert!(dir.path().join("usr/lib/cni").join(p).is_file(), "{p}");
        }
        assert!(
            !dir.path().join("opt/cni/bin").exists(),
            "the plugins are where Debian puts them, not in /opt/cni/bin"
        );
        let toml = std::fs::read_to_string(dir.path().join(CONTAINERD_CONFIG)).unwrap();
        assert!(toml.contains("[plugins.\"io.containerd.grpc.v1.cri\".cni]\n      bin_dir = \"/usr/lib/cni\"\n      conf_dir = \"/etc/cni/net.d\"\n"), "{toml}");
        let env = std::fs::read_to_string(dir.path().join("run/flannel/subnet.env")).unwrap();
        assert!(env.contains("FLANNEL_SUBNET=198.18.1.1/24"));
        assert!(env.contains("FLANNEL_MTU=1450"));
    }
}
