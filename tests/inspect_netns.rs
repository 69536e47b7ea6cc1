//! Host inspection on a real node namespace (root): a flannel-style node is
//! built in a throwaway namespace (bridge with a hairpin pod port, VXLAN on a
//! dummy underlay, kube-proxy-like rules through the real iptables-nft), the
//! real binary runs `agent inspect-host` inside it, and the document must say
//! what was built. Then each host fault breaks a fresh node and the diagnosis
//! must name its finding. Addresses: 198.18.0.0/15 only, inside the namespace.

#![cfg(target_os = "linux")]

use netcheck::diagnose::{Evidence, diagnose};
use netcheck::lab::host_faults;
use netcheck::model::host::HostReport;
use netcheck::model::report::{Check, CheckKind, Endpoint, Protocol, Status};
use netcheck::model::topology::NodeInfo;
use netcheck::model::{Deployment, FindingId};
use std::path::{Path, PathBuf};
use std::process::Command;

fn require_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    if std::env::var("NETCHECK_REQUIRE_LAB").as_deref() == Ok("1") {
        panic!("NETCHECK_REQUIRE_LAB=1 but this test needs root (network namespaces)");
    }
    eprintln!("skipped: host inspection in a network namespace needs root");
    false
}

/// Run a command (`ip -n NS …`, `ip netns exec NS …`); panics with its stderr.
fn sh(args: &[&str], stdin: Option<&str>) {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", args[0]));
    if let Some(mut w) = child.stdin.take() {
        if let Some(input) = stdin {
            w.write_all(input.as_bytes()).expect("stdin");
        }
    }
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A node namespace and its root dir; removed on drop, also after a failure.
struct TestNode {
    ns: String,
    root: tempfile::TempDir,
}

impl Drop for TestNode {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
    }
}

fn fixture(rel: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn build_node() -> TestNode {
    let ns = format!("nci-{:08x}", rand::random::<u32>());
    let root = tempfile::tempdir().expect("tempdir");
    let st = Command::new("ip")
        .args(["netns", "add", &ns])
        .status()
        .expect("ip");
    assert!(st.success(), "ip netns add {ns}");
    let node = TestNode { ns, root };
    let ns = node.ns.as_str();
    let ip = |args: &str| sh(&["ip", "-n", ns, "-batch", "-"], Some(args));
    ip("link set lo up
link add eth0 type veth peer name eth0p
link set eth0p up
addr add 198.18.255.11/24 dev eth0
link set eth0 up
link add cni0 type bridge
addr add 198.18.0.1/24 dev cni0
link set cni0 mtu 1450
link set cni0 up
link add vethpod0 mtu 1450 type veth peer name vethpod0p
link set vethpod0 master cni0
link set vethpod0 type bridge_slave hairpin on
link set vethpod0 up
link add flannel.1 type vxlan id 1 dstport 8472 local 198.18.255.11 dev eth0
link set flannel.1 mtu 1450
link set flannel.1 up
route add 198.18.1.0/24 via 198.18.1.0 dev flannel.1 onlink
");
    for (k, v) in [
        ("net/ipv4/ip_forward", "1"),
        ("net/bridge/bridge-nf-call-iptables", "1"),
        ("net/ipv4/conf/all/rp_filter", "0"),
        ("net/ipv4/conf/default/rp_filter", "0"),
    ] {
        sh(
            &[
                "ip",
                "netns",
                "exec",
                ns,
                "sh",
                "-c",
                &format!("[ ! -e /proc/sys/{k} ] || echo {v} > /proc/sys/{k}"),
            ],
            None,
        );
    }
    let mut rules = fixture("netns/kube-proxy.rules");
    rules.push_str(
        "*filter\n:FLANNEL-FWD - [0:0]\n-A FORWARD -m comment --comment \"flanneld forward\" -j FLANNEL-FWD\n\
         -A FLANNEL-FWD -s 198.18.0.0/17 -j ACCEPT\n-A FLANNEL-FWD -d 198.18.0.0/17 -j ACCEPT\nCOMMIT\n",
    );
    sh(
        &[
            "ip",
            "netns",
            "exec",
            ns,
            "iptables-nft-restore",
            "--noflush",
        ],
        Some(&rules),
    );
    let conf = node.root.path().join("etc/cni/net.d");
    std::fs::create_dir_all(&conf).expect("conf dir");
    std::fs::write(
        conf.join("10-flannel.conflist"),
        fixture("cni/10-flannel.conflist"),
    )
    .expect("conflist");
    let bin = node.root.path().join("opt/cni/bin");
    std::fs::create_dir_all(&bin).expect("bin dir");
    for p in ["flannel", "bridge", "host-local", "portmap", "loopback"] {
        use std::os::unix::fs::PermissionsExt;
        let f = bin.join(p);
        std::fs::write(&f, "#!/bin/sh\nexit 0\n").expect("stub");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    node
}

fn inspect(node: &TestNode) -> HostReport {
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_kubectl-netcheck"));
    let out = Command::new("ip")
        .args(["netns", "exec", &node.ns])
        .arg(&exe)
        .args(["agent", "inspect-host", "--host-root"])
        .arg(node.root.path())
        .args(["--node-name", "node-0"])
        .output()
        .expect("run the agent");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("a HostReport")
}

fn deployment() -> Deployment {
    let mut d = Deployment::default();
    d.cluster.kube_proxy_mode = "iptables".into();
    d.cluster.cni = "flannel".into();
    d.nodes.push(NodeInfo {
        name: "node-0".into(),
        ready: true,
        internal_ips: vec!["198.18.255.11".parse().expect("ip")],
        pod_cidrs: vec!["198.18.0.0/24".parse().expect("cidr")],
        ..Default::default()
    });
    d
}

/// A failed hairpin check from a pod on node-0 (what the planner emits).
fn failed_hairpin() -> Check {
    let pod = Endpoint {
        node: Some("node-0".into()),
        pod: Some("probe-0-0".into()),
        ip: Some("198.18.0.2".parse().expect("ip")),
        name: None,
    };
    Check {
        kind: CheckKind::PodToService,
        source: pod.clone(),
        target: Endpoint {
            ip: Some("198.19.1.2".parse().expect("ip")),
            name: Some("netcheck/probe-0-0".into()),
            ..pod
        },
        protocol: Protocol::Tcp,
        port: Some(7000),
        family: None,
        status: Status::Fail,
        latency_ms: None,
        detail: "timeout (hairpin)".into(),
        path_mtu: None,
        configured_mtu: None,
        expected: None,
        outcome: None,
    }
}

fn findings(h: &HostReport, checks: &[Check]) -> Vec<netcheck::model::Finding> {
    diagnose(&Evidence {
        deployment: &deployment(),
        checks,
        cells: &[],
        hosts: std::slice::from_ref(h),
        policy: None,
    })
}

#[test]
fn a_built_node_reads_back_as_built_and_is_healthy() {
    if !require_root() {
        return;
    }
    let node = build_node();
    let r = inspect(&node);
    assert_eq!(r.node, "node-0");
    let cni = r.cni.as_ref().expect("cni");
    assert_eq!(cni.selected.as_deref(), Some("10-flannel.conflist"));
    assert!(cni.missing_plugins.is_empty(), "{:?}", cni.missing_plugins);
    let fw = r.firewall.as_ref().expect("firewall");
    let nft = fw.backend("nft").expect("iptables-nft readable as root");
    assert!(nft.rule_count >= 17, "{}", nft.rule_count);
    assert_eq!(fw.backend("legacy").map(|b| b.rule_count), Some(0));
    assert_eq!(r.overview.kube_proxy_rules, Some(true));
    assert_eq!(r.overview.iptables_backend.as_deref(), Some("nft"));
    let nft_rs = fw.nftables.as_ref().expect("nft");
    assert!(nft_rs.error.is_none(), "{:?}", nft_rs.error);
    // iptables-nft's own nat table: named, its rules read by iptables-nft-save
    // (not translated a second time by nft).
    assert!(
        nft_rs
            .tables
            .iter()
            .any(|t| t.name == "nat" && t.read_by.as_deref() == Some("iptables-nft-save")),
        "{:?}",
        nft_rs.tables
    );
    let vx = r
        .interfaces
        .iter()
        .find(|i| i.name == "flannel.1")
        .expect("flannel.1");
    let t = vx.tunnel.as_ref().expect("tunnel");
    assert_eq!(
        (vx.kind.as_deref(), t.id, t.port, t.dev.as_deref()),
        (Some("vxlan"), Some(1), Some(8472), Some("eth0"))
    );
    let port = r
        .interfaces
        .iter()
        .find(|i| i.name == "vethpod0")
        .expect("port");
    assert_eq!(
        (port.master.as_deref(), port.hairpin),
        (Some("cni0"), Some(true))
    );
    assert_eq!(r.overview.mtus.get("cni0"), Some(&1450));
    assert!(
        r.routes
            .iter()
            .any(|x| x.dst == "198.18.1.0/24" && x.dev.as_deref() == Some("flannel.1"))
    );
    let s = r.sysctls.as_ref().expect("sysctls");
    assert_eq!(s.ip_forward, Some(1));
    assert!(r.conntrack.is_some());
    let f = findings(&r, &[]);
    assert!(f.is_empty(), "a healthy node has no host finding: {f:#?}");
}

#[test]
fn each_host_fault_produces_its_finding() {
    if !require_root() {
        return;
    }
    for fault in host_faults::all() {
        let node = build_node();
        let n = host_faults::Node {
            ns: &node.ns,
            root: node.root.path(),
            bridge: "cni0",
        };
        (fault.apply)(&n).unwrap_or_else(|e| panic!("{}: {e}", fault.name));
        let r = inspect(&node);
        let checks = if fault.expected == FindingId::HairpinBroken {
            vec![failed_hairpin()]
        } else {
            Vec::new()
        };
        let f = findings(&r, &checks);
        let ids: Vec<FindingId> = f.iter().map(|f| f.id).collect();
        assert!(
            ids.contains(&fault.expected),
            "fault {} should produce {}: got {ids:?}\n{:#?}",
            fault.name,
            fault.expected,
            r.overview
        );
        let mine = f.iter().find(|f| f.id == fault.expected).expect("finding");
        assert_eq!(mine.nodes, vec!["node-0".to_string()], "{}", fault.name);
        assert!(!mine.evidence.is_empty() && !mine.remediation.is_empty());
        // Nothing else on a node with one thing broken.
        let others: Vec<FindingId> = ids
            .iter()
            .copied()
            .filter(|i| *i != fault.expected)
            .collect();
        assert!(
            others.is_empty(),
            "fault {}: unrelated findings {others:?}",
            fault.name
        );
    }
}
