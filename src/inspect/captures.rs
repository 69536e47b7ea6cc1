//! A host report from captured tool output instead of a live node: what a
//! support bundle or a test fixture holds (`iptables-save` text, `nft -j`
//! JSON, `ip -j` JSON, `sysctl` lines, CNI files). Same parsers as the agent.

use super::{cni, iptables, ipvs, links, nft, query, slim};
use crate::model::host::{Firewall, HostReport, IptablesBackend};

#[derive(Debug, Clone, Default)]
pub struct Captures {
    pub node: String,
    /// CNI config files: (file name, contents).
    pub cni_files: Vec<(String, String)>,
    /// Names in the CNI bin dir.
    pub cni_binaries: Vec<String>,
    pub iptables_legacy_save: Option<String>,
    pub iptables_nft_save: Option<String>,
    pub nft_json: Option<String>,
    /// `key = value` lines.
    pub sysctls: Option<String>,
    pub ip_link: Option<String>,
    pub ip_addr: Option<String>,
    pub ip_route: Option<String>,
    /// `ipvsadm -Ln`.
    pub ipvsadm: Option<String>,
}

/// `== /etc/cni/net.d/NAME` headers followed by each file's contents.
pub fn split_cni_dump(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if let Some(path) = line.strip_prefix("== ") {
            let name = path.rsplit('/').next().unwrap_or(path).trim().to_string();
            out.push((name, String::new()));
        } else if let Some((_, body)) = out.last_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    out
}

/// Executable names from an `ls -l DIR` listing (`-rwxr-xr-x … name`).
pub fn executables_from_ls(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with('-') && l.get(3..4) == Some("x"))
        .filter_map(|l| l.split_whitespace().last().map(str::to_string))
        .collect()
}

pub fn from_captures(c: &Captures) -> HostReport {
    let mut r = HostReport {
        node: c.node.clone(),
        ..Default::default()
    };
    r.cni = Some(cni::analyse(
        "/etc/cni/net.d",
        "/opt/cni/bin",
        c.cni_files
            .iter()
            .map(|(n, t)| (n.clone(), Ok(t.clone())))
            .collect(),
        Ok(c.cni_binaries.clone()),
    ));
    let mut fw = Firewall::default();
    for (backend, text) in [
        ("legacy", &c.iptables_legacy_save),
        ("nft", &c.iptables_nft_save),
    ] {
        let mut b = IptablesBackend {
            backend: backend.into(),
            binary: Some(format!("iptables-{backend}-save (captured)")),
            ..Default::default()
        };
        match text {
            Some(t) => {
                let s = iptables::parse(t);
                b.rule_count = s.rule_count();
                b.version = s.version;
                b.tables = s.tables;
            }
            None => b.error = Some("not available: not captured".into()),
        }
        fw.iptables.push(b);
    }
    fw.nftables = c.nft_json.as_deref().map(|j| match nft::parse(j) {
        Ok(rs) => rs,
        Err(e) => crate::model::host::NftRuleset {
            error: Some(format!("not available: {e}")),
            ..Default::default()
        },
    });
    // What the agent reports: nft's copy of iptables-nft's tables by name,
    // the rules no question reads counted.
    slim::defer_to_iptables(&mut fw);
    slim::slim_firewall(&mut fw);
    r.firewall = Some(fw);
    if let Some(s) = &c.sysctls {
        let v = links::parse_sysctl_lines(s);
        r.sysctls = Some(links::sysctls_from(&v));
        r.conntrack = links::conntrack_from(&v);
    }
    if let Some(l) = &c.ip_link {
        match links::parse_links(l, c.ip_addr.as_deref()) {
            Ok(v) => r.interfaces = v,
            Err(e) => r.unavailable.push(format!("interfaces: {e}")),
        }
    }
    if let Some(rt) = &c.ip_route {
        match links::parse_routes(rt) {
            Ok(v) => r.routes = v,
            Err(e) => r.unavailable.push(format!("routes: {e}")),
        }
    }
    r.ipvs = c.ipvsadm.as_deref().map(ipvs::parse);
    if let Some(t) = r.ipvs.as_mut() {
        slim::slim_ipvs(t);
    }
    r.overview = query::summarize(&r);
    r
}

/// The captured real cluster's nodes (tests/fixtures/host-v1.36/node1, node2).
#[cfg(test)]
pub fn fixture(node: &str) -> HostReport {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/host-v1.36")
        .join(node);
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).ok();
    let dirs = read("cni-dirs.txt").unwrap_or_default();
    let bin_part = dirs.split("/opt/cni/bin:").nth(1).unwrap_or("");
    from_captures(&Captures {
        node: node.to_string(),
        cni_files: split_cni_dump(&read("cni-configs.txt").unwrap_or_default()),
        cni_binaries: executables_from_ls(bin_part),
        iptables_legacy_save: read("iptables-legacy-save.txt"),
        iptables_nft_save: read("iptables-nft-save.txt"),
        nft_json: read("nft-ruleset.json"),
        sysctls: read("sysctls.txt"),
        ip_link: read("ip-link.json"),
        ip_addr: read("ip-addr.json"),
        ip_route: read("ip-route.json"),
        ipvsadm: read("ipvsadm-Ln.txt"),
    })
}
