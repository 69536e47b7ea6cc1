//! `cni-plugin-binary-missing`: the config the runtime uses names a plugin
//! (or IPAM, or flannel's delegate) that is not in the CNI bin dir. Pod
//! sandboxes fail with "failed to find plugin … in path".

use super::host::{self, claim, diagnosis, forwarded_by};
use crate::diagnose::{Diagnosis, Evidence, Rule};
use crate::inspect::cni;
use crate::model::{FindingId, Severity};
use std::collections::BTreeSet;

pub struct CniPluginBinaryMissing;

impl Rule for CniPluginBinaryMissing {
    fn rank(&self) -> u16 {
        10
    }
    fn evaluate(&self, ev: &Evidence<'_>, explained: &BTreeSet<usize>) -> Vec<Diagnosis> {
        host::hosts(ev)
            .filter_map(|h| {
                let c = h.cni.as_ref()?;
                let sel = c.selected_file()?;
                if c.missing_plugins.is_empty() || c.bin_dir_error.is_some() {
                    return None;
                }
                let n = h.node.as_str();
                let mut evidence = vec![
                    format!(
                        "{n}: {} needs {}",
                        sel.file,
                        cni::required_binaries(sel).join(", ")
                    ),
                    format!(
                        "{n}: {} has no {}",
                        c.bin_dir,
                        c.missing_plugins.join(", ")
                    ),
                    format!("{n}: {} holds {}", c.bin_dir, c.binaries.join(", ")),
                ];
                if let Some(src) = &c.bin_dir_source {
                    evidence.push(format!("{n}: plugin dirs from {src}"));
                }
                let explains = claim(ev, explained, |ch| forwarded_by(ch, n));
                Some(diagnosis(
                    ev,
                    FindingId::CniPluginBinaryMissing,
                    Severity::Error,
                    format!("{n} lacks the CNI plugin(s) {}", c.missing_plugins.join(", ")),
                    n,
                    evidence,
                    explains,
                    format!(
                        "Install the missing plugin(s) into {} on {n} (the dir the container runtime searches: its \
                         CNI bin_dir/bin_dirs in containerd's config.toml, plugin_dirs in CRI-O's crio.conf): the standard ones (bridge, host-local, portmap, loopback, …) \
                         come from https://github.com/containernetworking/plugins/releases; the CNI's own (flannel, calico, \
                         cilium-cni) are copied by its DaemonSet's init container: restart that pod on {n}",
                        c.bin_dirs.first().unwrap_or(&c.bin_dir)
                    ),
                ))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::diagnose::rules::host::testing;
    use crate::diagnose::sim;
    use crate::model::FindingId;

    #[test]
    fn a_missing_bridge_binary_is_named() {
        let (d, checks, mut hosts) = testing::healthy(2);
        let c = hosts[0].cni.as_mut().unwrap();
        c.binaries.retain(|b| b != "bridge");
        c.missing_plugins = vec!["bridge".into()];
        let f = testing::diagnose(&d, &checks, &hosts);
        assert_eq!(
            sim::ids(&f),
            vec![FindingId::CniPluginBinaryMissing],
            "{f:#?}"
        );
        assert_eq!(
            f[0].evidence[0],
            "node-0: 10-bridge.conflist needs bridge, host-local, portmap"
        );
        assert_eq!(f[0].evidence[1], "node-0: /opt/cni/bin has no bridge");
    }

    /// The whole way: a node's files (plugins only in /usr/lib/cni, as
    /// Debian installs them) → host inspection → diagnosis.
    #[cfg(target_os = "linux")]
    #[test]
    fn plugins_in_usr_lib_cni_are_not_missing_and_a_missing_one_is() {
        let (d, checks, mut hosts) = testing::healthy(2);
        let inspect = |plugins: &[&str]| {
            let root = crate::inspect::tests::fake_cni_root(plugins, "/usr/lib/cni", &[]);
            crate::inspect::collect::read_cni(&crate::inspect::collect::Options {
                host_root: root.path().to_path_buf(),
                ..Default::default()
            })
        };
        hosts[0].cni = Some(inspect(&["bridge", "host-local", "portmap"]));
        let f = testing::diagnose(&d, &checks, &hosts);
        assert!(f.is_empty(), "{f:#?}");
        hosts[0].cni = Some(inspect(&["bridge", "host-local"]));
        let f = testing::diagnose(&d, &checks, &hosts);
        assert_eq!(sim::ids(&f), vec![FindingId::CniPluginBinaryMissing]);
        assert_eq!(f[0].evidence[1], "node-0: /usr/lib/cni has no portmap");
        assert!(
            f[0].evidence[3]
                .starts_with("node-0: plugin dirs from no plugin dir set in a runtime config"),
            "{:?}",
            f[0].evidence
        );
    }

    #[test]
    fn all_present_is_silent() {
        let (d, checks, hosts) = testing::healthy(2);
        assert!(testing::diagnose(&d, &checks, &hosts).is_empty());
    }
}
