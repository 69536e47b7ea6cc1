//! The permissions a run needs, asked of the API server with
//! SelfSubjectAccessReview before anything is created. A denial becomes one
//! line naming the verb, the resource and the fix (docs/rbac.yaml).

use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};

/// One permission: verb on group/resource[/subresource], in a namespace or cluster-wide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permission {
    pub verb: &'static str,
    pub group: &'static str,
    pub resource: &'static str,
    pub subresource: Option<&'static str>,
    /// One object by name (a Role may grant only named objects).
    pub name: Option<&'static str>,
    /// None: cluster-wide (all namespaces, or a cluster-scoped resource).
    pub namespace: Option<String>,
    /// Why the run needs it (said when it is missing).
    pub why: &'static str,
}

impl Permission {
    fn new(
        verb: &'static str,
        group: &'static str,
        resource: &'static str,
        namespace: Option<&str>,
        why: &'static str,
    ) -> Self {
        Permission {
            verb,
            group,
            resource,
            subresource: None,
            name: None,
            namespace: namespace.map(str::to_string),
            why,
        }
    }

    /// `create pods/exec in namespace netcheck-x` / `list nodes (cluster-wide)`.
    pub fn describe(&self) -> String {
        let mut r = self.resource.to_string();
        if let Some(s) = self.subresource {
            r.push('/');
            r.push_str(s);
        }
        if !self.group.is_empty() {
            r.push('.');
            r.push_str(self.group);
        }
        if let Some(n) = self.name {
            r.push_str(&format!(" \"{n}\""));
        }
        match &self.namespace {
            Some(ns) => format!("{} {r} in namespace {ns}", self.verb),
            None => format!("{} {r} (cluster-wide)", self.verb),
        }
    }

    pub fn review(&self) -> SelfSubjectAccessReview {
        SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    verb: Some(self.verb.into()),
                    group: Some(self.group.into()),
                    resource: Some(self.resource.into()),
                    subresource: self.subresource.map(str::to_string),
                    name: self.name.map(str::to_string),
                    namespace: self.namespace.clone(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ..Default::default()
        }
    }
}

/// Every permission a run needs. `probe_ns` is where the probes go;
/// `create_namespace` when the run makes (and deletes) it.
pub fn required(probe_ns: &str, create_namespace: bool) -> Vec<Permission> {
    let ns = Some(probe_ns);
    let mut v = Vec::new();
    if create_namespace {
        v.push(Permission::new(
            "create",
            "",
            "namespaces",
            None,
            "to create the probe namespace",
        ));
        v.push(Permission::new(
            "delete",
            "",
            "namespaces",
            None,
            "to delete the probe namespace at the end",
        ));
    }
    v.extend([
        Permission::new(
            "list",
            "",
            "namespaces",
            None,
            "to read namespace labels for NetworkPolicy and PSA",
        ),
        Permission::new("list", "", "nodes", None, "to find the nodes to probe"),
        Permission::new("create", "", "pods", ns, "to start the probe pods"),
        Permission::new("get", "", "pods", ns, "to wait for the probe pods"),
        Permission::new("list", "", "pods", ns, "to wait for the probe pods"),
        Permission::new("delete", "", "pods", ns, "to remove the probe pods"),
        Permission {
            subresource: Some("exec"),
            ..Permission::new(
                "create",
                "",
                "pods",
                ns,
                "to run probe plans in the probe pods",
            )
        },
        Permission::new("create", "", "services", ns, "to give each probe a Service"),
        Permission::new("delete", "", "services", ns, "to remove the probe Services"),
        Permission::new(
            "list",
            "",
            "services",
            None,
            "to find cluster DNS and kubernetes.default",
        ),
        Permission::new(
            "list",
            "",
            "events",
            ns,
            "to say why a probe pod did not start",
        ),
        Permission::new(
            "list",
            "",
            "pods",
            None,
            "to check CNI, kube-proxy and DNS pods",
        ),
        Permission::new(
            "list",
            "apps",
            "daemonsets",
            None,
            "to detect the CNI and kube-proxy",
        ),
        Permission {
            name: Some("kube-proxy"),
            ..Permission::new(
                "get",
                "",
                "configmaps",
                Some("kube-system"),
                "to read the kube-proxy mode",
            )
        },
        Permission {
            name: Some("coredns"),
            ..Permission::new(
                "get",
                "",
                "configmaps",
                Some("kube-system"),
                "to read the cluster domain",
            )
        },
        Permission::new(
            "list",
            "discovery.k8s.io",
            "endpointslices",
            None,
            "to check Service endpoints",
        ),
        Permission::new(
            "list",
            "networking.k8s.io",
            "networkpolicies",
            None,
            "to judge each probe against NetworkPolicy",
        ),
    ]);
    v
}

/// The one line a user reads when permissions are missing.
pub fn denial_message(denied: &[(Permission, Option<String>)]) -> String {
    let what: Vec<String> = denied
        .iter()
        .map(
            |(p, reason)| match reason.as_deref().filter(|r| !r.is_empty()) {
                Some(r) => format!("{} ({}; {r})", p.describe(), p.why),
                None => format!("{} ({})", p.describe(), p.why),
            },
        )
        .collect();
    format!(
        "permission denied: this identity may not {}. Nothing was created. Grant the netcheck \
         ClusterRole: `kubectl apply -f docs/rbac.yaml` (edit the subject to your user or \
         service account), or run with a kubeconfig that has it.",
        what.join("; nor ")
    )
}

/// Whether a review answer allows the action.
pub fn allowed(r: &SelfSubjectAccessReview) -> (bool, Option<String>) {
    match &r.status {
        Some(s) => (s.allowed && !s.denied.unwrap_or(false), s.reason.clone()),
        None => (
            false,
            Some("the API server returned no review status".into()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_run_asks_for_exec_and_namespace_rights() {
        let all = required("netcheck-abc", true);
        let d: Vec<String> = all.iter().map(Permission::describe).collect();
        assert!(
            d.contains(&"create pods/exec in namespace netcheck-abc".to_string()),
            "{d:?}"
        );
        assert!(d.contains(&"create namespaces (cluster-wide)".to_string()));
        assert!(d.contains(&"list daemonsets.apps (cluster-wide)".to_string()));
        assert!(
            d.contains(&"get configmaps \"kube-proxy\" in namespace kube-system".to_string()),
            "{d:?}"
        );
        assert!(d.contains(&"list endpointslices.discovery.k8s.io (cluster-wide)".to_string()));
        let without = required("mine", false);
        assert!(
            !without
                .iter()
                .any(|p| p.resource == "namespaces" && p.verb == "create")
        );
    }

    #[test]
    fn review_carries_the_attributes() {
        let p = &required("ns1", true)
            .into_iter()
            .find(|p| p.subresource == Some("exec"))
            .unwrap();
        let r = p.review();
        let a = r.spec.resource_attributes.unwrap();
        assert_eq!(a.verb.as_deref(), Some("create"));
        assert_eq!(a.resource.as_deref(), Some("pods"));
        assert_eq!(a.subresource.as_deref(), Some("exec"));
        assert_eq!(a.namespace.as_deref(), Some("ns1"));
    }

    #[test]
    fn the_captured_denial_reads_as_denied() {
        let text =
            std::fs::read_to_string(crate::kube::fixtures::path("ssar-denied.json")).unwrap();
        let r: SelfSubjectAccessReview = serde_json::from_str(&text).unwrap();
        assert_eq!(allowed(&r), (false, None));
        let p = required("default", false)
            .into_iter()
            .find(|p| p.subresource == Some("exec"))
            .unwrap();
        let msg = denial_message(&[(p, None)]);
        assert!(msg.starts_with(
            "permission denied: this identity may not create pods/exec in namespace default"
        ));
        assert!(msg.contains("kubectl apply -f docs/rbac.yaml"));
        assert!(!msg.contains('\n'));
    }
}
