//! The simulated root filesystem of a lab node (`<state dir>/nodes/<node>/`):
//! the files host inspection reads on a flannel node. The CNI config is the
//! one kube-flannel installs (flannel delegating to bridge with hairpin mode,
//! then portmap); the plugin binaries are small stand-ins (the lab wires
//! interfaces itself, nothing executes them).

use super::plan::{CLUSTER_CIDR, LabPlan, OVERLAY_MTU};
use std::path::Path;

pub const CNI_CONF_DIR: &str = "etc/cni/net.d";
pub const CNI_BIN_DIR: &str = "opt/cni/bin";
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
            assert!(dir.path().join(CNI_BIN_DIR).join(p).is_file(), "{p}");
        }
        let env = std::fs::read_to_string(dir.path().join("run/flannel/subnet.env")).unwrap();
        assert!(env.contains("FLANNEL_SUBNET=198.18.1.1/24"));
        assert!(env.contains("FLANNEL_MTU=1450"));
    }
}
