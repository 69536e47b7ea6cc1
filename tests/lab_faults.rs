//! Every lab fault breaks what it says, and only that, seen with real
//! packets (root). One small lab per fault, all built at once. The full
//! pipeline's verdict on each fault (the finding it must produce) is in
//! tests/lab_run.rs.

#![cfg(target_os = "linux")]

mod lab_common;

use lab_common::*;
use netcheck::lab::LabPlan;
use netcheck::lab::faults;
use netcheck::lab::flavours::{self, Flavour};
use netcheck::lab::testing::require_root;
use netcheck::runtime::Runtime;

/// What the fault must change, checked on a 3-node, 2-pods-per-node lab
/// of the flavour `cni`.
fn check(name: &str, p: &LabPlan, cni: &dyn Flavour) -> Result<(), String> {
    let bridged = cni.bridge().is_some();
    let last = p.nodes - 1;
    let want = |ok: bool, what: &str| if ok { Ok(()) } else { Err(what.to_string()) };
    match name {
        "cross-node-drop" => {
            want(
                no_ping(&p.pod_ns(0, 0), p.pod_ip(1, 0), 56),
                "node-1 → node-2 pods must fail",
            )?;
            want(
                no_ping(&p.pod_ns(1, 1), p.pod_ip(0, 1), 56),
                "node-2 → node-1 pods must fail",
            )?;
            want(
                ping(&p.pod_ns(0, 0), p.pod_ip(2, 0), 56),
                "node-1 → node-3 must work",
            )?;
            want(
                ping(&p.pod_ns(1, 0), p.pod_ip(2, 1), 56),
                "node-2 → node-3 must work",
            )?;
            want(
                ping(&p.pod_ns(0, 0), p.pod_ip(0, 1), 56),
                "same node must work",
            )?;
            want(
                ping(&p.node_ns(0), p.node_ip(1), 56),
                "the underlay must still work",
            )
        }
        "node-isolated" => {
            for other in 0..last {
                want(
                    no_ping(&p.pod_ns(last, 0), p.pod_ip(other, 0), 56),
                    "isolated → others must fail",
                )?;
                want(
                    no_ping(&p.pod_ns(other, 0), p.pod_ip(last, 1), 56),
                    "others → isolated must fail",
                )?;
            }
            want(
                ping(&p.pod_ns(0, 0), p.pod_ip(1, 0), 56),
                "the other nodes must still talk",
            )?;
            want(
                ping(&p.pod_ns(last, 0), p.pod_ip(last, 1), 56),
                "same node on the isolated node",
            )?;
            want(
                ping(&p.node_ns(last), p.node_ip(0), 56),
                "the isolated node's underlay is up",
            )
        }
        "underlay-mtu" => {
            // Path MTU to the last node: 1400 - 50 (VXLAN) = 1350 = 1322 + 28.
            want(
                ping(&p.pod_ns(0, 0), p.pod_ip(last, 0), 56),
                "small packets pass",
            )?;
            want(
                ping_df(&p.pod_ns(0, 0), p.pod_ip(last, 0), 1322),
                "1350 bytes pass",
            )?;
            want(
                no_ping_df(&p.pod_ns(0, 0), p.pod_ip(last, 0), 1400),
                "1428 bytes vanish",
            )?;
            want(
                no_ping_df(&p.pod_ns(last, 0), p.pod_ip(0, 0), 1400),
                "and the other way",
            )?;
            want(
                ping_df(&p.pod_ns(0, 0), p.pod_ip(1, 0), 1422),
                "other nodes keep 1450",
            )
        }
        "kube-proxy-down" => {
            let _l = listen_tcp(&p.pod_ns(0, 0), p.pod_ip(0, 0), 7000);
            let vip = p.service_ip(0, 0);
            want(
                tcp_roundtrip(&p.pod_ns(last, 0), vip, 7000).is_err(),
                "VIP from the last node must fail",
            )?;
            want(
                tcp_roundtrip(&p.pod_ns(1, 0), vip, 7000).is_ok(),
                "VIP from node-2 must work",
            )?;
            want(
                tcp_roundtrip(&p.pod_ns(last, 0), p.pod_ip(0, 0), 7000).is_ok(),
                "pod IP from the last node works",
            )
        }
        "nodeport-down" => {
            let _l = listen_tcp(&p.pod_ns(last, 0), p.pod_ip(last, 0), 7000);
            let _m = listen_tcp(&p.pod_ns(0, 0), p.pod_ip(0, 0), 7000);
            want(
                tcp_roundtrip(&p.pod_ns(1, 0), p.node_ip(last), p.node_port(last)).is_err(),
                "the last node's NodePort must fail",
            )?;
            want(
                tcp_roundtrip(&p.pod_ns(1, 0), p.service_ip(last, 0), 7000).is_ok(),
                "the same Service's ClusterIP must work",
            )?;
            want(
                tcp_roundtrip(&p.pod_ns(1, 0), p.node_ip(0), p.node_port(0)).is_ok(),
                "node-1's NodePort must work",
            )
        }
        "dns-down" => {
            let name = "kubernetes.default.svc.cluster.local";
            want(
                dns_a(&p.pod_ns(0, 0), "198.19.0.10", name) == Err(-1),
                "no answer via the Service",
            )?;
            for r in 0..netcheck::lab::plan::DNS_REPLICAS {
                let ip = p.dns_pod_ip(r);
                want(
                    dns_a(&p.pod_ns(2, 0), &ip.to_string(), name) == Err(-1),
                    &format!("no answer from DNS replica {r} ({ip})"),
                )?;
                want(
                    ping(&p.pod_ns(2, 0), ip, 56),
                    &format!("DNS replica {r}'s network is up"),
                )?;
            }
            Ok(())
        }
        "forward-drop" => {
            want(
                run_in(&p.node_ns(last), "iptables", &["-S", "FORWARD"])?
                    .lines()
                    .any(|l| l == "-P FORWARD DROP"),
                "the last node's FORWARD policy must read DROP",
            )?;
            want(
                no_ping(&p.pod_ns(0, 0), p.pod_ip(last, 0), 56),
                "pods → the last node's pods must fail",
            )?;
            want(
                no_ping(&p.pod_ns(last, 0), p.pod_ip(1, 0), 56),
                "the last node's pods → other pods must fail",
            )?;
            want(
                ping(&p.pod_ns(0, 0), p.pod_ip(1, 0), 56),
                "the other nodes' pods must still talk",
            )?;
            want(
                ping(&p.node_ns(0), p.node_ip(last), 56),
                "host traffic (INPUT, not FORWARD) still passes",
            )
        }
        "ip-forward-off" => {
            want(
                sysctl_in(&p.node_ns(last), "net.ipv4.ip_forward")? == "0",
                "net.ipv4.ip_forward must read 0 on the last node",
            )?;
            want(
                sysctl_in(&p.node_ns(0), "net.ipv4.ip_forward")? == "1",
                "and 1 on the others",
            )?;
            want(
                no_ping(&p.pod_ns(0, 0), p.pod_ip(last, 0), 56),
                "pods → the last node's pods must fail (not routed)",
            )?;
            want(
                no_ping(&p.pod_ns(last, 1), p.pod_ip(1, 1), 56),
                "the last node's pods → other nodes must fail",
            )?;
            // Bridged same-node traffic is not routed; a ptp pod's is.
            want(
                ping(&p.pod_ns(last, 0), p.pod_ip(last, 1), 56) == bridged,
                "same node works on a bridge and fails when routed",
            )?;
            want(
                ping(&p.node_ns(0), p.node_ip(last), 56),
                "the underlay still works",
            )
        }
        "cni-conflict" => {
            let files = |i: usize| -> Result<Vec<String>, String> {
                let dir = p.node_root(i).join("etc/cni/net.d");
                let mut v: Vec<String> = std::fs::read_dir(&dir)
                    .map_err(|e| format!("{}: {e}", dir.display()))?
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.ends_with(".conf") || n.ends_with(".conflist"))
                    .collect();
                v.sort();
                Ok(v)
            };
            let on_last = files(last)?;
            let own = files(0)?;
            want(
                on_last.first().map(String::as_str) == Some("05-calico.conflist")
                    && own.iter().all(|f| on_last.contains(f)),
                &format!("the Calico file must sort before the flavour's: {on_last:?}"),
            )?;
            let calico =
                std::fs::read_to_string(p.node_root(last).join("etc/cni/net.d/05-calico.conflist"))
                    .map_err(|e| e.to_string())?;
            let v: serde_json::Value =
                serde_json::from_str(&calico).map_err(|e| format!("calico file: {e}"))?;
            want(
                v["plugins"][0]["type"] == "calico" && v["name"].is_string(),
                "the conflicting file is a valid Calico conflist (libcni would take it)",
            )?;
            want(
                own.len() == 1 && own[0] != "05-calico.conflist",
                "the other nodes keep only the flavour's",
            )?;
            want(
                p.node_root(last).join("usr/lib/cni/calico").is_file()
                    && !p.node_root(0).join("usr/lib/cni/calico").exists(),
                "Calico's binaries are left in the node's plugin dir (/usr/lib/cni)",
            )?;
            want(
                ping(&p.pod_ns(0, 0), p.pod_ip(last, 0), 56),
                "running pods keep their network",
            )
        }
        "backend-mix" => {
            let legacy = |i: usize| run_in(&p.node_ns(i), "iptables-legacy-save", &["-t", "nat"]);
            let l = legacy(last)?;
            want(
                l.contains("-A KUBE-SERVICES") && l.contains("-A POSTROUTING"),
                "kube-proxy's and the CNI's nat rules must be in iptables-legacy on the last node",
            )?;
            want(
                run_in(&p.node_ns(last), "iptables-nft-save", &["-t", "nat"])?
                    .contains("-A KUBE-SERVICES"),
                "and still in iptables-nft",
            )?;
            want(
                !legacy(0)?.contains("-A "),
                "the other nodes have no legacy rules",
            )?;
            let _l = listen_tcp(&p.pod_ns(0, 0), p.pod_ip(0, 0), 7000);
            want(
                tcp_roundtrip(&p.pod_ns(last, 0), p.service_ip(0, 0), 7000).is_ok(),
                "Services still answer through both rule sets",
            )
        }
        "bridge-nf-off" => {
            let key = "net.bridge.bridge-nf-call-iptables";
            want(
                sysctl_in(&p.node_ns(last), key)? == "0",
                "bridge-nf-call-iptables must read 0 on the last node",
            )?;
            want(sysctl_in(&p.node_ns(0), key)? == "1", "and 1 on the others")?;
            // The reply of a same-node Service endpoint is bridged straight
            // back, past the un-DNAT: the client never sees the VIP answer.
            let _l = listen_tcp(&p.pod_ns(last, 1), p.pod_ip(last, 1), 7000);
            let vip = p.service_ip(last, 1);
            want(
                tcp_roundtrip(&p.pod_ns(last, 0), vip, 7000).is_err(),
                "a Service on the same node must fail",
            )?;
            want(
                tcp_roundtrip(&p.pod_ns(0, 0), vip, 7000).is_ok(),
                "the same Service from another node works",
            )?;
            want(
                tcp_roundtrip(&p.pod_ns(last, 0), p.pod_ip(last, 1), 7000).is_ok(),
                "the pod IP on the same node works",
            )
        }
        "conntrack-full" => {
            let read = |i: usize, k: &str| -> Result<u64, String> {
                sysctl_in(&p.node_ns(i), k)?
                    .parse()
                    .map_err(|e| format!("{k}: {e}"))
            };
            let (count, max) = (
                read(last, "net.netfilter.nf_conntrack_count")?,
                read(last, "net.netfilter.nf_conntrack_max")?,
            );
            want(
                max > 0 && count * 100 >= max * 90,
                &format!("the last node's conntrack table must be ≥ 90 % full: {count} of {max}"),
            )?;
            want(
                read(0, "net.netfilter.nf_conntrack_count")? * 100 < max * 10,
                "the other nodes' tables are nearly empty",
            )?;
            let flows = run_in(&p.node_ns(last), "conntrack", &["-C"])?;
            want(
                flows.trim().parse::<u64>().map_err(|e| e.to_string())? * 100 >= max * 90,
                &format!("conntrack -C counts real flows: {}", flows.trim()),
            )?;
            want(
                ping(&p.pod_ns(0, 0), p.pod_ip(last, 0), 56),
                "not full yet: traffic still passes",
            )
        }
        "rp-filter-strict" => {
            let key = "net.ipv4.conf.all.rp_filter";
            want(
                sysctl_in(&p.node_ns(last), key)? == "1",
                "all.rp_filter must read 1 on the last node",
            )?;
            want(
                sysctl_in(&p.node_ns(0), key)? != "1",
                "and not strict on the others",
            )?;
            // Strict mode drops what arrives on an interface that is not the
            // route back to its source: a packet from the last node's own pod
            // subnet coming in on the underlay is dropped (reverse path is cni0).
            want(
                rp_filter_drops(p, last)?,
                "a packet with a source routed via cni0 arriving on eth0 must be dropped",
            )?;
            // Symmetric pod traffic still passes: that is why it is a warning.
            want(
                ping(&p.pod_ns(0, 0), p.pod_ip(last, 0), 56),
                "symmetric cross-node traffic still passes",
            )
        }
        "hairpin-off" => {
            for j in 0..p.pods_per_node {
                let flag = run_in(
                    &p.node_ns(last),
                    "cat",
                    &[&format!(
                        "/sys/class/net/{}/brport/hairpin_mode",
                        p.pod_veth(j)
                    )],
                )?;
                want(
                    flag.trim() == "0",
                    &format!("{}'s hairpin flag must be off", p.pod_veth(j)),
                )?;
            }
            let on = run_in(
                &p.node_ns(0),
                "cat",
                &[&format!(
                    "/sys/class/net/{}/brport/hairpin_mode",
                    p.pod_veth(0)
                )],
            )?;
            want(on.trim() == "1", "the other nodes keep hairpin on")?;
            let _l = listen_tcp(&p.pod_ns(last, 0), p.pod_ip(last, 0), 7000);
            let vip = p.service_ip(last, 0);
            want(
                tcp_roundtrip(&p.pod_ns(last, 0), vip, 7000).is_err(),
                "a pod through its own Service must fail",
            )?;
            want(
                tcp_roundtrip(&p.pod_ns(0, 0), vip, 7000).is_ok(),
                "the same Service from another pod works",
            )
        }
        "route-missing" => {
            let routes =
                |to: usize| run_in(&p.node_ns(last), "ip", &["route", "show", &p.pod_cidr(to)]);
            want(
                routes(0)?.trim().is_empty(),
                "the last node must have no route to node-1's pods",
            )?;
            want(
                !routes(1)?.trim().is_empty(),
                "and keep its route to node-2's",
            )?;
            want(
                no_ping(&p.pod_ns(last, 0), p.pod_ip(0, 0), 56),
                "last node's pods → node-1's pods must fail",
            )?;
            want(
                no_ping(&p.pod_ns(0, 1), p.pod_ip(last, 1), 56),
                "node-1's pods → last node's pods must fail (the replies)",
            )?;
            want(
                ping(&p.pod_ns(last, 0), p.pod_ip(1, 0), 56),
                "last node's pods → node-2's pods work",
            )?;
            want(
                ping(&p.pod_ns(0, 0), p.pod_ip(1, 1), 56),
                "node-1 ↔ node-2 works",
            )?;
            want(
                ping(&p.node_ns(last), p.node_ip(0), 56),
                "the underlay still works",
            )
        }
        "proxy-arp-off" | "vxlan-port-mismatch" => {
            want(
                no_ping(&p.pod_ns(last, 0), p.pod_ip(0, 0), 56),
                "the last node's pods → node-1 must fail",
            )?;
            want(
                no_ping(&p.pod_ns(0, 0), p.pod_ip(last, 1), 56),
                "node-1 → the last node's pods must fail",
            )?;
            want(
                ping(&p.pod_ns(0, 0), p.pod_ip(1, 0), 56),
                "node-1 ↔ node-2 must work",
            )?;
            want(
                ping(&p.node_ns(last), p.node_ip(0), 56),
                "the underlay must work",
            )?;
            if name == "proxy-arp-off" {
                // No gateway: not even the pod's own node or neighbour.
                want(
                    no_ping(&p.pod_ns(last, 0), p.node_ip(last), 56),
                    "a pod without its gateway must lose its own node",
                )?;
                want(
                    no_ping(&p.pod_ns(last, 0), p.pod_ip(last, 1), 56),
                    "and the pod next to it",
                )
            } else {
                want(
                    ping(&p.pod_ns(last, 0), p.pod_ip(last, 1), 56),
                    "same-node pods must still talk",
                )?;
                let l = run_in(
                    &p.node_ns(last),
                    "ip",
                    &["-d", "link", "show", "vxlan.calico"],
                )?;
                want(
                    l.contains("dstport 4790"),
                    "the last node's vxlan.calico on 4790",
                )
            }
        }
        other => Err(format!(
            "no topology check for fault '{other}': add one to tests/lab_faults.rs"
        )),
    }
}

/// A sysctl's value inside a namespace, as the kernel shows it there.
fn sysctl_in(ns: &str, key: &str) -> Result<String, String> {
    let path = format!("/proc/sys/{}", key.replace('.', "/"));
    Ok(run_in(ns, "cat", &[&path])?.trim().to_string())
}

/// Send pings to node `i`'s underlay address from node 1, from an address
/// in node `i`'s own pod subnet (routed back via cni0, not eth0: reverse-path
/// invalid). True when node `i` dropped them as strict rp_filter does: its
/// `IPReversePathFilter` counter grew and no echo request reached ICMP.
fn rp_filter_drops(p: &LabPlan, i: usize) -> Result<bool, String> {
    let ns = p.node_ns(i);
    let counter = |file: &str, prefix: &str, name: &str| proc_counter(&ns, file, prefix, name);
    let rpf = || counter("/proc/net/netstat", "TcpExt:", "IPReversePathFilter");
    let echos = || counter("/proc/net/snmp", "Icmp:", "InEchos");
    // .250 of node i's pod subnet is never given to a pod. Node 1 must not
    // masquerade it (flannel's rule would), so it leaves as is.
    let o = p.pod_ip(i, 0).octets();
    let spoof = format!("{}/32", std::net::Ipv4Addr::new(o[0], o[1], o[2], 250));
    let src = spoof.trim_end_matches("/32");
    let ns0 = p.node_ns(0);
    let nat = |op: &str| {
        run_in(
            &ns0,
            "iptables",
            &["-t", "nat", op, "POSTROUTING", "-s", &spoof, "-j", "ACCEPT"],
        )
    };
    // A normal ping first: node 1 learns node i's MAC (an ARP request from
    // the spoofed address would itself fail the reverse-path check).
    run_in(
        &ns0,
        "ping",
        &["-c", "1", "-W", "1", &p.node_ip(i).to_string()],
    )?;
    let (rpf0, echos0) = (rpf()?, echos()?);
    run_in(&ns0, "ip", &["addr", "add", &spoof, "dev", "eth0"])?;
    let inserted = nat("-I");
    let unanswered = inserted.is_ok()
        && run_in(
            &ns0,
            "ping",
            &["-c", "2", "-W", "1", "-I", src, &p.node_ip(i).to_string()],
        )
        .is_err();
    if inserted.is_ok() {
        nat("-D")?;
    }
    run_in(&ns0, "ip", &["addr", "del", &spoof, "dev", "eth0"])?;
    inserted?;
    let (rpf1, echos1) = (rpf()?, echos()?);
    if unanswered && rpf1 >= rpf0 + 2 && echos1 == echos0 {
        Ok(true)
    } else {
        Err(format!(
            "spoofed pings from {src}: unanswered {unanswered}, IPReversePathFilter {rpf0} → {rpf1}, InEchos {echos0} → {echos1}"
        ))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_breaks_what_it_says() {
    if !require_root() {
        return;
    }
    // Host faults too: each check reads the state the fault changed (the
    // sysctl, the rule, the file, the bridge flag) and sends the packets it
    // breaks, or shows that it breaks none (cni-conflict, backend-mix,
    // conntrack-full and rp-filter-strict leave running pods alone).
    // One flavour at a time, its faults at once.
    let mut failures = Vec::new();
    for &cni in flavours::all() {
        let runs = faults::all()
            .iter()
            .filter(|f| f.applies_to(cni) && !f.needs_ipv6())
            .map(|f| async move {
                let what = format!("{} on {}", f.name(), cni.name());
                let lab = build_flavour(3, 2, &[*f], cni)
                    .await
                    .map_err(|e| format!("{what}: build: {e}"))?;
                let pids: Vec<u32> = lab.pids().await.values().copied().collect();
                let plan = lab.plan().clone();
                let name = f.name();
                // The checks block (ping, sockets): on their own threads, all at once.
                let r = tokio::task::spawn_blocking(move || check(name, &plan, cni))
                    .await
                    .map_err(|e| format!("{what}: check panicked: {e}"))
                    .and_then(|r| r.map_err(|e| format!("{what}: {e}")));
                let id = lab.id().to_string();
                lab.teardown()
                    .await
                    .map_err(|e| format!("{what}: teardown: {e}"))?;
                assert_nothing_left(&id, &pids);
                r
            });
        let results = futures::future::join_all(runs).await;
        failures.extend(results.into_iter().filter_map(|r| r.err()));
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// The DNS Service balances between its two replicas on two nodes as
/// kube-proxy does (`statistic --mode random`): queries through the VIP,
/// each from a new socket (a new conntrack entry), reach both replicas.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_queries_through_the_service_reach_both_replicas() {
    if !require_root() {
        return;
    }
    let lab = build(3, 1, &[]).await.expect("lab builds");
    let p = lab.plan().clone();
    let d = lab
        .deployed(lab.discover(&netcheck::runtime::Quiet).await.unwrap())
        .dns
        .expect("a DNS target");
    let servers: Vec<(Option<String>, Option<std::net::IpAddr>)> =
        d.servers.iter().map(|s| (s.node.clone(), s.ip)).collect();
    let r = tokio::task::spawn_blocking(move || -> Result<(), String> {
        let want: Vec<(Option<String>, Option<std::net::IpAddr>)> = (0..2)
            .map(|r| {
                (
                    Some(p.node_name(p.dns_node(r))),
                    Some(p.dns_pod_ip(r).into()),
                )
            })
            .collect();
        if servers != want || p.dns_node(0) == p.dns_node(1) {
            return Err(format!(
                "DNS servers {servers:?}, want two on two nodes: {want:?}"
            ));
        }
        let count = |r: usize| snmp_counter(&p.dns_ns(r), "Udp:", "InDatagrams");
        let before = [count(0)?, count(1)?];
        let name = "kubernetes.default.svc.cluster.local";
        let queries = 40;
        for from in 0..queries {
            let ns = p.pod_ns(from % p.nodes, 0);
            let a = dns_a(&ns, "198.19.0.10", name);
            if a != Ok(vec!["198.19.0.1".parse().unwrap()]) {
                return Err(format!("query {from} from {ns} through the Service: {a:?}"));
            }
        }
        let got = [count(0)? - before[0], count(1)? - before[1]];
        // Binomial(40, 1/2): fewer than 5 on one side is a 1-in-10^6 event.
        if got[0] + got[1] < queries as u64 || got.iter().any(|&g| g < 5) {
            return Err(format!(
                "{queries} queries through the Service reached the replicas {got:?} times"
            ));
        }
        for r in 0..2 {
            let a = dns_a(&p.pod_ns(2, 0), &p.dns_pod_ip(r).to_string(), name);
            if a.is_err() {
                return Err(format!("replica {r} straight: {a:?}"));
            }
        }
        Ok(())
    })
    .await
    .expect("checks ran");
    let id = lab.id().to_string();
    lab.teardown().await.expect("teardown");
    assert_nothing_left(&id, &[]);
    r.unwrap();
}
