//! What a runtime discovered and deployed: the nodes, one probe pod per node
//! (more in the lab), their Services, the host-network agents, cluster DNS.
//! The planner turns this into probe plans; nothing here knows the runtime.

use super::report::{ClusterSummary, ServiceRef};
use ipnet::IpNet;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeInfo {
    pub name: String,
    pub ready: bool,
    /// InternalIP addresses (one per family).
    pub internal_ips: Vec<IpAddr>,
    pub pod_cidrs: Vec<IpNet>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub taints: Vec<String>,
    /// Why the node is not ready or was left out, when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The ports the agent serves in every probe pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServePorts {
    pub tcp: u16,
    pub udp: u16,
    pub http: u16,
}

impl Default for ServePorts {
    fn default() -> Self {
        ServePorts {
            tcp: 7000,
            udp: 7001,
            http: 8080,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceTarget {
    pub name: String,
    pub namespace: String,
    /// ClusterIPs, one per family.
    pub cluster_ips: Vec<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_port: Option<u16>,
}

impl ServiceTarget {
    /// `name.namespace.svc.<domain>`.
    pub fn fqdn(&self, cluster_domain: &str) -> String {
        format!("{}.{}.svc.{}", self.name, self.namespace, cluster_domain)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiServer {
    pub service: ServiceTarget,
    pub port: u16,
    /// The node serving the API endpoint, when it is one of the cluster's nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

/// A probe pod: runs `agent serve`, is a probe source and a probe target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbePod {
    pub name: String,
    pub namespace: String,
    pub node: String,
    /// Pod IPs, one per family.
    pub ips: Vec<IpAddr>,
    pub ports: ServePorts,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The Service that selects only this pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceTarget>,
}

/// A host-network agent on a node: source of node→pod checks, target of pod→node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostAgent {
    pub node: String,
    pub ips: Vec<IpAddr>,
    /// Where the agent serves TCP on the host network, when it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp_port: Option<u16>,
}

/// A name the DNS checks resolve and what it must resolve to (empty: any answer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DnsName {
    pub name: String,
    #[serde(default)]
    pub expect: Vec<IpAddr>,
    /// The name is short and must go through the resolv.conf search path.
    #[serde(default)]
    pub via_search: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DnsTarget {
    pub service: ServiceRef,
    /// On dual stack, every ClusterIP of the DNS Service, one per family
    /// (`service.ip`, the one the pods' resolv.conf names, among them): the
    /// DNS checks of the other family ask its ClusterIP of that family.
    /// Empty when the Service has only `service.ip`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_ips: Vec<IpAddr>,
    /// The DNS server pods (node, pod, ip), probed directly.
    pub servers: Vec<super::report::Endpoint>,
    pub cluster_domain: String,
    /// Names to resolve (a Service FQDN, `kubernetes.default`, a short name, …).
    pub names: Vec<DnsName>,
}

/// Where a probe plan runs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "type", content = "name")]
pub enum Source {
    /// A probe pod, by name.
    Pod(String),
    /// The host-network agent of a node, by node name.
    Host(String),
}

/// The NetworkPolicy world the probes live in.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyWorld {
    /// Namespace name → its labels.
    pub namespaces: BTreeMap<String, BTreeMap<String, String>>,
    pub policies: Vec<NetworkPolicy>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    pub cluster: ClusterSummary,
    pub nodes: Vec<NodeInfo>,
    pub pods: Vec<ProbePod>,
    pub hosts: Vec<HostAgent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<DnsTarget>,
    /// `kubernetes.default` as seen from pods, and its TCP port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apiserver: Option<ApiServer>,
    #[serde(default)]
    pub policy: PolicyWorld,
    /// Findings discovery already made (control plane: node not ready, DNS pods, …).
    #[serde(default)]
    pub findings: Vec<super::finding::Finding>,
}
