//! `agent inspect-host --host-root /` on this machine: read-only, prints one
//! sensible HostReport whatever the machine is (root or not, Kubernetes
//! node or not). Nothing here changes the machine.

#![cfg(target_os = "linux")]

use netcheck::model::host::HostReport;
use std::process::Command;

#[test]
fn inspect_host_on_this_machine_prints_a_sensible_document() {
    let out = Command::new(env!("CARGO_BIN_EXE_kubectl-netcheck"))
        .args([
            "agent",
            "inspect-host",
            "--host-root",
            "/",
            "--node-name",
            "self",
        ])
        .output()
        .expect("run the binary");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert_eq!(text.lines().count(), 1, "one JSON document on one line");
    let r: HostReport = serde_json::from_str(&text).expect("a HostReport");
    assert_eq!(r.node, "self");
    // CNI: read or a reason.
    let cni = r.cni.as_ref().expect("cni section");
    assert_eq!(cni.conf_dir, "/etc/cni/net.d");
    if cni.conf_dir_error.is_some() {
        assert!(
            r.unavailable
                .iter()
                .any(|u| u.starts_with("cni config: not available"))
        );
    }
    // Firewall: both backends, each parsed or "not available: why"; nft too.
    let fw = r.firewall.as_ref().expect("firewall section");
    let names: Vec<&str> = fw.iptables.iter().map(|b| b.backend.as_str()).collect();
    assert_eq!(names, vec!["legacy", "nft"]);
    for b in &fw.iptables {
        match &b.error {
            Some(e) => assert!(e.starts_with("not available"), "{e}"),
            None => {
                assert!(b.binary.is_some());
                let counted: usize = b.tables.iter().map(|t| t.rules_total()).sum();
                assert_eq!(counted, b.rule_count);
            }
        }
    }
    let nft = fw.nftables.as_ref().expect("nftables section");
    if let Some(e) = &nft.error {
        assert!(e.starts_with("not available"), "{e}");
    }
    // Our own namespace always has a loopback with its MTU, and /proc/sys.
    let lo = r.interfaces.iter().find(|i| i.name == "lo").expect("lo");
    assert!(lo.mtu.unwrap_or(0) > 0);
    let s = r.sysctls.as_ref().expect("sysctls");
    assert!(matches!(s.ip_forward, Some(0) | Some(1)));
    assert!(s.rp_filter.contains_key("all") && s.rp_filter.contains_key("lo"));
    if let Some(ct) = &r.conntrack {
        assert!(ct.max > 0 && ct.percent >= 0.0 && ct.percent <= 100.0 * 2.0);
    }
    // The summary agrees with the sections.
    if s.ip_forward == Some(0) {
        assert!(
            r.overview
                .flagged
                .iter()
                .any(|f| f == "net.ipv4.ip_forward = 0")
        );
    }
}

#[test]
fn a_host_root_that_is_not_a_directory_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_kubectl-netcheck"))
        .args(["agent", "inspect-host", "--host-root", "/nonexistent/host"])
        .output()
        .expect("run the binary");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("--host-root /nonexistent/host is not a directory")
    );
}

#[test]
fn a_host_root_without_cni_files_says_so() {
    let root = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_kubectl-netcheck"))
        .args(["agent", "inspect-host", "--host-root"])
        .arg(root.path())
        .args(["--node-name", "n"])
        .output()
        .expect("run the binary");
    assert!(out.status.success());
    let r: HostReport = serde_json::from_slice(&out.stdout).expect("a HostReport");
    assert!(
        r.unavailable.iter().any(|u| u.contains("cannot read")
            && u.contains("etc/cni/net.d")
            && u.contains("no such directory")),
        "{:?}",
        r.unavailable
    );
}
