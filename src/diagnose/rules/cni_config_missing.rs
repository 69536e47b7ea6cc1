//! `cni-config-missing`: the node's CNI config dir has no config the
//! container runtime can use (missing, empty, or only invalid files). New
//! pods on it stay in ContainerCreating; kubelet reports NetworkPluginNotReady.

use super::host::{self, claim, diagnosis, forwarded_by};
use crate::diagnose::{Diagnosis, Evidence, Rule};
use crate::model::{FindingId, Severity};
use std::collections::BTreeSet;

pub struct CniConfigMissing;

impl Rule for CniConfigMissing {
    fn rank(&self) -> u16 {
        10
    }
    fn evaluate(&self, ev: &Evidence<'_>, explained: &BTreeSet<usize>) -> Vec<Diagnosis> {
        host::hosts(ev)
            .filter_map(|h| {
                let c = h.cni.as_ref()?;
                if c.selected.is_some() {
                    return None;
                }
                // A dir we could not read for another reason proves nothing.
                if let Some(e) = &c.conf_dir_error {
                    if !e.contains("no such directory") {
                        return None;
                    }
                }
                let n = h.node.as_str();
                let mut evidence = vec![match &c.conf_dir_error {
                    Some(_) => format!("{n}: {} does not exist", c.conf_dir),
                    None if c.files.is_empty() => format!(
                        "{n}: {} has no .conf, .conflist or .json file",
                        c.conf_dir
                    ),
                    None => format!("{n}: no file in {} is a valid CNI config:", c.conf_dir),
                }];
                evidence.extend(c.files.iter().map(|f| {
                    format!("  {}: {}", f.file, f.error.as_deref().unwrap_or("valid"))
                }));
                let explains = claim(ev, explained, |ch| forwarded_by(ch, n));
                Some(diagnosis(
                    ev,
                    FindingId::CniConfigMissing,
                    Severity::Error,
                    format!("{n} has no usable CNI config: pods there get no network"),
                    n,
                    evidence,
                    explains,
                    format!(
                        "The CNI's agent on {n} writes this file: check it with `kubectl -n kube-system get pods -o wide \
                         --field-selector spec.nodeName={n}` (flannel, calico-node, cilium, …) and its logs. \
                         If this distribution keeps CNI config elsewhere (k3s: /var/lib/rancher/k3s/agent/etc/cni/net.d), \
                         rerun with --cni-conf-dir."
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
    fn empty_missing_or_invalid_dir_is_a_finding() {
        let (d, checks, mut hosts) = testing::healthy(2);
        let c = hosts[1].cni.as_mut().unwrap();
        c.files[0].error = Some("invalid: not JSON (EOF while parsing)".into());
        c.selected = None;
        let f = testing::diagnose(&d, &checks, &hosts);
        assert_eq!(sim::ids(&f), vec![FindingId::CniConfigMissing], "{f:#?}");
        assert!(
            f[0].evidence
                .iter()
                .any(|e| e.contains("10-bridge.conflist: invalid: not JSON"))
        );
        let c = hosts[1].cni.as_mut().unwrap();
        c.files.clear();
        c.conf_dir_error =
            Some("not available: cannot read /etc/cni/net.d (no such directory)".into());
        let f = testing::diagnose(&d, &checks, &hosts);
        assert_eq!(f[0].evidence[0], "node-1: /etc/cni/net.d does not exist");
    }

    #[test]
    fn permission_denied_is_not_a_missing_config() {
        let (d, checks, mut hosts) = testing::healthy(2);
        let c = hosts[1].cni.as_mut().unwrap();
        c.files.clear();
        c.selected = None;
        c.conf_dir_error =
            Some("not available: cannot read /etc/cni/net.d (permission denied: …)".into());
        assert!(testing::diagnose(&d, &checks, &hosts).is_empty());
    }
}
