//! Host faults: how each breaks a node the way real nodes break, as plain
//! functions over a node's network namespace and its root directory, so the
//! lab's fault units (src/lab/faults/) wrap them in one line each and the
//! tests run them on a throwaway namespace.
//!
//! Every change stays inside the given namespace or under the given root.

use crate::model::FindingId;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// The lab nodes' pod bridge (what flannel's bridge plugin names it).
pub const LAB_BRIDGE: &str = "cni0";

/// A node to break: its network namespace, its root dir, its pod bridge.
#[derive(Debug, Clone, Copy)]
pub struct Node<'a> {
    pub ns: &'a str,
    pub root: &'a Path,
    pub bridge: &'a str,
}

pub struct HostFault {
    /// The `--fault` name.
    pub name: &'static str,
    pub description: &'static str,
    /// The finding the diagnosis must name as the root.
    pub expected: FindingId,
    pub apply: fn(&Node<'_>) -> Result<(), String>,
    /// It copies or changes kube-proxy's rules: the lab applies it once the
    /// node's kube-proxy has synced.
    pub after_service_sync: bool,
}

pub fn all() -> &'static [HostFault] {
    &[
        HostFault {
            name: "forward-drop",
            description: "the node's FORWARD policy is DROP and flannel's accepts are gone (as after Docker starts)",
            expected: FindingId::ForwardPolicyDrop,
            apply: forward_drop,
            after_service_sync: false,
        },
        HostFault {
            name: "ip-forward-off",
            description: "net.ipv4.ip_forward = 0 on the node after its pods started (a `sysctl --system` with a file that turns it off)",
            expected: FindingId::IpForwardDisabled,
            apply: ip_forward_off,
            after_service_sync: false,
        },
        HostFault {
            name: "cni-conflict",
            description: "a lexically earlier Calico config left in the node's CNI dir",
            expected: FindingId::CniConfigConflict,
            apply: cni_conflict,
            after_service_sync: false,
        },
        HostFault {
            name: "backend-mix",
            description: "kube-proxy's nat rules also loaded through iptables-legacy",
            expected: FindingId::IptablesBackendMix,
            apply: backend_mix,
            after_service_sync: true,
        },
        HostFault {
            name: "bridge-nf-off",
            description: "net.bridge.bridge-nf-call-iptables = 0 on the node",
            expected: FindingId::BridgeNfCallDisabled,
            apply: bridge_nf_off,
            after_service_sync: false,
        },
        HostFault {
            name: "conntrack-full",
            description: "the node's conntrack table filled to 95 % by unreplied UDP flows",
            expected: FindingId::ConntrackTableNearFull,
            apply: conntrack_full,
            after_service_sync: false,
        },
        HostFault {
            name: "rp-filter-strict",
            description: "net.ipv4.conf.all.rp_filter = 1 (strict) on the node",
            expected: FindingId::RpFilterStrict,
            apply: rp_filter_strict,
            after_service_sync: false,
        },
        HostFault {
            name: "hairpin-off",
            description: "hairpin mode off on every pod port of the node's bridge",
            expected: FindingId::HairpinBroken,
            apply: hairpin_off,
            after_service_sync: false,
        },
    ]
}

pub fn find(name: &str) -> Option<&'static HostFault> {
    all().iter().find(|f| f.name == name)
}

/// `ip netns exec NS program args…` with optional stdin; stdout or why not.
pub fn netns_exec(
    ns: &str,
    program: &str,
    args: &[&str],
    stdin: Option<&str>,
) -> Result<String, String> {
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns, program])
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run ip netns exec {ns} {program}: {e}"))?;
    if let (Some(input), Some(mut w)) = (stdin, child.stdin.take()) {
        w.write_all(input.as_bytes())
            .map_err(|e| format!("writing to {program} in {ns}: {e}"))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("waiting for {program} in {ns}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{program} {} in {ns} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn sysctl(ns: &str, key: &str, value: &str) -> Result<(), String> {
    let path = format!("/proc/sys/{}", key.replace('.', "/"));
    netns_exec(ns, "sh", &["-c", &format!("echo {value} > {path}")], None).map(drop)
}

fn forward_drop(n: &Node<'_>) -> Result<(), String> {
    netns_exec(n.ns, "iptables", &["-P", "FORWARD", "DROP"], None)?;
    // Docker's own chains, and no accept for pod traffic left.
    let _ = netns_exec(n.ns, "iptables", &["-F", "FLANNEL-FWD"], None);
    netns_exec(
        n.ns,
        "iptables-restore",
        &["--noflush"],
        Some("*filter\n:DOCKER-USER - [0:0]\n-I FORWARD -j DOCKER-USER\n-A DOCKER-USER -j RETURN\nCOMMIT\n"),
    )
    .map(drop)
}

fn ip_forward_off(n: &Node<'_>) -> Result<(), String> {
    sysctl(n.ns, "net.ipv4.ip_forward", "0")
}

fn bridge_nf_off(n: &Node<'_>) -> Result<(), String> {
    sysctl(n.ns, "net.bridge.bridge-nf-call-iptables", "0")
}

fn rp_filter_strict(n: &Node<'_>) -> Result<(), String> {
    sysctl(n.ns, "net.ipv4.conf.all.rp_filter", "1")
}

/// Calico's conflist as its install-cni writes it.
pub const CALICO_CONFLIST: &str = r#"{
  "name": "k8s-pod-network",
  "cniVersion": "0.3.1",
  "plugins": [
    {
      "type": "calico",
      "log_level": "info",
      "datastore_type": "kubernetes",
      "mtu": 1440,
      "ipam": { "type": "calico-ipam" },
      "policy": { "type": "k8s" },
      "kubernetes": { "kubeconfig": "/etc/cni/net.d/calico-kubeconfig" }
    },
    { "type": "portmap", "snat": true, "capabilities": { "portMappings": true } }
  ]
}
"#;

fn cni_conflict(n: &Node<'_>) -> Result<(), String> {
    let dir = n.root.join("etc/cni/net.d");
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let f = dir.join("05-calico.conflist");
    std::fs::write(&f, CALICO_CONFLIST).map_err(|e| format!("writing {}: {e}", f.display()))?;
    // An old Calico install leaves its binaries behind too, beside the
    // node's other plugins (/opt/cni/bin, or /usr/lib/cni as Debian's
    // package and the lab's nodes have them).
    let mut dirs: Vec<std::path::PathBuf> = ["opt/cni/bin", super::nodefs::CNI_BIN_DIR]
        .iter()
        .map(|d| n.root.join(d))
        .filter(|d| d.is_dir())
        .collect();
    if dirs.is_empty() {
        dirs.push(n.root.join("opt/cni/bin"));
    }
    for bin in dirs {
        std::fs::create_dir_all(&bin).map_err(|e| format!("creating {}: {e}", bin.display()))?;
        for p in ["calico", "calico-ipam"] {
            use std::os::unix::fs::PermissionsExt;
            let f = bin.join(p);
            std::fs::write(
                &f,
                "#!/bin/sh\n# left behind by a previous Calico install\nexit 0\n",
            )
            .and_then(|()| std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)))
            .map_err(|e| format!("writing {}: {e}", f.display()))?;
        }
    }
    Ok(())
}

fn backend_mix(n: &Node<'_>) -> Result<(), String> {
    let nat = netns_exec(n.ns, "iptables-nft-save", &["-t", "nat"], None)?;
    if !nat.contains("-A ") {
        return Err(format!(
            "{} has no nat rules to copy into iptables-legacy",
            n.ns
        ));
    }
    netns_exec(n.ns, "iptables-legacy-restore", &[], Some(&nat)).map(drop)
}

fn hairpin_off(n: &Node<'_>) -> Result<(), String> {
    let json = netns_exec(
        n.ns,
        "ip",
        &["-j", "link", "show", "master", n.bridge],
        None,
    )?;
    let ports: Vec<serde_json::Value> =
        serde_json::from_str(&json).map_err(|e| format!("ip -j link show master: {e}"))?;
    let names: Vec<&str> = ports.iter().filter_map(|p| p["ifname"].as_str()).collect();
    if names.is_empty() {
        return Err(format!("{} has no ports on {}", n.ns, n.bridge));
    }
    for name in names {
        netns_exec(
            n.ns,
            "ip",
            &[
                "link",
                "set",
                "dev",
                name,
                "type",
                "bridge_slave",
                "hairpin",
                "off",
            ],
            None,
        )?;
    }
    Ok(())
}

/// Fill the node's conntrack table to 95 % of nf_conntrack_max with real
/// unreplied UDP flows over the node's loopback (a scanner or a UDP flood
/// does this on real nodes). nf_conntrack_max itself is read-only outside
/// the initial namespace (kernel 6.x), and the machine's own value is not
/// ours to change, so the table is filled instead of shrunk. The flows live
/// for nf_conntrack_udp_timeout, raised to 10 minutes inside the namespace;
/// deleting the namespace frees them.
fn conntrack_full(n: &Node<'_>) -> Result<(), String> {
    let ns = n.ns.to_string();
    std::thread::scope(|s| {
        s.spawn(move || fill_conntrack(&ns))
            .join()
            .map_err(|_| "the conntrack filler thread panicked".to_string())?
    })
}

fn fill_conntrack(ns: &str) -> Result<(), String> {
    use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
    use std::os::fd::AsRawFd;
    let path = Path::new("/run/netns").join(ns);
    let f = std::fs::File::open(&path).map_err(|e| format!("open {}: {e}", path.display()))?;
    // SAFETY: setns on a valid netns fd changes only this dedicated thread,
    // which ends when this function returns.
    if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(format!("setns {ns}: {}", std::io::Error::last_os_error()));
    }
    let sys = Path::new("/proc/sys/net/netfilter");
    let read = |k: &str| -> Result<u64, String> {
        std::fs::read_to_string(sys.join(k))
            .map_err(|e| format!("{ns}: read {k}: {e}"))?
            .trim()
            .parse()
            .map_err(|e| format!("{ns}: {k}: {e}"))
    };
    std::fs::write(sys.join("nf_conntrack_udp_timeout"), "600")
        .map_err(|e| format!("{ns}: set nf_conntrack_udp_timeout: {e}"))?;
    let max = read("nf_conntrack_max")?;
    let want = max * 95 / 100;
    let lo = Ipv4Addr::LOCALHOST;
    let mut sockets = 0u32;
    while read("nf_conntrack_count")? < want {
        if sockets > 64 {
            return Err(format!(
                "{ns}: conntrack does not count the flows (is a conntrack match loaded in the namespace?)"
            ));
        }
        let s =
            UdpSocket::bind(SocketAddrV4::new(lo, 0)).map_err(|e| format!("{ns}: bind: {e}"))?;
        sockets += 1;
        let left = want.saturating_sub(read("nf_conntrack_count")?);
        for port in 1..=u16::try_from(left.min(65535)).unwrap_or(u16::MAX) {
            let _ = s.send_to(b"x", SocketAddrV4::new(lo, port));
        }
    }
    Ok(())
}
