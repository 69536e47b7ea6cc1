//! The simulated root filesystem of a lab node (`<state dir>/nodes/<node>/`):
//! the files host inspection reads on a flannel node. The CNI config is the
//! one kube-flannel installs (flannel delegating to bridge with hairpin mode,
//! then portmap); the plugin binaries are small stand-ins (the lab wires
//! interfaces itself, nothing executes them), and they are where Debian's
//! `containernetworking-plugins` package puts them, /usr/lib/cni, not
//! /opt/cni/bin: containerd's config.toml names that directory (the CRI
//! plugin's `bin_dir`, as on the real cluster of issue 11), and only a reader
//! of the runtime's own setting finds them.

use super::plan::{CLUSTER_CIDR, LabPlan, OVERLAY_MTU};
use std::path::Path;

pub const CNI_CONF_DIR: &str = "etc/cni/net.d";
/// Where the plugins are (Debian's package), as containerd's config says.
pub const CNI_BIN_DIR: &str = "usr/lib/cni";
/// containerd's configuration (1.6, version 2 config).
pub const CONTAINERD_CONFIG: &str = "etc/containerd/config.toml";
pub const CNI_CONF_FILE: &str = "10-flannel.conflist";
pub const CNI_PLUGINS: [&str; 5] = ["flannel", "bridge", "host-local", "portmap", "loopback"];

/// kube-flannel's conflist.
pub fn flannel_conflist() -> String {
    serde_json::to_string_pretty(&serde_json::json!({
        "name": "cbr0",
        "cniVersion": "0.3.1",
        "plugins": [
            {
                "type": "flannel",
                "delegate": {
                    "hairpinMode": true,
                    "isDefaultGateway": true
                }
            },
            {
                "type": "portmap",
                "capabilities": { "portMappings": true }
            }
        ]
    }))
    .unwrap_or_default()
        + "\n"
}

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

/// What flanneld writes for the CNI plugin (`/run/flannel/subnet.env`).
pub fn subnet_env(plan: &LabPlan, i: usize) -> String {
    format!(
        "FLANNEL_NETWORK={CLUSTER_CIDR}\nFLANNEL_SUBNET={}/24\nFLANNEL_MTU={OVERLAY_MTU}\nFLANNEL_IPMASQ=true\n",
        plan.gateway(i)
    )
}

/// Write node i's files under `root`.
pub fn write_node_root(plan: &LabPlan, i: usize, root: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let conf = root.join(CNI_CONF_DIR);
    std::fs::create_dir_all(&conf)?;
    std::fs::write(conf.join(CNI_CONF_FILE), flannel_conflist())?;
    let bin = root.join(CNI_BIN_DIR);
    std::fs::create_dir_all(&bin)?;
    for p in CNI_PLUGINS {
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
    std::fs::write(containerd, containerd_config())?;
    let run = root.join("run/flannel");
    std::fs::create_dir_all(&run)?;
    std::fs::write(run.join("subnet.env"), subnet_env(plan, i))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflist_is_flannel_delegating_to_bridge_with_hairpin() {
        let v: serde_json::Value = serde_json::from_str(&flannel_conflist()).unwrap();
        assert_eq!(v["plugins"][0]["type"], "flannel");
        assert_eq!(v["plugins"][0]["delegate"]["hairpinMode"], true);
        assert_eq!(v["plugins"][1]["type"], "portmap");
    }

    #[test]
    fn node_root_has_config_and_every_plugin() {
        let dir = tempfile::tempdir().unwrap();
        let plan = LabPlan::new("abcde", 2, 2).unwrap();
        write_node_root(&plan, 1, dir.path()).unwrap();
        assert!(dir.path().join(CNI_CONF_DIR).join(CNI_CONF_FILE).is_file());
        for p in CNI_PLUGINS {
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
