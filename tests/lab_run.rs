//! `kubectl-netcheck lab` end to end, as a user runs it (root): a healthy lab
//! passes every check; each fault gives its finding as the root with no
//! unrelated error; Ctrl-C, --keep/--destroy and missing root behave.

#![cfg(target_os = "linux")]

mod lab_common;

use lab_common::*;
use netcheck::lab::faults;
use netcheck::lab::flavours::{self, Flavour};
use netcheck::lab::plan::IpFamily;
use netcheck::lab::testing::require_root;
use netcheck::model::Severity;
use serde_json::Value;
use std::collections::BTreeSet;
use std::process::{Command, Output, Stdio};

fn lab(args: &[&str]) -> Output {
    Command::new(exe())
        .arg("lab")
        .args(args)
        .output()
        .expect("run kubectl-netcheck")
}

fn lab_id(stderr: &str) -> Option<String> {
    let at = stderr.find("building lab ")? + "building lab ".len();
    stderr.get(at..at + 5).map(str::to_string)
}

fn error_findings(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "error")
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn healthy_lab_passes_every_check_and_covers_every_kind() {
    if !require_root() {
        return;
    }
    // -v: progress lines on a piped stderr (they carry the lab id).
    let out = lab(&["--nodes", "3", "-o", "json", "-v"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let r = json(&out);
    let failed: Vec<&Value> = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] != "pass")
        .collect();
    assert!(failed.is_empty(), "checks not passing: {failed:#?}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(error_findings(&r).is_empty(), "{:#?}", r["findings"]);
    let host: Vec<&Value> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| HOST_IDS.iter().any(|id| f["id"] == *id))
        .collect();
    assert!(
        host.is_empty(),
        "a healthy lab has no host finding: {host:#?}"
    );
    assert_eq!(
        r["hosts"].as_array().map(Vec::len),
        Some(3),
        "every node inspected"
    );
    // The lab's runtime does not name what it built: only the nodes can.
    assert_ne!(r["cluster"]["cni"], "bridge+vxlan (lab)");

    // Coverage: every protocol same-node and cross-node, Services (hairpin
    // too), DNS through the Service and direct, MTU at the overlay's 1450.
    let mut seen = BTreeSet::new();
    for c in r["checks"].as_array().unwrap() {
        let same = c["source"]["node"] == c["target"]["node"];
        let kind = c["kind"].as_str().unwrap().to_string();
        let proto = c["protocol"].as_str().unwrap().to_string();
        seen.insert((kind.clone(), proto.clone(), same));
        if kind == "mtu" {
            assert_eq!(c["pathMtu"], 1450, "{c}");
        }
        if c["source"]["pod"] == c["target"]["pod"] && kind == "pod-to-service" {
            seen.insert(("hairpin".into(), proto, true));
        }
    }
    for proto in ["icmp", "tcp", "udp", "http"] {
        for same in [true, false] {
            assert!(
                seen.contains(&("pod-to-pod".into(), proto.into(), same)),
                "{proto} same={same}"
            );
        }
    }
    for (kind, proto) in [
        ("pod-to-service", "tcp"),
        ("pod-to-service", "udp"),
        ("hairpin", "tcp"),
        ("dns", "dns"),
        ("mtu", "icmp"),
        ("node-to-pod", "tcp"),
        ("pod-to-node", "tcp"),
        ("pod-to-apiserver", "tcp"),
        ("nodeport", "tcp"),
    ] {
        assert!(
            seen.iter().any(|(k, p, _)| k == kind && p == proto),
            "no {kind}/{proto} check"
        );
    }
    if let Some(id) = lab_id(&stderr) {
        assert_nothing_left(&id, &[]);
    } else {
        panic!("no lab id in the progress output: {stderr}");
    }
}

/// Every flavour in both kube-proxy modes: a healthy 3-node lab passes
/// every check with no finding above info, and the report names the CNI
/// (`cluster.cni` contains the flavour's name) and the mode, from the nodes.
#[test]
fn healthy_lab_in_every_flavour_and_kube_proxy_mode() {
    if !require_root() {
        return;
    }
    let mut problems = Vec::new();
    for cni in flavours::all() {
        for mode in ["iptables", "nftables"] {
            let name = format!("{} with kube-proxy {mode}", cni.name());
            let args = [
                "--nodes",
                "3",
                "-o",
                "json",
                "-v",
                "--cni",
                cni.name(),
                "--kube-proxy",
                mode,
            ];
            let mut out = lab(&args);
            // `dns-slow` is timing: on this shared 2-core machine a loaded
            // moment can push the median DNS answer past 500 ms. Such a run
            // is run once more (its lab removed first); nothing else is.
            if out_is_only_slow_dns(&out) {
                if let Some(id) = lab_id(&String::from_utf8_lossy(&out.stderr)) {
                    assert_nothing_left(&id, &[]);
                }
                out = lab(&args);
            }
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            if out.stdout.is_empty() {
                problems.push(format!("{name}: no report: {stderr}"));
                continue;
            }
            let r = json(&out);
            if out.status.code() != Some(0) {
                problems.push(format!("{name}: exit {:?}", out.status.code()));
            }
            let failed = r["checks"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|c| c["status"] != "pass")
                .count();
            if failed != 0 {
                problems.push(format!("{name}: {failed} checks not passing"));
            }
            let above_info: Vec<&Value> = r["findings"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| f["severity"] != "info")
                .collect();
            if !above_info.is_empty() {
                problems.push(format!("{name}: findings {above_info:#?}"));
            }
            let c = &r["cluster"];
            if !c["cni"].as_str().is_some_and(|s| s.contains(cni.name())) {
                problems.push(format!("{name}: cluster.cni is {}", c["cni"]));
            }
            if c["kubeProxyMode"] != mode {
                problems.push(format!("{name}: kubeProxyMode is {}", c["kubeProxyMode"]));
            }
            for chk in r["checks"].as_array().unwrap() {
                if chk["kind"] == "mtu" && chk["pathMtu"] != cni.pod_mtu(IpFamily::Ipv4) {
                    problems.push(format!("{name}: MTU check {chk}"));
                    break;
                }
            }
            match lab_id(&stderr) {
                Some(id) => assert_nothing_left(&id, &[]),
                None => problems.push(format!("{name}: no lab id: {stderr}")),
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

/// The run's only findings above info are `dns-slow` warnings.
fn out_is_only_slow_dns(out: &Output) -> bool {
    let Ok(r) = serde_json::from_slice::<Value>(&out.stdout) else {
        return false;
    };
    let above: Vec<&Value> = r["findings"]
        .as_array()
        .map(|a| a.iter().filter(|f| f["severity"] != "info").collect())
        .unwrap_or_default();
    !above.is_empty() && above.iter().all(|f| f["id"] == "dns-slow")
}

/// The host findings: a healthy lab has none of them.
const HOST_IDS: [&str; 13] = [
    "forward-policy-drop",
    "ip-forward-disabled",
    "bridge-nf-call-disabled",
    "iptables-backend-mix",
    "kube-proxy-rules-missing",
    "cni-config-missing",
    "cni-config-conflict",
    "cni-plugin-binary-missing",
    "conntrack-table-near-full",
    "rp-filter-strict",
    "pod-cidr-overlap",
    "hairpin-broken",
    "overlay-port-blocked",
];

/// What a host fault's finding must quote (the rule, the file, the value),
/// and whether the failed cells are its evidence (every failed check of the
/// run counted as passing through the broken node).
fn host_evidence(fault: &str) -> Option<(&'static [&'static str], bool)> {
    Some(match fault {
        "forward-drop" => (&[":FORWARD DROP (iptables-nft-save, table filter)"], true),
        "ip-forward-off" => (&["/proc/sys/net/ipv4/ip_forward = 0"], true),
        "cni-conflict" => (
            &[
                "05-calico.conflist",
                "lexically first valid file in /etc/cni/net.d",
            ],
            false,
        ),
        "backend-mix" => (
            &["rules in iptables-legacy", "rules in iptables-nft"],
            false,
        ),
        "bridge-nf-off" => (&["net.bridge.bridge-nf-call-iptables = 0"], true),
        "conntrack-full" => (
            &[
                "net.netfilter.nf_conntrack_count = ",
                "net.netfilter.nf_conntrack_max = ",
            ],
            false,
        ),
        "rp-filter-strict" => (&["net.ipv4.conf.all.rp_filter = 1"], false),
        "hairpin-off" => (&["brport/hairpin_mode = 0", "hairpin checks"], true),
        // Calico's: the interfaces with their pods, and both ports.
        "proxy-arp-off" => (&["/proxy_arp = 0 (pod netcheck-", "169.254.1.1"], true),
        "vxlan-port-mismatch" => (
            &[
                "overlay vxlan vxlan.calico (VNI 4096, udp/4790",
                "node-1, node-2: overlay vxlan.calico on udp/4789",
            ],
            true,
        ),
        _ => return None,
    })
}

/// "142 failed check(s) pass through node-3" → 142.
fn claimed_cells(evidence: &str) -> Option<usize> {
    let (n, _) = evidence.split_once(" failed check(s) pass through ")?;
    n.trim().parse().ok()
}

#[test]
fn each_fault_is_named_as_the_root() {
    if !require_root() {
        return;
    }
    let cni = flavours::default();
    let problems: Vec<String> = faults::all()
        .iter()
        .filter(|f| f.applies_to(cni) && !f.needs_ipv6())
        .flat_map(|f| fault_problems(cni, *f))
        .collect();
    assert!(problems.is_empty(), "{problems:#?}");
}

/// The other flavours: every fault that applies to each is named at its
/// root there too (route-missing only on the routed ones).
#[test]
fn each_fault_is_named_as_the_root_in_every_other_flavour() {
    if !require_root() {
        return;
    }
    let mut problems = Vec::new();
    for cni in flavours::all().iter().skip(1) {
        for f in faults::all()
            .iter()
            .filter(|f| f.applies_to(*cni) && !f.needs_ipv6())
        {
            problems.extend(fault_problems(*cni, *f));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

/// An aggregated report says so, counts passes in cells, and lists no
/// pass of the counted kinds (pod-to-pod, pod-to-service, node-to-pod,
/// pod-to-node) but the flaky ones (failed first, then passed).
fn aggregation_problems(fault: &str, r: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let s = &r["summary"];
    if s["aggregated"] != true || s["checksOmitted"].as_u64().unwrap_or(0) == 0 {
        out.push(format!("{fault}: not aggregated: {s}"));
    }
    let cells = r["cells"].as_array().cloned().unwrap_or_default();
    let omitted: u64 = cells.iter().filter_map(|c| c["omitted"].as_u64()).sum();
    if Some(omitted) != s["checksOmitted"].as_u64() {
        out.push(format!(
            "{fault}: cells omit {omitted}, summary says {}",
            s["checksOmitted"]
        ));
    }
    let counted = ["pod-to-pod", "pod-to-service", "node-to-pod", "pod-to-node"];
    let listed_passes = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "pass" && counted.contains(&c["kind"].as_str().unwrap_or("")))
        // Listed because they failed first: flaky, or waiting for kube-proxy.
        .filter(|c| {
            let d = c["detail"].as_str().unwrap_or("");
            !d.starts_with("flaky: ") && !d.starts_with("waited for kube-proxy: ")
        })
        .count();
    if listed_passes > 0 {
        out.push(format!(
            "{fault}: {listed_passes} counted pass(es) still listed"
        ));
    }
    out
}

/// The same with agents counting passes per cell (`--aggregate`, what runs
/// past 20,000 probes): the report lists failures and cells, and every fault
/// is still named at its root.
#[test]
fn each_fault_is_named_as_the_root_when_agents_aggregate() {
    if !require_root() {
        return;
    }
    let cni = flavours::default();
    let problems: Vec<String> = faults::all()
        .iter()
        .filter(|f| f.applies_to(cni) && !f.needs_ipv6())
        .flat_map(|f| fault_problems_with(cni, *f, &["--aggregate"]))
        .collect();
    assert!(problems.is_empty(), "{problems:#?}");
}

/// The same with kube-proxy in nftables mode: every fault, not only
/// kube-proxy's own, is named at its root whichever way Services are
/// programmed (the backend mix, the FORWARD drop and bridge-nf-off meet
/// `table ip kube-proxy` instead of KUBE-SERVICES). kube-proxy's own faults
/// have their nftables tests in lab_run_nftables (deleting the table leaves
/// no kube-proxy rules at all: `kube-proxy-rules-missing` is the root there).
#[test]
fn each_fault_is_named_at_its_root_in_nftables_mode() {
    if !require_root() {
        return;
    }
    let cni = flavours::default();
    let own = ["kube-proxy-down", "nodeport-down"];
    let problems: Vec<String> = faults::all()
        .iter()
        .filter(|f| f.applies_to(cni) && !f.needs_ipv6() && !own.contains(&f.name()))
        .flat_map(|f| fault_problems_with(cni, *f, &["--kube-proxy", "nftables"]))
        .collect();
    assert!(problems.is_empty(), "{problems:#?}");
}

/// The same on an IPv6-only lab: every fault that does not change IPv4's
/// switches alone (those are usage errors there) is named at its root.
#[test]
fn each_fault_is_named_at_its_root_on_an_ipv6_only_lab() {
    if !require_root() {
        return;
    }
    let cni = flavours::default();
    let problems: Vec<String> = faults::all()
        .iter()
        .filter(|f| f.applies_to(cni) && f.needs_ipv4().is_none())
        .flat_map(|f| fault_problems_with(cni, *f, &["--ip-family", "ipv6"]))
        .collect();
    assert!(problems.is_empty(), "{problems:#?}");
}

/// One fault on one flavour: exit code, exactly the expected error finding,
/// its severity, and what it must quote.
fn fault_problems(cni: &dyn Flavour, f: &dyn faults::Fault) -> Vec<String> {
    fault_problems_with(cni, f, &[])
}

/// [`fault_problems`] with more flags (`extra`).
fn fault_problems_with(cni: &dyn Flavour, f: &dyn faults::Fault, extra: &[&str]) -> Vec<String> {
    let mut problems = Vec::new();
    let name = format!("{} on {}", f.name(), cni.name());
    let mut args = vec![
        "--nodes",
        "3",
        "-o",
        "json",
        "-v",
        "--cni",
        cni.name(),
        "--fault",
        f.name(),
    ];
    args.extend_from_slice(extra);
    let out = lab(&args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if out.stdout.is_empty() {
        return vec![format!("{name}: no report: {stderr}")];
    }
    let r = json(&out);
    if extra.contains(&"--aggregate") {
        problems.extend(aggregation_problems(&name, &r));
    }
    let errors = error_findings(&r);
    let want = f.expected().as_str();
    // A warning root (the fault breaks nothing the probes send) leaves
    // the run passing: exit 0, and 1 only with --fail-on warning.
    let (want_errors, want_exit) = match f.severity() {
        Severity::Error => (vec![want.to_string()], 1),
        _ => (Vec::new(), 0),
    };
    if out.status.code() != Some(want_exit) {
        problems.push(format!(
            "{name}: exit {:?}, want {want_exit}",
            out.status.code()
        ));
    }
    if errors != want_errors {
        problems.push(format!(
            "{name}: error findings {errors:?}, want exactly {want_errors:?}"
        ));
    }
    let finding = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == want)
        .cloned()
        .unwrap_or(Value::Null);
    if finding["severity"] != f.severity().as_str() {
        problems.push(format!(
            "{name}: {want} has severity {}, want {}",
            finding["severity"],
            f.severity().as_str()
        ));
    }
    if f.name() == "underlay-mtu" {
        let mtu = finding.to_string();
        // 1400 on the wire, minus 50 for VXLAN on an overlay (+4: the
        // kernel lets a VLAN tag's worth through a veth), against the
        // pods' own MTU: the finding says both.
        let path = 1400 - if cni.overlay().is_some() { 50 } else { 0 };
        let seen_path = [path, path + 4]
            .iter()
            .any(|p| mtu.contains(&p.to_string()));
        if !seen_path || !mtu.contains(&cni.pod_mtu(IpFamily::Ipv4).to_string()) {
            problems.push(format!(
                "{name}: finding lacks path ({path})/configured ({}) MTU: {mtu}",
                cni.pod_mtu(IpFamily::Ipv4)
            ));
        }
    }
    if f.name() == "route-missing" {
        let text = finding.to_string();
        if finding["nodes"] != serde_json::json!(["node-3", "node-1"])
            || !text.contains("198.18.0.0/24")
        {
            problems.push(format!(
                "{name}: the finding must name node-3, node-1 and 198.18.0.0/24: {finding}"
            ));
        }
    }
    if f.name() == "nodeport-down" && finding["nodes"] != serde_json::json!(["node-3"]) {
        problems.push(format!(
            "{name}: {want} names {}, want [node-3]",
            finding["nodes"]
        ));
    }
    if let Some((quotes, cells)) = host_evidence(f.name()) {
        problems.extend(host_root_problems(&name, &r, &finding, quotes, cells));
    }
    if f.severity() != Severity::Error {
        let strict = lab(&[
            "--nodes",
            "3",
            "-q",
            "--fail-on",
            "warning",
            "--cni",
            cni.name(),
            "--fault",
            f.name(),
        ]);
        if strict.status.code() != Some(1) {
            problems.push(format!(
                "{name}: --fail-on warning exits {:?}, want 1",
                strict.status.code()
            ));
        }
        if let Some(id) = lab_id(&String::from_utf8_lossy(&strict.stderr)) {
            assert_nothing_left(&id, &[]);
        }
    }
    if let Some(id) = lab_id(&stderr) {
        assert_nothing_left(&id, &[]);
    }
    problems
}

/// A host fault's finding names the broken node (the last), quotes the
/// state, and, when probes failed, claims every failed cell of the run.
fn host_root_problems(
    fault: &str,
    r: &Value,
    finding: &Value,
    quotes: &[&str],
    cells: bool,
) -> Vec<String> {
    let mut problems = Vec::new();
    let node = "node-3";
    if finding["nodes"] != serde_json::json!([node]) {
        problems.push(format!(
            "{fault}: nodes {}, want [{node}]",
            finding["nodes"]
        ));
    }
    let evidence: Vec<&str> = finding["evidence"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !evidence
        .first()
        .is_some_and(|e| e.starts_with(&format!("{node}: ")))
    {
        problems.push(format!(
            "{fault}: evidence does not start with the node: {evidence:?}"
        ));
    }
    for q in quotes {
        if !evidence.iter().any(|e| e.contains(q)) {
            problems.push(format!("{fault}: evidence lacks {q:?}: {evidence:#?}"));
        }
    }
    let failed = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "fail" || c["status"] == "error")
        .count();
    let claimed = evidence.iter().find_map(|e| claimed_cells(e));
    if cells {
        if failed == 0 || claimed != Some(failed) {
            problems.push(format!(
                "{fault}: {failed} failed checks, the finding claims {claimed:?} as its evidence"
            ));
        }
    } else if failed != 0 {
        problems.push(format!(
            "{fault}: breaks no probe path, yet {failed} checks failed"
        ));
    }
    problems
}

#[test]
fn ctrl_c_removes_the_lab() {
    if !require_root() {
        return;
    }
    let mut child = Command::new(exe())
        .args(["lab", "--nodes", "4", "-v"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the build to start, then interrupt it mid-way.
    use std::io::{BufRead, BufReader};
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let mut line = String::new();
    while err.read_line(&mut line).unwrap_or(0) > 0 {
        seen.push_str(&line);
        if line.contains("building 4 nodes") {
            break;
        }
        line.clear();
    }
    let id = lab_id(&seen).expect("lab id in progress output");
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
    let status = child.wait().unwrap();
    // 130, as `run` and every shell tool interrupted by Ctrl-C.
    assert_eq!(status.code(), Some(130), "{seen}{rest}");
    assert!(
        rest.contains("interrupted") && rest.contains("removed"),
        "{rest}"
    );
    assert_nothing_left(&id, &[]);
}

#[test]
fn keep_then_destroy() {
    if !require_root() {
        return;
    }
    let out = lab(&[
        "--nodes",
        "2",
        "--pods-per-node",
        "1",
        "--keep",
        "--no-host",
        "--checks",
        "pod-to-pod",
        "-q",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let at = stderr.find("--destroy ").expect("tells how to remove it") + "--destroy ".len();
    let id = stderr[at..at + 5].to_string();
    let list = Command::new("ip").args(["netns", "list"]).output().unwrap();
    assert!(String::from_utf8_lossy(&list.stdout).contains(&format!("nc{id}-n1")));
    assert!(
        !netcheck::lab::state::LabState::load(&std::path::Path::new("/run/netcheck").join(&id))
            .unwrap()
            .owner_alive()
    );
    let out = lab(&["--destroy", &id]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_nothing_left(&id, &[]);
    let out = lab(&["--destroy", &id]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unknown lab is a usage error"
    );
}

#[test]
fn without_root_it_says_so_and_exits_3() {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(exe());
    cmd.args(["lab", "--nodes", "2"]);
    if netcheck::lab::is_root() {
        cmd.uid(65534).gid(65534);
    }
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim(),
        "error: kubectl netcheck lab needs root (network namespaces): run it with sudo"
    );
}

#[test]
fn bad_flags_exit_2_and_list_faults() {
    let out = lab(&["--fault", "no-such-fault"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for f in faults::all() {
        assert!(stderr.contains(f.name()), "{stderr}");
    }
    assert_eq!(lab(&["--nodes", "0"]).status.code(), Some(2));
    assert_eq!(lab(&["--pairs", "some"]).status.code(), Some(2));
    assert_eq!(lab(&["--checks", "pod-to-moon"]).status.code(), Some(2));
    assert_eq!(lab(&["--cni", "weave"]).status.code(), Some(2));
    let out = lab(&["--cni", "kindnet", "--fault", "hairpin-off"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not apply to --cni kindnet"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = lab(&["--list-faults"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), faults::all().len());
}
