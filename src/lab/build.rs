//! Building the lab's network: namespaces, the wire, nodes (underlay,
//! kube-proxy's rules, sysctls, and the CNI flavour's devices, routes, rules
//! and files from [`super::flavours`]), pods, the DNS pods, and the node root
//! filesystems. Batched for speed (issue 7): one `ip` process per
//! namespace, one `bridge` and one `iptables-restore` per node, nodes built
//! concurrently.

use super::ctx::LabCtx;
use super::flavours::PodWire;
use super::kube_proxy_mode::FamilyServices;
use super::kube_proxy_nft::NftNode;
use super::plan::{
    APISERVER_IP, APISERVER_IP_V6, APISERVER_PORT, DNS_REPLICAS, DNS_SERVICE_IP, DNS_SERVICE_IP_V6,
    LabPlan, NODE_TCP_PORT, SERVICE_CIDR, SERVICE_CIDR_V6, UNDERLAY_PREFIX, WIRE_GATEWAY,
    WIRE_GATEWAY_MAC, WIRE_GATEWAY_V6, WIRE_MTU,
};
use super::rules::ServicePort;
use crate::model::topology::ServePorts;
use crate::runtime::{Progress, Result, RuntimeError};
use futures::StreamExt;
use std::net::IpAddr;
use std::path::Path;

/// Nodes built at once. The kernel serialises most of the work on the rtnl
/// lock; a few in flight keep both cores busy with the tools' own work.
const NODES_IN_FLIGHT: usize = 8;

/// Every Service port the lab's kube-proxy serves: one Service per probe pod
/// (TCP and UDP echo; each node's first one a NodePort for TCP), kube-dns (UDP and TCP 53, both DNS replicas) and
/// `kubernetes` (443 to node-1's agent, standing in for the API server).
/// `probes_ready`: whether kube-proxy has seen the probe pods' endpoints yet
/// (at first it has not, and REJECTs their Services).
pub fn service_ports(ctx: &LabCtx, ports: ServePorts, probes_ready: bool) -> Vec<ServicePort> {
    let p = &ctx.plan;
    let mut v = Vec::new();
    if p.family.v4() {
        v.extend(family_ports(p, ports, probes_ready, &V4));
    }
    if p.family.v6() {
        v.extend(family_ports(p, ports, probes_ready, &V6));
    }
    v
}

/// Where one family's Services and endpoints are.
struct Addresses {
    service: fn(&LabPlan, usize, usize) -> IpAddr,
    pod: fn(&LabPlan, usize, usize) -> IpAddr,
    dns_service: IpAddr,
    dns_pod: fn(&LabPlan, usize) -> IpAddr,
    apiserver: IpAddr,
    node: fn(&LabPlan, usize) -> IpAddr,
}

const V4: Addresses = Addresses {
    service: |p, i, j| p.service_ip(i, j).into(),
    pod: |p, i, j| p.pod_ip(i, j).into(),
    dns_service: IpAddr::V4(DNS_SERVICE_IP),
    dns_pod: |p, r| p.dns_pod_ip(r).into(),
    apiserver: IpAddr::V4(APISERVER_IP),
    node: |p, i| p.node_ip(i).into(),
};

const V6: Addresses = Addresses {
    service: |p, i, j| p.service_ip6(i, j).into(),
    pod: |p, i, j| p.pod_ip6(i, j).into(),
    dns_service: IpAddr::V6(DNS_SERVICE_IP_V6),
    dns_pod: |p, r| p.dns_pod_ip6(r).into(),
    apiserver: IpAddr::V6(APISERVER_IP_V6),
    node: |p, i| p.node_ip6(i).into(),
};

fn family_ports(
    p: &LabPlan,
    ports: ServePorts,
    probes_ready: bool,
    a: &Addresses,
) -> Vec<ServicePort> {
    let ns = p.k8s_namespace();
    let mut v = Vec::new();
    for i in 0..p.nodes {
        for j in 0..p.pods_per_node {
            let name = format!("{ns}/{}", p.pod_name(i, j));
            for (proto, port) in [("tcp", ports.tcp), ("udp", ports.udp)] {
                v.push(ServicePort {
                    service: name.clone(),
                    port_name: proto.to_string(),
                    protocol: proto,
                    cluster_ip: (a.service)(p, i, j),
                    port,
                    endpoints: if probes_ready {
                        vec![(a.pod)(p, i, j)]
                    } else {
                        Vec::new()
                    },
                    target_port: port,
                    // Each node's first probe Service is a NodePort (tcp),
                    // as on a real cluster, where a node has one Service.
                    node_port: (j == 0 && proto == "tcp").then(|| p.node_port(i)),
                });
            }
        }
    }
    for (proto, name) in [("udp", "dns"), ("tcp", "dns-tcp")] {
        v.push(ServicePort {
            service: "kube-system/kube-dns".into(),
            port_name: name.into(),
            protocol: proto,
            cluster_ip: a.dns_service,
            port: 53,
            endpoints: (0..DNS_REPLICAS).map(|r| (a.dns_pod)(p, r)).collect(),
            target_port: 53,
            node_port: None,
        });
    }
    v.push(ServicePort {
        service: "default/kubernetes".into(),
        port_name: "https".into(),
        protocol: "tcp",
        cluster_ip: a.apiserver,
        port: APISERVER_PORT,
        endpoints: vec![(a.node)(p, 0)],
        target_port: NODE_TCP_PORT,
        node_port: None,
    });
    v
}

/// The ports of one family (IPv4: iptables or `table ip kube-proxy`; IPv6:
/// ip6tables or `table ip6 kube-proxy`).
pub fn of_family(services: &[ServicePort], v6: bool) -> Vec<ServicePort> {
    services
        .iter()
        .filter(|s| s.cluster_ip.is_ipv6() == v6)
        .cloned()
        .collect()
}

/// Node `i` as kube-proxy programs it, per family (IPv4's first): the
/// node's address and pod CIDR of that family, and that family's ports of
/// `services`. Both families whatever the lab's: kube-proxy runs a proxier
/// for each family the node's kernel has, so a single-stack node carries
/// the other family's rules too, empty (`table ip6 kube-proxy` on an
/// IPv4-only cluster in nftables mode, ip6tables' KUBE-SERVICES in iptables
/// mode), as the real captures show.
pub fn kube_proxy_families(
    ctx: &LabCtx,
    i: usize,
    services: &[ServicePort],
) -> Vec<FamilyServices> {
    let p = &ctx.plan;
    // The family the cluster does not have: the node has no address of it,
    // no pods, no Services; kube-proxy writes its rules all the same.
    let absent = |ip: std::net::IpAddr| FamilyServices {
        node: NftNode {
            node_ip: ip,
            pod_cidr: ipnet::IpNet::new(ip, if ip.is_ipv6() { 128 } else { 32 })
                .unwrap_or_default(),
        },
        services: Vec::new(),
    };
    let v4 = if p.family.v4() {
        FamilyServices {
            node: NftNode {
                node_ip: p.node_ip(i).into(),
                pod_cidr: p.pod_cidr(i).parse().unwrap_or_default(),
            },
            services: of_family(services, false),
        }
    } else {
        absent(std::net::Ipv4Addr::UNSPECIFIED.into())
    };
    let v6 = if p.family.v6() {
        FamilyServices {
            node: NftNode {
                node_ip: p.node_ip6(i).into(),
                pod_cidr: p.pod_cidr6(i).parse().unwrap_or_default(),
            },
            services: of_family(services, true),
        }
    } else {
        absent(std::net::Ipv6Addr::UNSPECIFIED.into())
    };
    vec![v4, v6]
}

/// Load br_netfilter when the kernel has it but it is not loaded (bridged
/// pod traffic must pass iptables for Service replies on the same node).
pub async fn ensure_br_netfilter() {
    if Path::new("/proc/sys/net/bridge").exists() {
        return;
    }
    match super::cmd::find_program("modprobe") {
        Some(m) => {
            if let Err(e) = super::cmd::run(&m, &["br_netfilter"], None).await {
                tracing::warn!(
                    "br_netfilter is not available ({e}); same-node Service traffic may fail"
                );
            }
        }
        None => tracing::warn!("modprobe not found: br_netfilter not loaded"),
    }
}

/// Build the whole network; `on_node(i)` runs as soon as node i and its pods
/// are wired (the runtime starts their agents there).
pub async fn build_network(
    ctx: &LabCtx,
    progress: &dyn Progress,
    ports: ServePorts,
    on_node: &(dyn Fn(usize) + Sync),
) -> Result<()> {
    let p = &ctx.plan;
    ensure_br_netfilter().await;

    progress.message(&format!(
        "creating {} network namespaces",
        p.all_namespaces().len()
    ));
    let adds: Vec<String> = p
        .all_namespaces()
        .iter()
        .map(|n| format!("netns add {n}"))
        .collect();
    ctx.tools.ip_batch(None, &adds).await?;

    progress.message("wiring the nodes' network");
    ctx.ip(&p.wire_ns(), &wire_lines(ctx)).await?;

    // The probe pods are new: kube-proxy has not synced their endpoints
    // (`LabRuntime` does that later, see `super::kube_proxy`).
    let services = service_ports(ctx, ports, false);
    let rules_total = p.nodes;
    let done = std::sync::atomic::AtomicUsize::new(0);
    progress.message(&format!("building {} nodes", p.nodes));
    let mut results = futures::stream::iter(0..p.nodes)
        .map(|i| {
            let services = &services;
            let done = &done;
            async move {
                let r = build_node(ctx, i, services).await;
                if r.is_ok() {
                    on_node(i);
                }
                let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                progress.tick(n, rules_total);
                r
            }
        })
        .buffer_unordered(NODES_IN_FLIGHT);
    while let Some(r) = results.next().await {
        r?;
    }
    drop(results);

    // Files: node roots and the pods' resolv.conf.
    for i in 0..p.nodes {
        let root = p.node_root(i);
        super::nodefs::write_node_root(p, ctx.cni, i, &root).map_err(|e| {
            RuntimeError::io(
                format!("could not write node files in {}", root.display()),
                e,
            )
        })?;
    }
    let resolv = resolv_conf(&p.k8s_namespace(), dns_nameserver(p));
    for ns in p.pod_namespaces() {
        let dir = Path::new("/etc/netns").join(&ns);
        std::fs::create_dir_all(&dir)
            .and_then(|_| std::fs::write(dir.join("resolv.conf"), &resolv))
            .map_err(|e| RuntimeError::io(format!("could not write {}", dir.display()), e))?;
    }
    Ok(())
}

/// The DNS Service address the pods' resolv.conf names: the first
/// family's ClusterIP, as kubelet's `clusterDNS` (IPv4 on dual stack).
pub fn dns_nameserver(p: &LabPlan) -> IpAddr {
    if p.family.v4() {
        IpAddr::V4(DNS_SERVICE_IP)
    } else {
        IpAddr::V6(DNS_SERVICE_IP_V6)
    }
}

/// A pod's resolv.conf, as the kubelet writes it for ClusterFirst pods.
pub fn resolv_conf(k8s_ns: &str, nameserver: IpAddr) -> String {
    format!(
        "nameserver {nameserver}\nsearch {k8s_ns}.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n"
    )
}

fn wire_lines(ctx: &LabCtx) -> Vec<String> {
    let p = &ctx.plan;
    let mut l = vec![
        "link set lo up".to_string(),
        format!("link add br0 mtu {WIRE_MTU} type bridge"),
        "link set br0 up".to_string(),
    ];
    for i in 0..p.nodes {
        let port = p.wire_port(i);
        l.push(format!(
            "link add {port} mtu {WIRE_MTU} type veth peer name eth0 address {} mtu {WIRE_MTU} netns {}",
            p.underlay_mac(i),
            p.node_ns(i)
        ));
        l.push(format!("link set {port} master br0"));
        l.push(format!("link set {port} up"));
    }
    l
}

/// Node i's `ip` batch: the underlay, the Service CIDR toward the wire's
/// gateway (a node's default route would carry it there: what kube-proxy
/// does not DNAT or REJECT vanishes), the other nodes' underlay neighbours,
/// then the flavour's devices and routes and the host side of its pods.
pub fn node_lines(ctx: &LabCtx, i: usize) -> Vec<String> {
    let p = &ctx.plan;
    let mut l = vec![
        "link set lo up".to_string(),
        format!("addr add {}/{UNDERLAY_PREFIX} dev eth0", p.node_ip(i)),
        "link set eth0 up".to_string(),
        format!("neigh replace {WIRE_GATEWAY} lladdr {WIRE_GATEWAY_MAC} dev eth0 nud permanent"),
        format!("route add {SERVICE_CIDR} via {WIRE_GATEWAY} dev eth0"),
    ];
    // Neighbour entries are permanent (fixed MACs): see `LabPlan::underlay_mac`.
    for b in (0..p.nodes).filter(|&b| b != i) {
        l.push(format!(
            "neigh replace {} lladdr {} dev eth0 nud permanent",
            p.node_ip(b),
            p.underlay_mac(b)
        ));
    }
    if p.family.v6() {
        // `nodad`: usable at once (duplicate address detection would hold
        // each address "tentative" for a second or more).
        l.extend([
            format!("addr add {}/64 dev eth0 nodad", p.node_ip6(i)),
            format!(
                "neigh replace {WIRE_GATEWAY_V6} lladdr {WIRE_GATEWAY_MAC} dev eth0 nud permanent"
            ),
            format!("route add {SERVICE_CIDR_V6} via {WIRE_GATEWAY_V6} dev eth0"),
        ]);
        for b in (0..p.nodes).filter(|&b| b != i) {
            l.push(format!(
                "neigh replace {} lladdr {} dev eth0 nud permanent",
                p.node_ip6(b),
                p.underlay_mac(b)
            ));
        }
    }
    l.extend(ctx.cni.node_lines(p, i));
    for pod in PodWire::on_node(p, i) {
        l.extend(ctx.cni.pod_host_lines(p, &pod));
    }
    l
}

async fn build_node(ctx: &LabCtx, i: usize, services: &[ServicePort]) -> Result<()> {
    let p = &ctx.plan;
    let ns = p.node_ns(i);
    let pods: Vec<(String, Vec<String>)> = PodWire::on_node(p, i)
        .into_iter()
        .map(|pod| (pod.ns.clone(), ctx.cni.pod_lines(p, &pod)))
        .collect();
    let v4 = of_family(services, false);
    let rules = ctx.kube_proxy.node_iptables(&ctx.cni.iptables(p, i), &v4);
    // nftables mode: each family's kube-proxy table.
    let nft = ctx
        .kube_proxy
        .initial(&kube_proxy_families(ctx, i, services));
    // IPv6: kubelet's chains in ip6tables, with kube-proxy's in iptables
    // mode, on every node (the kernel has IPv6: kubelet and kube-proxy
    // program it on an IPv4-only cluster too, with no Services).
    let rules6 = ctx
        .kube_proxy
        .node_ip6tables(&ctx.cni.ip6tables(p, i), &of_family(services, true));
    let fdb_lines = ctx.cni.fdb_lines(p, i);
    let mut sysctls = vec![
        ("net.ipv4.ip_forward".to_string(), "1".to_string(), false),
        (
            "net.bridge.bridge-nf-call-iptables".to_string(),
            "1".to_string(),
            true,
        ),
    ];
    sysctls.extend(ctx.cni.node_sysctls(p, i));
    if p.family.v6() {
        sysctls.extend([
            (
                "net.ipv6.conf.all.forwarding".to_string(),
                "1".to_string(),
                false,
            ),
            (
                "net.bridge.bridge-nf-call-ip6tables".to_string(),
                "1".to_string(),
                true,
            ),
        ]);
    }
    // The rules name addresses, not interfaces: they load while the links
    // are made (iptables-nft is the slow part, and waits more than it works).
    let links = async {
        ctx.ip(&ns, &node_lines(ctx, i)).await?;
        let (fdb, sysctls, pods) = tokio::join!(
            ctx.bridge(&ns, &fdb_lines),
            super::cmd::write_sysctls(&ns, sysctls),
            futures::future::join_all(pods.iter().map(|(pns, lines)| ctx.ip(pns, lines))),
        );
        fdb?;
        sysctls?;
        pods.into_iter().collect::<Result<Vec<()>>>().map(drop)
    };
    let netfilter = async {
        ctx.iptables_restore(&ns, &rules, false)
            .await
            .map_err(|e| RuntimeError::Other(format!("loading {ns}'s iptables rules: {e}")))?;
        ctx.tools
            .ip6tables_restore(&ns, &rules6, false)
            .await
            .map_err(|e| RuntimeError::Other(format!("loading {ns}'s ip6tables rules: {e}")))?;
        match &nft {
            Some(load) => load.apply(&ctx.tools, &ns).await.map_err(|e| {
                RuntimeError::Other(format!("loading {ns}'s kube-proxy nftables table: {e}"))
            }),
            None => Ok(()),
        }
    };
    let (links, netfilter) = tokio::join!(links, netfilter);
    links?;
    netfilter
}
