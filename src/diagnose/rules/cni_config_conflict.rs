//! `cni-config-conflict`: several valid CNI configs on a node, and the one
//! the runtime uses (libcni: the lexically first valid file) is not the one
//! the rest of the cluster uses: a leftover from a previous CNI, or a second
//! CNI installed on top. New pods on that node join the wrong network.

use super::host::{self, claim, diagnosis, forwarded_by};
use crate::diagnose::{Diagnosis, Evidence, Rule};
use crate::model::host::CniFile;
use crate::model::{FindingId, Severity};
use std::collections::{BTreeMap, BTreeSet};

pub struct CniConfigConflict;

/// What makes two configs "the same network": the name and the plugin chain.
fn identity(f: &CniFile) -> String {
    f.describe()
}

impl Rule for CniConfigConflict {
    fn rank(&self) -> u16 {
        11
    }
    fn evaluate(&self, ev: &Evidence<'_>, explained: &BTreeSet<usize>) -> Vec<Diagnosis> {
        let selected: Vec<(&str, &CniFile)> = host::hosts(ev)
            .filter_map(|h| Some((h.node.as_str(), h.cni.as_ref()?.selected_file()?)))
            .collect();
        let cluster_cni = ev.deployment.cluster.cni.to_lowercase();
        let mut out = Vec::new();
        for h in host::hosts(ev) {
            let Some(c) = h.cni.as_ref() else { continue };
            let valid: Vec<&CniFile> = c.files.iter().filter(|f| f.is_valid()).collect();
            let Some(sel) = c.selected_file() else {
                continue;
            };
            if valid.len() < 2 {
                continue;
            }
            let n = h.node.as_str();
            // What the other nodes use, by majority.
            let mut votes: BTreeMap<String, (usize, &str)> = BTreeMap::new();
            for (other, f) in selected.iter().filter(|(o, _)| *o != n) {
                let e = votes.entry(identity(f)).or_insert((0, other));
                e.0 += 1;
            }
            let majority = votes.iter().max_by_key(|(_, (count, _))| *count);
            let expected: Option<(String, String)> = match majority {
                Some((id, (count, _))) => {
                    Some((id.clone(), format!("{count} other node(s) use {id}")))
                }
                None if !cluster_cni.is_empty() && cluster_cni != "unknown" => valid
                    .iter()
                    .find(|f| {
                        f.types()
                            .iter()
                            .any(|t| t.to_lowercase().contains(&cluster_cni))
                    })
                    .map(|f| (identity(f), format!("the cluster's CNI is {cluster_cni}"))),
                None => None,
            };
            let Some((want, why)) = expected else {
                continue;
            };
            if identity(sel) == want {
                continue;
            }
            let mut evidence = vec![
                format!(
                    "{n}: the runtime uses {} ({}): the lexically first valid file in {}",
                    sel.file,
                    identity(sel),
                    c.conf_dir
                ),
                why,
                format!("{n}: valid configs, in the order libcni reads them:"),
            ];
            evidence.extend(
                valid
                    .iter()
                    .map(|f| format!("  {}: {}", f.file, identity(f))),
            );
            let stale: Vec<&str> = valid
                .iter()
                .take_while(|f| identity(f) != want)
                .map(|f| f.file.as_str())
                .collect();
            let explains = claim(ev, explained, |ch| forwarded_by(ch, n));
            out.push(diagnosis(
                ev,
                FindingId::CniConfigConflict,
                Severity::Error,
                format!("{n} gives new pods another CNI than the rest of the cluster ({})", sel.file),
                n,
                evidence,
                explains,
                format!(
                    "On {n}: remove the stale config(s) {} from {} (libcni always takes the lexically first valid file), \
                     then recreate the pods started on {n} since it appeared: \
                     `kubectl delete pod -A --field-selector spec.nodeName={n}` (they come back on the right network)",
                    stale.iter().map(|s| format!("{}/{s}", c.conf_dir)).collect::<Vec<_>>().join(" "),
                    c.conf_dir
                ),
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use crate::diagnose::rules::host::testing;
    use crate::diagnose::sim;
    use crate::inspect::cni;
    use crate::model::FindingId;

    fn calico() -> String {
        std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/cni/10-calico.conflist"
        ))
        .unwrap()
    }

    fn add_file(h: &mut crate::model::host::HostReport, name: &str, text: &str) {
        let c = h.cni.as_mut().unwrap();
        let files = c
            .files
            .iter()
            .map(|f| (f.file.clone(), Ok(serde_json::json!({"name": f.name, "cniVersion": f.cni_version, "plugins": f.plugins.iter().map(|p| serde_json::json!({"type": p.plugin_type, "bridge": p.bridge, "ipam": p.ipam.as_ref().map(|i| serde_json::json!({"type": i.ipam_type, "subnet": i.subnets.first()}))})).collect::<Vec<_>>()}).to_string())))
            .chain([(name.to_string(), Ok(text.to_string()))])
            .collect();
        *c = cni::analyse(&c.conf_dir, &c.bin_dir, files, Ok(c.binaries.clone()));
    }

    #[test]
    fn an_earlier_config_of_another_cni_is_a_conflict() {
        let (d, checks, mut hosts) = testing::healthy(3);
        add_file(&mut hosts[2], "05-calico.conflist", &calico());
        assert_eq!(
            hosts[2].cni.as_ref().unwrap().selected.as_deref(),
            Some("05-calico.conflist")
        );
        let f = testing::diagnose(&d, &checks, &hosts);
        let ids = sim::ids(&f);
        assert!(ids.contains(&FindingId::CniConfigConflict), "{f:#?}");
        let c = f
            .iter()
            .find(|f| f.id == FindingId::CniConfigConflict)
            .unwrap();
        assert_eq!(c.nodes, vec!["node-2"]);
        assert!(
            c.evidence[0]
                .contains("05-calico.conflist (k8s-pod-network (calico, portmap, bandwidth))")
        );
        assert!(
            c.evidence[1].contains("2 other node(s) use cbr0 (bridge, portmap)"),
            "{:?}",
            c.evidence
        );
        assert!(c.remediation.contains("/etc/cni/net.d/05-calico.conflist"));
    }

    #[test]
    fn a_later_extra_config_is_not_a_conflict() {
        let (d, checks, mut hosts) = testing::healthy(2);
        add_file(&mut hosts[1], "99-calico.conflist", &calico());
        let f = testing::diagnose(&d, &checks, &hosts);
        assert!(
            !sim::ids(&f).contains(&FindingId::CniConfigConflict),
            "{f:#?}"
        );
    }

    #[test]
    fn single_node_uses_the_clusters_cni_name() {
        let (mut d, checks, mut hosts) = testing::healthy(1);
        d.cluster.cni = "bridge".into();
        add_file(&mut hosts[0], "05-calico.conflist", &calico());
        let f = testing::diagnose(&d, &checks, &hosts);
        let c = f
            .iter()
            .find(|f| f.id == FindingId::CniConfigConflict)
            .expect("conflict");
        assert!(c.evidence[1].contains("the cluster's CNI is bridge"));
    }
}
