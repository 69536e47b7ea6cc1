//! Discovery's API calls: the version, namespaces, preflight (permissions and
//! Pod Security), then every object discovery reads, into one
//! [`ClusterObjects`] that `discover::deployment_from` turns into the
//! deployment skeleton.

use super::discover::{self, ClusterObjects, NodeFilter};
use super::manifests::PsaLevel;
use super::preflight;
use super::runtime::KubeRuntime;
use crate::model::report::PolicyKind;
use crate::policy::kinds::{KNOWN, KnownKind};
use crate::runtime::{Progress, Result, RuntimeError};
use ::kube::api::{Api, ApiResource, DynamicObject, ListParams, PostParams};
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::authorization::v1::SelfSubjectAccessReview;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::NetworkPolicy;

impl KubeRuntime {
    /// Every API call of discovery, preflight included (before anything
    /// else is read past the namespaces).
    pub(super) async fn read_cluster(&self, progress: &dyn Progress) -> Result<ClusterObjects> {
        let version = self
            .call(
                "reading the server version",
                self.client.apiserver_version(),
            )
            .await?;
        let namespaces = self
            .list(
                Api::<Namespace>::all(self.client.clone()),
                &ListParams::default(),
                "listing namespaces",
            )
            .await?;
        self.preflight(&namespaces, progress).await?;

        progress.message("reading nodes, CNI, kube-proxy and DNS");
        let node_lp = match NodeFilter::parse(self.opts.nodes.as_deref()) {
            NodeFilter::Selector(s) => ListParams::default().labels(&s),
            _ => ListParams::default(),
        };
        let all = ListParams::default();
        let slice_lp =
            ListParams::default().labels("kubernetes.io/service-name in (kube-dns,kubernetes)");
        let c = &self.client;
        let (nodes, daemonsets, ks_pods, ks_services, default_services, slices, policies) = tokio::try_join!(
            self.list(Api::<Node>::all(c.clone()), &node_lp, "listing nodes"),
            self.list(Api::<DaemonSet>::all(c.clone()), &all, "listing DaemonSets"),
            self.list(
                Api::<Pod>::namespaced(c.clone(), "kube-system"),
                &all,
                "listing kube-system pods"
            ),
            self.list(
                Api::<Service>::namespaced(c.clone(), "kube-system"),
                &all,
                "listing kube-system Services"
            ),
            self.list(
                Api::<Service>::namespaced(c.clone(), "default"),
                &all,
                "listing default Services"
            ),
            self.list(
                Api::<EndpointSlice>::all(c.clone()),
                &slice_lp,
                "listing EndpointSlices"
            ),
            self.list(
                Api::<NetworkPolicy>::all(c.clone()),
                &all,
                "listing NetworkPolicies"
            ),
        )?;
        // The CNI agent's pods, in its own namespace when that is not kube-system.
        let cni_pods = match discover::cni_namespace(&daemonsets, &ks_pods) {
            Some(ns) => Some(
                self.list(
                    Api::<Pod>::namespaced(c.clone(), &ns),
                    &all,
                    "listing CNI pods",
                )
                .await
                .unwrap_or_default(),
            ),
            None => None,
        };
        let (kube_proxy_config, coredns_config, cilium_config, policy_kinds) = tokio::join!(
            self.optional_configmap("kube-proxy"),
            self.optional_configmap("coredns"),
            self.optional_configmap("cilium-config"),
            self.policy_kinds(),
        );
        Ok(ClusterObjects {
            version: version.git_version,
            namespaces,
            nodes,
            daemonsets,
            kube_system_pods: ks_pods,
            cni_pods,
            kube_system_services: ks_services,
            default_services,
            slices,
            policies,
            kube_proxy_config,
            coredns_config,
            cilium_config,
            policy_kinds,
        })
    }

    /// The policy kinds besides NetworkPolicy the API serves (API
    /// discovery: `/apis`, readable by every authenticated user) and what
    /// their objects are. A kind whose objects may not be listed is kept
    /// with the reason, never an error of the run.
    async fn policy_kinds(&self) -> Vec<PolicyKind> {
        let groups = match self
            .call("reading the API groups", self.client.list_api_groups())
            .await
        {
            Ok(g) => g.groups,
            Err(e) => {
                tracing::warn!("policy kinds besides NetworkPolicy not looked for: {e}");
                return Vec::new();
            }
        };
        let served: Vec<&KnownKind> = KNOWN
            .iter()
            .filter(|k| {
                groups
                    .iter()
                    .any(|g| g.name == k.group && g.versions.iter().any(|v| v.version == k.version))
            })
            .collect();
        futures::future::join_all(served.into_iter().map(|k| self.list_kind(k)))
            .await
            .into_iter()
            .flatten()
            .collect()
    }

    /// One policy kind's objects (None: the group does not serve it).
    async fn list_kind(&self, k: &KnownKind) -> Option<PolicyKind> {
        let ar = ApiResource {
            group: k.group.into(),
            version: k.version.into(),
            api_version: k.api_version(),
            kind: k.kind.into(),
            plural: k.resource.into(),
        };
        let api: Api<DynamicObject> = Api::all_with(self.client.clone(), &ar);
        let bound = super::client::call_bound(self.opts.timeout);
        let what = format!("{}.{}", k.resource, k.group);
        match tokio::time::timeout(bound, api.list(&ListParams::default())).await {
            Ok(Ok(l)) => {
                let ns: Vec<Option<String>> = l
                    .items
                    .iter()
                    .map(|o| o.metadata.namespace.clone())
                    .collect();
                Some(k.found(&ns))
            }
            Ok(Err(::kube::Error::Api(s))) if s.code == 404 => None,
            Ok(Err(::kube::Error::Api(s))) if s.code == 403 => {
                let why = format!(
                    "forbidden: may not list {what} (docs/rbac.yaml grants it): {}",
                    s.message
                );
                tracing::warn!("{why}");
                Some(k.unlisted(&why))
            }
            Ok(Err(e)) => Some(k.unlisted(&format!("listing {what} failed: {e}"))),
            Err(_) => Some(k.unlisted(&format!(
                "listing {what}: no answer within {}",
                humantime::format_duration(bound)
            ))),
        }
    }

    async fn preflight(&self, namespaces: &[Namespace], progress: &dyn Progress) -> Result<()> {
        let run = self.run_spec();
        let create_ns = self.opts.namespace.is_none();
        if let Some(ns) = &self.opts.namespace {
            let found = namespaces
                .iter()
                .find(|n| n.metadata.name.as_deref() == Some(ns.as_str()));
            let Some(found) = found else {
                return Err(RuntimeError::Other(format!(
                    "namespace {ns} does not exist; create it or leave out -n to let netcheck make its own"
                )));
            };
            let level = PsaLevel::of(found.metadata.labels.as_ref());
            if level != PsaLevel::Privileged {
                let why = format!(
                    "namespace {ns} enforces Pod Security \"{}\", which rejects privileged host-network pods: running without host inspection (leave out -n to use a namespace of netcheck's own)",
                    level.as_str()
                );
                progress.message(&why);
                tracing::warn!("{why}");
                self.state().host_off = Some(why);
            }
            self.state().psa = Some(level);
            if let Ok(mut r) = self.run.lock() {
                r.psa = level;
            }
        }
        if self.opts.no_host {
            self.state().host_off = Some("host inspection is off (--no-host)".into());
        }
        progress.message("checking permissions");
        let perms = preflight::required(&run.namespace, create_ns);
        let api: Api<SelfSubjectAccessReview> = Api::all(self.client.clone());
        let answers = futures::future::join_all(perms.iter().map(|p| {
            let api = api.clone();
            async move {
                self.call(
                    "asking for permissions",
                    api.create(&PostParams::default(), &p.review()),
                )
                .await
            }
        }))
        .await;
        let mut denied = Vec::new();
        for (p, a) in perms.into_iter().zip(answers) {
            match a {
                Ok(r) => {
                    let (ok, reason) = preflight::allowed(&r);
                    if !ok {
                        denied.push((p, reason));
                    }
                }
                // An API server that cannot answer reviews: the calls themselves will tell.
                Err(RuntimeError::Unreachable(m)) => return Err(RuntimeError::Unreachable(m)),
                Err(e) => {
                    tracing::debug!("SelfSubjectAccessReview for {} failed: {e}", p.describe())
                }
            }
        }
        if !denied.is_empty() {
            return Err(RuntimeError::NotPermitted(preflight::denial_message(
                &denied,
            )));
        }
        Ok(())
    }

    async fn optional_configmap(&self, name: &str) -> Option<ConfigMap> {
        let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), "kube-system");
        match self
            .call(
                &format!("reading ConfigMap kube-system/{name}"),
                api.get_opt(name),
            )
            .await
        {
            Ok(cm) => cm,
            Err(e) => {
                tracing::debug!("{e}");
                None
            }
        }
    }
}
