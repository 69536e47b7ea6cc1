use super::*;
use crate::kube::fixtures::{items, items_of_kind};
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{ConfigMap, Container, Node, NodeCondition, Pod, Service, Taint};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use std::collections::BTreeMap;

fn nodes() -> Vec<Node> {
    items("nodes.json")
}
fn services() -> Vec<Service> {
    items("services.json")
}
fn slices() -> Vec<EndpointSlice> {
    items("endpointslices.json")
}
fn ks_pods() -> Vec<Pod> {
    items("kube-system-pods.json")
}
fn svc(name: &str) -> Service {
    services()
        .into_iter()
        .find(|s| s.metadata.name.as_deref() == Some(name))
        .expect("service in fixture")
}

fn set_ready(n: &mut Node, status: &str) {
    let conds = n.status.as_mut().unwrap().conditions.as_mut().unwrap();
    let c: &mut NodeCondition = conds.iter_mut().find(|c| c.type_ == "Ready").unwrap();
    c.status = status.into();
    c.reason = Some("KubeletNotReady".into());
    c.message = Some("container runtime network not ready: NetworkReady=false".into());
}

#[test]
fn nodes_from_the_real_cluster() {
    let infos: Vec<NodeInfo> = nodes().iter().map(node_info).collect();
    assert_eq!(infos.len(), 2);
    assert_eq!(infos[0].name, "node1");
    assert!(infos[0].ready);
    assert_eq!(
        infos[0].internal_ips,
        vec!["198.18.255.11".parse::<IpAddr>().unwrap()]
    );
    assert_eq!(infos[0].pod_cidrs, vec!["198.18.0.0/24".parse().unwrap()]);
    assert_eq!(infos[1].pod_cidrs, vec!["198.18.1.0/24".parse().unwrap()]);
    assert!(infos[1].taints.is_empty());
    assert!(node_not_ready_findings(&infos).is_empty());
}

#[test]
fn a_not_ready_node_is_a_finding_with_its_condition() {
    let mut ns = nodes();
    set_ready(&mut ns[1], "False");
    ns[1].spec.as_mut().unwrap().taints = Some(vec![Taint {
        key: "node.kubernetes.io/not-ready".into(),
        effect: "NoSchedule".into(),
        ..Default::default()
    }]);
    let infos: Vec<NodeInfo> = ns.iter().map(node_info).collect();
    assert!(!infos[1].ready);
    assert_eq!(
        infos[1].taints,
        vec!["node.kubernetes.io/not-ready:NoSchedule"]
    );
    let f = node_not_ready_findings(&infos);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].id, FindingId::NodeNotReady);
    assert_eq!(f[0].nodes, vec!["node2"]);
    assert!(
        f[0].evidence[0]
            .contains("Ready=False (KubeletNotReady: container runtime network not ready")
    );
    assert!(f[0].remediation.contains("kubectl describe node node2"));
}

#[test]
fn node_filter_parses_selectors_and_names() {
    assert_eq!(NodeFilter::parse(None), NodeFilter::All);
    assert_eq!(NodeFilter::parse(Some(" ")), NodeFilter::All);
    assert_eq!(
        NodeFilter::parse(Some("role=worker")),
        NodeFilter::Selector("role=worker".into())
    );
    assert_eq!(
        NodeFilter::parse(Some("a, b,c")),
        NodeFilter::Names(vec!["a".into(), "b".into(), "c".into()])
    );
}

#[test]
fn the_fixture_cluster_has_no_cni_daemonset_and_says_unknown() {
    let ds: Vec<DaemonSet> = items_of_kind("workloads.json", "DaemonSet");
    let cni = detect_cni(&ds, &ks_pods());
    assert_eq!(cni.name, "unknown");
    assert!(cni.daemonset.is_none());
}

fn daemonset(ns: &str, name: &str, image: &str, labels: &[(&str, &str)]) -> DaemonSet {
    let labels: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut ds = DaemonSet::default();
    ds.metadata.name = Some(name.into());
    ds.metadata.namespace = Some(ns.into());
    let spec = &mut ds.spec;
    spec.selector.match_labels = Some(labels.clone());
    spec.template.metadata = Some(Default::default());
    spec.template.spec = Some(k8s_openapi::api::core::v1::PodSpec {
        containers: vec![Container {
            name: "c".into(),
            image: Some(image.into()),
            ..Default::default()
        }],
        ..Default::default()
    });
    ds
}

/// A copy of the fixture's CoreDNS pod, renamed onto another node with labels.
fn pod_like(name: &str, ns: &str, node: &str, labels: &[(&str, &str)], ready: bool) -> Pod {
    let mut p = ks_pods().remove(0);
    p.metadata.name = Some(name.into());
    p.metadata.namespace = Some(ns.into());
    p.metadata.labels = Some(
        labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    );
    p.spec.as_mut().unwrap().node_name = Some(node.into());
    if !ready {
        let st = p.status.as_mut().unwrap();
        for c in st.conditions.as_mut().unwrap() {
            if c.type_ == "Ready" || c.type_ == "ContainersReady" {
                c.status = "False".into();
            }
        }
        let cs = &mut st.container_statuses.as_mut().unwrap()[0];
        cs.ready = false;
        cs.restart_count = 7;
        cs.state = Some(k8s_openapi::api::core::v1::ContainerState {
            waiting: Some(k8s_openapi::api::core::v1::ContainerStateWaiting {
                reason: Some("CrashLoopBackOff".into()),
                message: Some("back-off 5m0s restarting failed container".into()),
            }),
            ..Default::default()
        });
    }
    p
}

#[test]
fn recognises_each_cni_by_its_daemonset() {
    let cases = [
        (
            "kube-system",
            "calico-node",
            "docker.io/calico/node:v3.28.0",
            "calico",
        ),
        (
            "kube-system",
            "cilium",
            "quay.io/cilium/cilium:v1.16.0",
            "cilium",
        ),
        (
            "kube-flannel",
            "kube-flannel-ds",
            "docker.io/flannel/flannel:v0.25",
            "flannel",
        ),
        (
            "kube-system",
            "weave-net",
            "weaveworks/weave-kube:2.8.1",
            "weave",
        ),
        (
            "kube-system",
            "kindnet",
            "docker.io/kindest/kindnetd:v20240813",
            "kindnet",
        ),
        (
            "kube-system",
            "antrea-agent",
            "antrea/antrea-agent-ubuntu:v2.1",
            "antrea",
        ),
        (
            "kube-system",
            "kube-router",
            "cloudnativelabs/kube-router",
            "kube-router",
        ),
        (
            "ovn-kubernetes",
            "ovnkube-node",
            "ghcr.io/ovn-org/ovn-kubernetes/ovn-kube-ubuntu",
            "ovn-kubernetes",
        ),
        ("kube-system", "canal", "calico/node:v3.28", "canal"),
        (
            "kube-system",
            "aws-node",
            "602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon-k8s-cni:v1.18",
            "aws-vpc-cni",
        ),
        (
            "kube-system",
            "azure-cns",
            "mcr.microsoft.com/containernetworking/azure-cns:v1.6",
            "azure-cni",
        ),
        ("kube-system", "netd", "gke.gcr.io/netd-amd64:v0.4", "gke"),
    ];
    for (ns, name, image, want) in cases {
        let mut all = vec![daemonset(
            "kube-system",
            "kube-proxy",
            "registry.k8s.io/kube-proxy:v1.36.2",
            &[],
        )];
        all.push(daemonset(ns, name, image, &[("app", name)]));
        let got = detect_cni(&all, &[]);
        assert_eq!(got.name, want, "{name}");
        assert_eq!(
            got.daemonset.as_deref(),
            Some(format!("{ns}/{name}").as_str())
        );
    }
}

#[test]
fn a_cni_agent_that_is_not_ready_on_a_node_is_a_finding_for_that_node() {
    let infos: Vec<NodeInfo> = nodes().iter().map(node_info).collect();
    let ds = daemonset(
        "kube-system",
        "calico-node",
        "calico/node:v3",
        &[("k8s-app", "calico-node")],
    );
    let cni = detect_cni(std::slice::from_ref(&ds), &[]);
    let pods = vec![
        pod_like(
            "calico-node-aaaaa",
            "kube-system",
            "node1",
            &[("k8s-app", "calico-node")],
            true,
        ),
        pod_like(
            "calico-node-bbbbb",
            "kube-system",
            "node2",
            &[("k8s-app", "calico-node")],
            false,
        ),
    ];
    let f = cni_agent_findings(&cni, Some(&ds), &pods, &infos);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].id, FindingId::CniAgentNotReady);
    assert_eq!(f[0].nodes, vec!["node2"]);
    assert!(f[0].evidence[0].contains("calico-node-bbbbb on node2"));
    assert!(f[0].evidence[0].contains("CrashLoopBackOff"));
    assert!(
        f[0].remediation
            .contains("kubectl -n kube-system logs calico-node-bbbbb")
    );

    // Node 2 without any agent pod at all.
    let f = cni_agent_findings(&cni, Some(&ds), &pods[..1], &infos);
    assert_eq!(f.len(), 1);
    assert!(
        f[0].title
            .contains("No calico agent pod runs on node node2")
    );

    // All ready: nothing.
    let ok = vec![
        pod_like(
            "calico-node-aaaaa",
            "kube-system",
            "node1",
            &[("k8s-app", "calico-node")],
            true,
        ),
        pod_like(
            "calico-node-ccccc",
            "kube-system",
            "node2",
            &[("k8s-app", "calico-node")],
            true,
        ),
    ];
    assert!(cni_agent_findings(&cni, Some(&ds), &ok, &infos).is_empty());
}

fn cm(name: &str, key: &str, value: &str) -> ConfigMap {
    let mut c = ConfigMap::default();
    c.metadata.name = Some(name.into());
    c.data = Some([(key.to_string(), value.to_string())].into());
    c
}

#[test]
fn kube_proxy_mode_from_configmap_args_and_cni() {
    let unknown = CniDetection::unknown();
    let ds = daemonset(
        "kube-system",
        "kube-proxy",
        "registry.k8s.io/kube-proxy:v1.36.2",
        &[("k8s-app", "kube-proxy")],
    );
    // ConfigMap decides; an empty mode is iptables.
    let conf = cm(
        "kube-proxy",
        "config.conf",
        "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: ipvs\n",
    );
    assert_eq!(
        detect_kube_proxy(Some(&ds), Some(&conf), &unknown, None).mode,
        "ipvs"
    );
    let empty = cm(
        "kube-proxy",
        "config.conf",
        "kind: KubeProxyConfiguration\nmode: \"\"\n",
    );
    assert_eq!(
        detect_kube_proxy(Some(&ds), Some(&empty), &unknown, None).mode,
        "iptables"
    );
    assert_eq!(
        detect_kube_proxy(Some(&ds), None, &unknown, None).mode,
        "iptables"
    );
    // Flags win over the ConfigMap.
    let mut flagged = ds.clone();
    flagged.spec.template.spec.as_mut().unwrap().containers[0].command = Some(vec![
        "/usr/local/bin/kube-proxy".into(),
        "--proxy-mode=nftables".into(),
    ]);
    assert_eq!(
        detect_kube_proxy(Some(&flagged), Some(&conf), &unknown, None).mode,
        "nftables"
    );
    // Cilium replacing kube-proxy.
    let cilium = CniDetection {
        name: "cilium".into(),
        daemonset: None,
        evidence: String::new(),
    };
    let ccm = cm("cilium-config", "kube-proxy-replacement", "true");
    assert_eq!(
        detect_kube_proxy(None, None, &cilium, Some(&ccm)).mode,
        "replaced by cilium"
    );
    assert_eq!(
        detect_kube_proxy(None, None, &cilium, None).mode,
        "replaced by cilium"
    );
    // The fixture cluster: kube-proxy runs on the nodes, not as pods.
    let kp = detect_kube_proxy(None, None, &unknown, None);
    assert_eq!(kp.mode, "unknown");
    assert!(!kp.managed);
}

#[test]
fn kube_proxy_not_ready_on_a_node_is_a_finding() {
    let infos: Vec<NodeInfo> = nodes().iter().map(node_info).collect();
    let ds = daemonset(
        "kube-system",
        "kube-proxy",
        "kube-proxy",
        &[("k8s-app", "kube-proxy")],
    );
    let pods = vec![
        pod_like(
            "kube-proxy-a",
            "kube-system",
            "node1",
            &[("k8s-app", "kube-proxy")],
            true,
        ),
        pod_like(
            "kube-proxy-b",
            "kube-system",
            "node2",
            &[("k8s-app", "kube-proxy")],
            false,
        ),
    ];
    let f = kube_proxy_findings(Some(&ds), &pods, &infos);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].id, FindingId::KubeProxyNotRunning);
    assert_eq!(f[0].nodes, vec!["node2"]);
    assert!(f[0].evidence[0].contains("kube-proxy-b on node2"));
    assert!(kube_proxy_findings(None, &pods, &infos).is_empty());
    assert!(kube_proxy_findings(Some(&ds), &pods[..1], &infos[..1]).is_empty());
}

#[test]
fn dns_target_from_the_real_cluster() {
    let api = apiserver(&svc("kubernetes"));
    assert_eq!(api.port, 443);
    assert_eq!(
        api.service.cluster_ips,
        vec!["198.19.0.1".parse::<IpAddr>().unwrap()]
    );
    let d = dns_target(
        &svc("kube-dns"),
        &slices(),
        &ks_pods(),
        Some(&api),
        "cluster.local",
    )
    .unwrap();
    assert_eq!(d.service.ip, "198.19.0.10".parse::<IpAddr>().unwrap());
    assert_eq!(d.servers.len(), 1);
    assert_eq!(d.servers[0].node.as_deref(), Some("node2"));
    assert_eq!(
        d.servers[0].pod.as_deref(),
        Some("coredns-774cd9b779-cgj2p")
    );
    assert_eq!(d.servers[0].ip, Some("198.18.1.2".parse().unwrap()));
    assert_eq!(d.names[0].name, "kubernetes.default.svc.cluster.local");
    assert_eq!(d.names[0].expect, api.service.cluster_ips);
    assert!(d.names[1].via_search);
    assert_eq!(d.names[2].name, "kube-dns.kube-system.svc.cluster.local");
    let dns_pods: Vec<Pod> = ks_pods()
        .into_iter()
        .filter(|p| p.metadata.name.as_deref().unwrap().starts_with("coredns"))
        .collect();
    assert!(dns_pods_findings(&dns_pods).is_empty());
    assert!(service_no_endpoints(&svc("kube-dns"), &slices(), "cluster DNS").is_none());
    assert!(service_no_endpoints(&svc("kubernetes"), &slices(), "pod to API").is_none());
}

#[test]
fn dns_without_ready_endpoints_and_pods_is_two_findings() {
    let mut sl = slices();
    for s in &mut sl {
        for e in s.endpoints.iter_mut().flatten() {
            e.conditions.get_or_insert_with(Default::default).ready = Some(false);
        }
    }
    let f = service_no_endpoints(&svc("kube-dns"), &sl, "cluster DNS").unwrap();
    assert_eq!(f.id, FindingId::ServiceNoEndpoints);
    assert!(f.title.contains("kube-system/kube-dns"));
    assert!(f.evidence[0].contains("198.19.0.10"));
    assert!(f.evidence[0].contains("k8s-app=kube-dns"));
    assert!(f.evidence[1].contains("1 endpoint(s), none ready"));

    let bad = vec![pod_like(
        "coredns-x",
        "kube-system",
        "node2",
        &[("k8s-app", "kube-dns")],
        false,
    )];
    let f = dns_pods_findings(&bad);
    assert_eq!(f[0].id, FindingId::DnsPodsNotReady);
    assert_eq!(f[0].severity, Severity::Error);
    assert_eq!(f[0].nodes, vec!["node2"]);
    let mixed = vec![
        bad[0].clone(),
        pod_like(
            "coredns-y",
            "kube-system",
            "node1",
            &[("k8s-app", "kube-dns")],
            true,
        ),
    ];
    assert_eq!(dns_pods_findings(&mixed)[0].severity, Severity::Warning);
    assert_eq!(dns_pods_findings(&[])[0].severity, Severity::Error);
}

#[test]
fn cluster_domain_from_a_corefile() {
    let corefile = ".:53 {\n    errors\n    kubernetes cluster.example in-addr.arpa ip6.arpa {\n      pods insecure\n    }\n}\n";
    assert_eq!(
        cluster_domain_from_corefile(corefile).as_deref(),
        Some("cluster.example")
    );
    assert_eq!(
        cluster_domain_from_corefile(".:53 { forward . 8.8.8.8 }"),
        None
    );
}

#[test]
fn failing_pods_explain_themselves() {
    let pods: Vec<Pod> = items("failing-pods.json");
    let line = |n: &str| {
        pod_state_line(
            pods.iter()
                .find(|p| p.metadata.name.as_deref() == Some(n))
                .unwrap(),
        )
    };
    assert!(line("badimage").contains("waiting: ErrImagePull"));
    assert!(line("crashloop").contains("terminated: exit code 3"));
    assert!(line("crashloop").contains("3 restarts"));
    assert!(line("unschedulable").contains("not scheduled: 0/2 nodes are available"));
}

proptest::proptest! {
    #[test]
    fn proxy_mode_roundtrips_and_never_panics(mode in "[a-z]{1,12}", junk in ".{0,200}") {
        // YAML words that are not strings are not modes either.
        proptest::prop_assume!(!matches!(mode.as_str(), "true" | "false" | "null"));
        let conf = format!("kind: KubeProxyConfiguration\nmode: {mode}\nclusterCIDR: 198.18.0.0/17\n");
        proptest::prop_assert_eq!(proxy_mode_from_config(&conf), Some(mode));
        let _ = proxy_mode_from_config(&junk);
        let _ = cluster_domain_from_corefile(&junk);
    }

    #[test]
    fn corefile_domain_is_the_kubernetes_plugin_argument(domain in "[a-z]{1,10}\\.[a-z]{2,6}") {
        let corefile = format!(".:53 {{\n    errors\n    kubernetes {domain}. in-addr.arpa {{\n    }}\n}}\n");
        proptest::prop_assert_eq!(cluster_domain_from_corefile(&corefile), Some(domain));
    }
}

// ---------------------------------------------------------------- deployment_from

/// The real cluster as `read_cluster` reads it.
fn captured_cluster() -> ClusterObjects {
    let ns = |name: &str| -> k8s_openapi::api::core::v1::Namespace {
        serde_json::from_value(serde_json::json!({"metadata": {"name": name,
            "labels": {"kubernetes.io/metadata.name": name}}}))
        .unwrap()
    };
    let of_ns = |ns: &str| -> Vec<Service> {
        services()
            .into_iter()
            .filter(|s| s.metadata.namespace.as_deref() == Some(ns))
            .collect()
    };
    ClusterObjects {
        version: "v1.36.2".into(),
        namespaces: vec![ns("default"), ns("kube-system")],
        nodes: nodes(),
        daemonsets: items_of_kind("workloads.json", "DaemonSet"),
        kube_system_pods: ks_pods(),
        cni_pods: None,
        kube_system_services: of_ns("kube-system"),
        default_services: of_ns("default"),
        slices: slices(),
        policies: Vec::new(),
        kube_proxy_config: None,
        coredns_config: None,
        cilium_config: None,
        policy_kinds: Vec::new(),
    }
}

#[test]
fn the_deployment_skeleton_of_the_real_cluster() {
    let c = captured_cluster();
    let d = deployment_from(&c, &NodeFilter::All, "lab", "https://198.18.255.11:6443").unwrap();
    assert_eq!(d.cluster.name, "lab");
    assert_eq!(d.cluster.version, "v1.36.2");
    assert_eq!(d.cluster.cni, "unknown");
    assert_eq!(d.cluster.kube_proxy_mode, "unknown");
    let names: Vec<&str> = d.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["node1", "node2"]);
    let dns = d.dns.as_ref().expect("cluster DNS");
    assert_eq!(dns.service.ip.to_string(), "198.19.0.10");
    assert_eq!(dns.cluster_domain, "cluster.local");
    assert_eq!(
        d.cluster.dns_service.as_ref().map(|s| s.ip.to_string()),
        Some("198.19.0.10".into())
    );
    assert_eq!(d.apiserver.as_ref().map(|a| a.port), Some(443));
    assert!(d.findings.is_empty(), "{:#?}", d.findings);
    assert!(d.pods.is_empty() && d.hosts.is_empty());
    assert_eq!(d.policy.namespaces.len(), 2);
}

#[test]
fn the_skeleton_names_missing_nodes_and_keeps_the_chosen_ones() {
    let c = captured_cluster();
    let only = |f: &str| deployment_from(&c, &NodeFilter::parse(Some(f)), "x", "y");
    let d = only("node2").unwrap();
    assert_eq!(d.nodes.len(), 1);
    assert_eq!(d.nodes[0].name, "node2");
    let e = only("node2,node9").unwrap_err();
    assert_eq!(e, "--nodes names nodes the cluster does not have: node9");
    // A selector the API applied and that matched nothing.
    let empty = ClusterObjects {
        nodes: Vec::new(),
        ..captured_cluster()
    };
    let e = deployment_from(&empty, &NodeFilter::parse(Some("role=worker")), "x", "y").unwrap_err();
    assert!(e.contains("kubectl get nodes -l role=worker"), "{e}");
}

#[test]
fn the_skeleton_finds_dns_pods_not_ready_and_no_endpoints() {
    let mut c = captured_cluster();
    c.slices.clear();
    for p in &mut c.kube_system_pods {
        if let Some(st) = p.status.as_mut() {
            for cond in st.conditions.iter_mut().flatten() {
                if cond.type_ == "Ready" {
                    cond.status = "False".into();
                }
            }
        }
    }
    let d = deployment_from(&c, &NodeFilter::All, "x", "y").unwrap();
    let ids: Vec<FindingId> = d.findings.iter().map(|f| f.id).collect();
    assert!(ids.contains(&FindingId::DnsPodsNotReady), "{ids:?}");
    assert!(ids.contains(&FindingId::ServiceNoEndpoints), "{ids:?}");
}

#[test]
fn k3s_flannel_is_told_by_node_annotations_and_the_server_version() {
    let ns = nodes();
    // The captured cluster runs flannel on its nodes too, but it is no k3s:
    // its nodes say more than an annotation (host inspection).
    assert_eq!(detect_k3s_flannel(&ns, "v1.36.2"), None);
    let got = detect_k3s_flannel(&ns, "v1.33.1+k3s1").unwrap();
    assert_eq!(got.name, "flannel (k3s embedded)");
    assert!(got.daemonset.is_none());
    assert!(
        got.evidence
            .contains("annotation flannel.alpha.coreos.com/backend-data on node node1"),
        "{}",
        got.evidence
    );
    // Without flannel's annotations there is nothing to tell.
    let mut bare = ns.clone();
    for n in bare.iter_mut() {
        n.metadata.annotations = None;
    }
    assert_eq!(detect_k3s_flannel(&bare, "v1.33.1+k3s1"), None);
    // In the skeleton: a k3s server, no CNI DaemonSet.
    let mut c = captured_cluster();
    c.version = "v1.33.1+k3s1".into();
    let d = deployment_from(&c, &NodeFilter::All, "k3s", "https://k3s:6443").unwrap();
    assert_eq!(d.cluster.cni, "flannel (k3s embedded)");
}

#[test]
fn an_agent_is_recognised_by_its_image_under_any_name() {
    let ds = daemonset(
        "networking",
        "node-agent",
        "quay.io/cilium/cilium:v1.17.0",
        &[],
    );
    let got = detect_cni(&[ds], &[]);
    assert_eq!(got.name, "cilium");
    assert_eq!(
        got.evidence,
        "DaemonSet networking/node-agent (matches \"cilium/cilium\")"
    );
    // Cilium without its kube-proxy DaemonSet: replaced by cilium.
    assert_eq!(
        detect_kube_proxy(None, None, &got, None).mode,
        "replaced by cilium"
    );
    // kube-proxy itself is no CNI.
    let kp = daemonset(
        "kube-system",
        "kube-proxy",
        "registry.k8s.io/kube-proxy:v1.36.2",
        &[],
    );
    assert_eq!(detect_cni(&[kp], &[]).name, "unknown");
}
