//! Policy kinds besides NetworkPolicy: CNIs' own (Cilium, Calico) and the
//! cluster admin's (AdminNetworkPolicy, BaselineAdminNetworkPolicy).
//! netcheck does not evaluate them; where one could decide a check, the
//! check is `not-judged` rather than given a verdict NetworkPolicy alone
//! would make (a wrong `unexpected-block` under a CiliumNetworkPolicy that
//! denies it, a wrong `unexpected-allow` under a Calico policy that allows
//! what a NetworkPolicy denies).
//!
//! Discovery (`kube::read`) asks the API which of [`KNOWN`] it serves and
//! lists their objects; `judge` marks the checks they could decide. A
//! failure NetworkPolicy denies stays `expected-block` (the other kinds
//! could only add to the deny, or allow it: then the failure is the
//! network's, and the data-plane rules still see a failure either way).

use crate::model::report::PolicyKind;

/// A policy kind discovery looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownKind {
    pub group: &'static str,
    pub version: &'static str,
    /// The resource (plural) as the API serves it.
    pub resource: &'static str,
    pub kind: &'static str,
    pub cluster_wide: bool,
}

const fn known(
    group: &'static str,
    version: &'static str,
    resource: &'static str,
    kind: &'static str,
    cluster_wide: bool,
) -> KnownKind {
    KnownKind {
        group,
        version,
        resource,
        kind,
        cluster_wide,
    }
}

/// Every kind netcheck knows of and does not evaluate. Calico serves its
/// policies twice when its API server is installed: `projectcalico.org/v3`
/// (the API server) over `crd.projectcalico.org/v1` (the CRDs it stores
/// them in); both are listed, whichever the cluster has.
pub const KNOWN: &[KnownKind] = &[
    known(
        "cilium.io",
        "v2",
        "ciliumnetworkpolicies",
        "CiliumNetworkPolicy",
        false,
    ),
    known(
        "cilium.io",
        "v2",
        "ciliumclusterwidenetworkpolicies",
        "CiliumClusterwideNetworkPolicy",
        true,
    ),
    known(
        "projectcalico.org",
        "v3",
        "networkpolicies",
        "NetworkPolicy",
        false,
    ),
    known(
        "projectcalico.org",
        "v3",
        "globalnetworkpolicies",
        "GlobalNetworkPolicy",
        true,
    ),
    known(
        "crd.projectcalico.org",
        "v1",
        "networkpolicies",
        "NetworkPolicy",
        false,
    ),
    known(
        "crd.projectcalico.org",
        "v1",
        "globalnetworkpolicies",
        "GlobalNetworkPolicy",
        true,
    ),
    known(
        "policy.networking.k8s.io",
        "v1alpha1",
        "adminnetworkpolicies",
        "AdminNetworkPolicy",
        true,
    ),
    known(
        "policy.networking.k8s.io",
        "v1alpha1",
        "baselineadminnetworkpolicies",
        "BaselineAdminNetworkPolicy",
        true,
    ),
];

impl KnownKind {
    pub fn api_version(&self) -> String {
        format!("{}/{}", self.group, self.version)
    }

    /// What discovery found of this kind: the namespaces of its objects
    /// (empty names for cluster-scoped ones).
    pub fn found(&self, namespaces: &[Option<String>]) -> PolicyKind {
        let mut ns: Vec<String> = namespaces.iter().flatten().cloned().collect();
        ns.sort();
        ns.dedup();
        PolicyKind {
            kind: self.kind.to_string(),
            api_version: self.api_version(),
            cluster_wide: self.cluster_wide,
            count: Some(namespaces.len()),
            namespaces: if self.cluster_wide { Vec::new() } else { ns },
            error: None,
        }
    }

    /// The kind is served but its objects could not be listed.
    pub fn unlisted(&self, why: &str) -> PolicyKind {
        PolicyKind {
            kind: self.kind.to_string(),
            api_version: self.api_version(),
            cluster_wide: self.cluster_wide,
            count: None,
            namespaces: Vec::new(),
            error: Some(why.to_string()),
        }
    }
}

/// The kinds (as `Kind (group/version)`) whose objects could decide
/// traffic to or from pods in `namespaces`.
pub fn governing(kinds: &[PolicyKind], namespaces: &[&str]) -> Vec<String> {
    kinds
        .iter()
        .filter(|k| namespaces.iter().any(|n| k.governs(n)))
        .map(PolicyKind::label)
        .collect()
}
