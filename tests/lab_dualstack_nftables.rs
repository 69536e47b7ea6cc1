//! `lab --kube-proxy nftables --ip-family dual` end to end (root): each node
//! carries `table ip kube-proxy` and `table ip6 kube-proxy` and nothing of
//! kube-proxy in ip(6)tables; a healthy 3-node lab passes every check in both
//! families (IPv6 Services, NodePorts and DNS through the IPv6 table) with no
//! finding above info and the mode named from the nodes; `kube-proxy-down`
//! (both tables deleted) and `nodeport-down` (both `service-nodeports` maps
//! flushed) are named at their root for both families; `ipv6-forward-off`
//! is named at its root for IPv6 in this mode too. With packets, without
//! agents: an IPv6 ClusterIP is refused by `table ip6 kube-proxy`'s
//! `no-endpoint-services` until the node's sync, then answers through its
//! DNAT (hairpin too); `kube-proxy-down` deletes both families' tables.

#![cfg(target_os = "linux")]

mod lab_common;

use lab_common::*;
use netcheck::lab::cmd::in_netns_thread;
use netcheck::lab::plan::IpFamily;
use netcheck::lab::testing::require_root;
use netcheck::lab::{KubeProxyMode, LabConfig, LabRuntime};
use netcheck::runtime::{Quiet, Runtime};
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn lab(args: &[&str]) -> Output {
    Command::new(exe())
        .args([
            "lab",
            "--kube-proxy",
            "nftables",
            "--ip-family",
            "dual",
            "--nodes",
            "3",
            "-o",
            "json",
            "-v",
        ])
        .args(args)
        .output()
        .expect("run kubectl-netcheck")
}

fn findings_above_info(r: &Value) -> Vec<&Value> {
    r["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["severity"] != "info")
        .collect()
}

/// The families (`ip`, `ip6`) of the `kube-proxy` nftables tables on `node`.
fn kube_proxy_tables(r: &Value, node: &str) -> BTreeSet<String> {
    let host = r["hosts"]
        .as_array()
        .expect("hosts")
        .iter()
        .find(|h| h["node"] == node)
        .unwrap_or_else(|| panic!("no host report for {node}"));
    host["firewall"]["nftables"]["tables"]
        .as_array()
        .expect("nftables read")
        .iter()
        .filter(|t| t["name"] == "kube-proxy")
        .filter_map(|t| t["family"].as_str().map(str::to_string))
        .collect()
}

/// Every chain name in one host's ip6tables (nft backend).
fn ip6tables_chains(h: &Value) -> Vec<String> {
    h["firewall"]["ip6tables"]
        .as_array()
        .expect("ip6tables read")
        .iter()
        .filter(|b| b["backend"] == "nft")
        .flat_map(|b| b["tables"].as_array().cloned().unwrap_or_default())
        .flat_map(|t| t["chains"].as_array().cloned().unwrap_or_default())
        .filter_map(|c| c["name"].as_str().map(str::to_string))
        .collect()
}

fn lab_id(stderr: &str) -> Option<String> {
    let at = stderr.find("building lab ")? + "building lab ".len();
    stderr.get(at..at + 5).map(str::to_string)
}

fn nothing_left(out: &Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let id = lab_id(&stderr).unwrap_or_else(|| panic!("no lab id: {stderr}"));
    assert_nothing_left(&id, &[]);
}

/// The one error finding, which must be `id` on node-3 for both families
/// (its title names neither alone), with failed checks of both families.
fn named_for_both_families<'a>(out: &Output, r: &'a Value, id: &str) -> &'a Value {
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let errors: Vec<&Value> = r["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["severity"] == "error")
        .collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let f = errors[0];
    assert_eq!(f["id"], id, "{f:#}");
    assert_eq!(f["nodes"], serde_json::json!(["node-3"]), "{f:#}");
    let title = f["title"].as_str().unwrap_or("");
    assert!(!title.contains("only"), "both families: {title}");
    let failed: BTreeSet<String> = kinds(r, "fail").into_iter().map(|(_, fam)| fam).collect();
    assert_eq!(
        failed,
        BTreeSet::from(["ipv4".to_string(), "ipv6".to_string()])
    );
    f
}

#[test]
fn a_healthy_dual_stack_nftables_lab_passes_in_both_families() {
    if !require_root() {
        return;
    }
    let out = lab(&[]);
    let r = json(&out);
    let bad: Vec<&Value> = checks(&r)
        .iter()
        .filter(|c| c["status"] != "pass")
        .collect();
    assert!(bad.is_empty(), "{bad:#?}");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(findings_above_info(&r).is_empty(), "{:#}", r["findings"]);
    assert_eq!(
        r["cluster"]["kubeProxyMode"], "nftables",
        "{}",
        r["cluster"]
    );
    let pass = kinds(&r, "pass");
    for k in ["pod-to-pod", "pod-to-service", "nodeport", "dns"] {
        for fam in ["ipv4", "ipv6"] {
            assert!(
                pass.contains(&(k.to_string(), fam.to_string())),
                "no passing {fam} {k} check"
            );
        }
    }
    // Every node's IPv6 NodePort answered, from every pod and node: through
    // each node's table ip6 kube-proxy.
    let nodeport6 = checks(&r)
        .iter()
        .filter(|c| c["kind"] == "nodeport" && c["family"] == "ipv6")
        .count();
    assert_eq!(nodeport6, (6 + 3) * 3, "IPv6 NodePorts were checked");
    for n in ["node-1", "node-2", "node-3"] {
        assert_eq!(
            kube_proxy_tables(&r, n),
            BTreeSet::from(["ip".to_string(), "ip6".to_string()]),
            "{n}"
        );
    }
    // kube-proxy writes nothing in ip6tables in this mode: kubelet's chains only.
    for h in r["hosts"].as_array().expect("hosts") {
        let chains = ip6tables_chains(h);
        assert!(
            chains.iter().any(|c| c == "KUBE-KUBELET-CANARY"),
            "{chains:?}"
        );
        assert!(
            !chains
                .iter()
                .any(|c| c == "KUBE-SERVICES" || c == "KUBE-NODEPORTS"),
            "{chains:?}"
        );
    }
    nothing_left(&out);
}

#[test]
fn kube_proxy_down_on_dual_stack_nftables_is_named_at_its_root_for_both_families() {
    if !require_root() {
        return;
    }
    let out = lab(&["--fault", "kube-proxy-down"]);
    let r = json(&out);
    let f = named_for_both_families(&out, &r, "kube-proxy-rules-missing");
    // Both tables are gone from node-3, and only there.
    assert_eq!(kube_proxy_tables(&r, "node-3"), BTreeSet::new());
    assert_eq!(kube_proxy_tables(&r, "node-1").len(), 2);
    let ev = f["evidence"].to_string();
    for line in [
        "node-3: no KUBE-SERVICES chain in any iptables backend and no `kube-proxy` nftables table",
        "node-3: no KUBE-SERVICES chain in any ip6tables backend and no `ip6 kube-proxy` nftables table",
        "kube-proxy mode: nftables",
    ] {
        assert!(ev.contains(line), "{line}: {f:#}");
    }
    assert!(
        f["remediation"]
            .as_str()
            .is_some_and(|s| s.contains("table ip6 kube-proxy")),
        "{f:#}"
    );
    // Its pods' Services fail in both families, and only from node-3 (the
    // NodePorts are node-3's own).
    for c in checks(&r).iter().filter(|c| c["status"] == "fail") {
        let through_3 = c["source"]["node"] == "node-3"
            || (c["kind"] == "nodeport" && c["target"]["node"] == "node-3");
        assert!(through_3, "{c}");
    }
    nothing_left(&out);
}

#[test]
fn nodeport_down_on_dual_stack_nftables_is_named_at_its_root_for_both_families() {
    if !require_root() {
        return;
    }
    let out = lab(&["--fault", "nodeport-down"]);
    let r = json(&out);
    named_for_both_families(&out, &r, "nodeport-unreachable");
    assert_eq!(findings_above_info(&r).len(), 1, "{:#}", r["findings"]);
    // Only node-3's NodePorts failed; its ClusterIPs, in both families, and
    // every other node's NodePorts answered.
    let failed: Vec<&Value> = checks(&r)
        .iter()
        .filter(|c| c["status"] != "pass")
        .collect();
    assert!(
        failed
            .iter()
            .all(|c| c["kind"] == "nodeport" && c["target"]["node"] == "node-3"),
        "{failed:#?}"
    );
    // The tables stay: kube-proxy runs, its NodePort map is empty.
    assert_eq!(kube_proxy_tables(&r, "node-3").len(), 2);
    nothing_left(&out);
}

#[test]
fn ipv6_forward_off_in_nftables_mode_is_named_at_its_root_for_ipv6() {
    if !require_root() {
        return;
    }
    let out = lab(&["--fault", "ipv6-forward-off"]);
    let r = json(&out);
    assert_eq!(out.status.code(), Some(1));
    let errors: Vec<&Value> = r["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["severity"] == "error")
        .collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let f = errors[0];
    assert_eq!(f["id"], "ip-forward-disabled");
    assert_eq!(f["nodes"], serde_json::json!(["node-3"]));
    assert!(f["title"].as_str().unwrap_or("").contains("IPv6"), "{f}");
    assert!(
        f["evidence"]
            .to_string()
            .contains("node-3: /proc/sys/net/ipv6/conf/all/forwarding = 0"),
        "{f:#}"
    );
    // IPv4 is untouched; the IPv6 failures all touch node-3.
    let failed: BTreeSet<String> = kinds(&r, "fail").into_iter().map(|(_, fam)| fam).collect();
    assert_eq!(failed, BTreeSet::from(["ipv6".to_string()]));
    for c in checks(&r).iter().filter(|c| c["status"] == "fail") {
        assert!(
            c["source"]["node"] == "node-3" || c["target"]["node"] == "node-3",
            "{c}"
        );
    }
    assert_eq!(r["cluster"]["kubeProxyMode"], "nftables");
    nothing_left(&out);
}

/// A dual-stack lab in nftables mode without agents; its sync still pending.
async fn build_dual_nft(
    nodes: usize,
    pods: usize,
    faults: &[&'static dyn netcheck::lab::faults::Fault],
) -> Result<LabRuntime, String> {
    let mut cfg = LabConfig::new(nodes, pods, exe());
    cfg.agents = false;
    cfg.faults = faults.to_vec();
    cfg.kube_proxy = KubeProxyMode::Nftables;
    cfg.ip_family = IpFamily::Dual;
    let rt = LabRuntime::new(cfg).map_err(|e| e.to_string())?;
    let d = rt.discover(&Quiet).await.map_err(|e| e.to_string())?;
    match rt.deploy(d, &Quiet).await {
        Ok(_) => Ok(rt),
        Err(e) => {
            let _ = rt.teardown().await;
            Err(e.to_string())
        }
    }
}

fn roundtrip(ns: &str, to: SocketAddr) -> Result<(), String> {
    in_netns_thread(ns, || {
        let mut s = TcpStream::connect_timeout(&to, Duration::from_secs(2))
            .map_err(|e| format!("connect: {e}"))?;
        s.set_read_timeout(Some(Duration::from_secs(2)))
            .map_err(|e| e.to_string())?;
        s.write_all(b"netcheck\n").map_err(|e| e.to_string())?;
        let mut buf = [0u8; 9];
        s.read_exact(&mut buf).map_err(|e| format!("read: {e}"))?;
        (&buf == b"netcheck\n")
            .then_some(())
            .ok_or("wrong echo".to_string())
    })
    .map_err(|e| e.to_string())?
}

/// What a UDP datagram to `to` from `ns` got: an echo, refused (an ICMPv6
/// port unreachable: kube-proxy's `reject-chain`), or nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Udp {
    Echo,
    Refused,
    Silent,
}

fn udp_probe(ns: &str, to: SocketAddr) -> Udp {
    in_netns_thread(ns, || {
        let s = UdpSocket::bind(SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, 0)))?;
        s.set_read_timeout(Some(Duration::from_millis(500)))?;
        s.connect(to)?;
        s.send(b"netcheck\n")?;
        let mut buf = [0u8; 64];
        s.recv(&mut buf).map(drop)
    })
    .map_or(Udp::Silent, |r| match r {
        Ok(()) => Udp::Echo,
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => Udp::Refused,
        Err(_) => Udp::Silent,
    })
}

/// A UDP echo server at `at` inside `ns` until `stop` is set.
fn udp_echo_server(
    ns: &str,
    at: SocketAddr,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<()> {
    let s = in_netns_thread(ns, || UdpSocket::bind(at))
        .expect("enter namespace")
        .expect("bind in pod");
    s.set_read_timeout(Some(Duration::from_millis(50)))
        .expect("timeout");
    std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            if let Ok((n, from)) = s.recv_from(&mut buf) {
                let _ = s.send_to(&buf[..n], from);
            }
        }
    })
}

/// Before each node's sync, an IPv6 ClusterIP is refused by `table ip6
/// kube-proxy`'s `no-endpoint-services` → `reject-chain`; after it, it
/// answers through the table's DNAT, from every node and from the pod
/// itself (hairpin). UDP shows the refusal: a TCP connect in the lab
/// learns of an ICMPv6 error only at its SYN's retransmission a second
/// later (the error comes back while connect() holds the socket:
/// TcpExtLockDroppedIcmps), in iptables mode as in this one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_services_answer_through_table_ip6_kube_proxy_after_its_sync() {
    if !require_root() {
        return;
    }
    let lab = build_dual_nft(3, 2, &[]).await.expect("lab builds");
    let deployed = Instant::now();
    let p = lab.plan().clone();
    let ports = netcheck::model::topology::ServePorts::default();
    let vip = SocketAddr::from((p.service_ip6(0, 0), ports.tcp));
    let vip_udp = SocketAddr::from((p.service_ip6(0, 0), ports.udp));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let tcp_server = listen_tcp(&p.pod_ns(0, 0), p.pod_ip6(0, 0), ports.tcp);
    let udp_server = udp_echo_server(
        &p.pod_ns(0, 0),
        SocketAddr::from((p.pod_ip6(0, 0), ports.udp)),
        stop.clone(),
    );
    let from: Vec<String> = (0..p.nodes).map(|i| p.pod_ns(i, 1)).collect();
    let early_table = run_in(
        &p.node_ns(0),
        "nft",
        &["list", "table", "ip6", "kube-proxy"],
    );
    let first: Vec<Udp> = from.iter().map(|ns| udp_probe(ns, vip_udp)).collect();
    let early = deployed.elapsed();
    let mut last = first.clone();
    while last.iter().any(|r| *r != Udp::Echo) && deployed.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
        last = from.iter().map(|ns| udp_probe(ns, vip_udp)).collect();
    }
    let synced = lab.wait_for_service_rules().await;
    let table = run_in(
        &p.node_ns(2),
        "nft",
        &["list", "table", "ip6", "kube-proxy"],
    );
    let save6 = run_in(&p.node_ns(2), "ip6tables-save", &[]);
    // Another node's pod, a same-node pod, and the pod itself (hairpin).
    let roundtrips: Vec<(usize, usize, Result<(), String>)> = [(1, 0), (0, 1), (0, 0)]
        .into_iter()
        .map(|(i, j)| (i, j, roundtrip(&p.pod_ns(i, j), vip)))
        .collect();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = udp_server.join();
    drop(tcp_server);
    let id = lab.id().to_string();
    lab.teardown().await.expect("teardown");
    assert_nothing_left(&id, &[]);

    assert!(
        first.iter().all(|r| *r != Udp::Silent),
        "right after deploy an IPv6 Service is refused or (synced) answers: {first:?}"
    );
    assert!(
        first.contains(&Udp::Refused),
        "{early:?} after deploy no node refused the IPv6 Service: {first:?}"
    );
    let early_table = early_table.expect("nft list table ip6 kube-proxy on node-1");
    let reject = format!(
        "{} . udp . {} comment \"{}/{}:udp\" : goto reject-chain",
        p.service_ip6(0, 0),
        ports.udp,
        p.k8s_namespace(),
        p.pod_name(0, 0)
    );
    assert!(
        early_table.contains(&reject),
        "node-1 starts with kube-proxy's no-endpoint-services: {early_table}"
    );
    assert!(
        last.iter().all(|r| *r == Udp::Echo),
        "every node answers once kube-proxy synced: {last:?}"
    );
    synced.expect("every sync done");
    let table = table.expect("nft list table ip6 kube-proxy on node-3");
    assert!(!table.contains(": goto reject-chain"), "{table}");
    assert!(
        table.contains(&format!(
            "dnat ip6 to numgen random mod 1 map {{ 0 : {} . {} }}",
            p.pod_ip6(0, 0),
            ports.tcp
        )),
        "{table}"
    );
    assert!(
        table.contains("dnat ip6 to numgen random mod 2 map"),
        "the DNS Service over its two replicas: {table}"
    );
    let save6 = save6.expect("ip6tables-save on node-3");
    for chain in ["KUBE-SERVICES", "KUBE-SVC-", "KUBE-SEP-", "KUBE-NODEPORTS"] {
        assert!(
            !save6.contains(chain),
            "kube-proxy's {chain} in ip6tables: {save6}"
        );
    }
    for (i, j, r) in roundtrips {
        assert!(
            r.is_ok(),
            "pod ({i},{j}) → IPv6 Service of pod (0,0): {r:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_proxy_down_deletes_both_families_tables() {
    if !require_root() {
        return;
    }
    let fault = netcheck::lab::faults::find("kube-proxy-down").expect("the fault exists");
    let lab = build_dual_nft(2, 1, &[fault]).await.expect("lab builds");
    let p = lab.plan().clone();
    lab.wait_for_service_rules().await.expect("synced");
    let port = netcheck::model::topology::ServePorts::default().tcp;
    let servers = [
        listen_tcp(&p.pod_ns(0, 0), p.pod_ip(0, 0), port),
        listen_tcp(&p.pod_ns(0, 0), p.pod_ip6(0, 0), port),
    ];
    let tables: Vec<Result<String, String>> = (0..2)
        .map(|i| run_in(&p.node_ns(i), "nft", &["list", "tables"]))
        .collect();
    let vips = [
        SocketAddr::from((p.service_ip(0, 0), port)),
        SocketAddr::from((p.service_ip6(0, 0), port)),
    ];
    let healthy: Vec<Result<(), String>> = vips
        .iter()
        .map(|v| roundtrip(&p.pod_ns(0, 0), *v))
        .collect();
    let broken: Vec<Result<(), String>> = vips
        .iter()
        .map(|v| roundtrip(&p.pod_ns(1, 0), *v))
        .collect();
    let by_ip = roundtrip(&p.pod_ns(1, 0), SocketAddr::from((p.pod_ip6(0, 0), port)));
    drop(servers);
    let id = lab.id().to_string();
    lab.teardown().await.expect("teardown");
    assert_nothing_left(&id, &[]);

    let tables: Vec<String> = tables.into_iter().map(|t| t.expect("nft")).collect();
    assert!(
        tables[0].contains("table ip kube-proxy") && tables[0].contains("table ip6 kube-proxy"),
        "{}",
        tables[0]
    );
    assert!(!tables[1].contains("kube-proxy"), "{}", tables[1]);
    assert!(
        healthy.iter().all(Result::is_ok),
        "node-1's Services work in both families: {healthy:?}"
    );
    assert!(
        broken.iter().all(Result::is_err),
        "node-2 has no Service rules left in either family: {broken:?}"
    );
    assert!(
        by_ip.is_ok(),
        "node-2's pods still reach pods by IPv6: {by_ip:?}"
    );
}
