//! What a host report keeps of a node's firewall. `iptables-save` on a real
//! cluster is thousands of rules (kube-proxy in iptables mode writes a
//! KUBE-SVC-/KUBE-SEP- chain per Service and endpoint and a KUBE-SERVICES
//! rule per Service port); the CLI holds one report per node, so a report
//! keeps the rules some question reads and counts the rest:
//!
//! | table | rules kept | who reads them |
//! |---|---|---|
//! | filter | ACCEPTs, and DROPs and REJECTs that match on protocol and ports at most ([`query::ports_only`]), not limited to tcp, sctp or icmp; jumps and gotos to the table's own chains | [`query::forward_drop`] (an ACCEPT for pod traffic reached from FORWARD), [`query::overlay_block`] (the first ACCEPT or plain DROP of the overlay's protocol reached from INPUT/OUTPUT), [`query::reached_rules`] (the jumps) |
//! | nat | jumps to KUBE-NODEPORTS | `nodeport-unreachable` (the addresses KUBE-SERVICES sends to KUBE-NODEPORTS) |
//! | any other | none | |
//!
//! Every chain keeps its name, policy, counters and `ruleCount`, except
//! kube-proxy's per-Service and per-endpoint chains, which are counted per
//! prefix in the table's `folded`. In nftables, kube-proxy's per-Service
//! chains of `table ip kube-proxy` (`service-HASH-ns/name/proto/port`,
//! `endpoint-…`) are folded the same way.
//!
//! A question that needs other rules adds them here, with a fixture test
//! ([`crate::inspect::tests`]: every answer is the same on the slim report
//! as on the full one).
//!
//! [`query::forward_drop`]: super::query::forward_drop
//! [`query::overlay_block`]: super::query::overlay_block
//! [`query::reached_rules`]: super::query::reached_rules
//! [`query::ports_only`]: super::query::ports_only

use crate::model::host::{Firewall, IptRule, IptTable, Ipvs, NftRuleset, NftTable, fold_into};

/// kube-proxy's chains per Service (KUBE-SVC-, KUBE-SVL-, KUBE-EXT-,
/// KUBE-FW-, KUBE-XLB- before v1.24) and per endpoint (KUBE-SEP-).
pub const PER_SERVICE_CHAINS: [&str; 6] = [
    "KUBE-SVC-",
    "KUBE-SVL-",
    "KUBE-SEP-",
    "KUBE-EXT-",
    "KUBE-FW-",
    "KUBE-XLB-",
];

/// Tables iptables-nft (or iptables-legacy) can own.
pub const IPTABLES_TABLES: [&str; 5] = ["filter", "nat", "mangle", "raw", "security"];

/// Slim every iptables view and the nftables view of `fw` (idempotent).
pub fn slim_firewall(fw: &mut Firewall) {
    for b in fw.iptables.iter_mut().chain(fw.ip6tables.iter_mut()) {
        for t in b.tables.iter_mut() {
            slim_table(t);
        }
    }
    if let Some(n) = fw.nftables.as_mut() {
        slim_nft(n);
    }
}

/// kube-proxy's IPVS table (a virtual service per Service port, thousands
/// on a real cluster) reduced to those on port 53: the question it answers
/// is whether the cluster DNS Service is there (`kube-proxy-rules-missing`).
pub fn slim_ipvs(t: &mut Ipvs) {
    t.service_count = t.services_total();
    t.services.retain(|s| {
        s.protocol != "FWM" && s.address.rsplit_once(':').is_some_and(|(_, p)| p == "53")
    });
}

/// The per-Service prefix `name` starts with, if any.
fn per_service_prefix(name: &str) -> Option<&'static str> {
    PER_SERVICE_CHAINS.into_iter().find(|p| name.starts_with(p))
}

/// One iptables table: per-Service chains folded, other chains' rules
/// reduced to those a question reads (see the module's table).
pub fn slim_table(t: &mut IptTable) {
    let mut folded = std::mem::take(&mut t.folded);
    t.chains.retain(|c| match per_service_prefix(&c.name) {
        Some(p) => {
            fold_into(&mut folded, p, 1, c.rules_total());
            false
        }
        None => true,
    });
    t.folded = folded;
    let names: Vec<String> = t.chains.iter().map(|c| c.name.clone()).collect();
    let table = t.name.clone();
    for c in t.chains.iter_mut() {
        c.rule_count = c.rules_total();
        c.rules.retain(|r| keeps(&table, r, &names));
    }
}

/// Whether a question reads `r`, a rule of table `table` whose chains are `chains`.
fn keeps(table: &str, r: &IptRule, chains: &[String]) -> bool {
    let target = r.target.as_deref().unwrap_or("");
    // Limited to a protocol no overlay uses (they are udp or ipip) and so
    // not accepting all pod traffic either: kube-proxy's per-Service
    // REJECTs and health-check ACCEPTs are such rules.
    let not_overlay = r.protocol.as_deref().is_some_and(|p| {
        matches!(
            p,
            "tcp" | "6" | "sctp" | "132" | "icmp" | "1" | "icmpv6" | "ipv6-icmp" | "58"
        )
    });
    match table {
        "filter" => match target {
            "ACCEPT" => !not_overlay,
            "DROP" | "REJECT" => !not_overlay && super::query::ports_only(r),
            t => chains.iter().any(|c| c == t),
        },
        "nat" => target == "KUBE-NODEPORTS",
        _ => false,
    }
}

/// kube-proxy's per-Service nftables chain prefix: `service-`, `endpoint-`,
/// `external-` or `firewall-` followed by its 8-character hash and a dash
/// (`service-2QRHZV4L-default/kubernetes/tcp/https`); its fixed chains
/// (`service-endpoints-check`) are not.
fn nft_per_service_prefix(name: &str) -> Option<&'static str> {
    let prefix = ["service-", "endpoint-", "external-", "firewall-"]
        .into_iter()
        .find(|p| name.starts_with(p))?;
    let rest = &name[prefix.len()..];
    let hash = rest.get(..8)?;
    let ok = hash
        .chars()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        && rest[8..].starts_with('-');
    ok.then_some(prefix)
}

/// kube-proxy's per-Service chains of its nftables table folded.
pub fn slim_nft(n: &mut NftRuleset) {
    for t in n.tables.iter_mut().filter(|t| t.name == "kube-proxy") {
        let mut folded = std::mem::take(&mut t.folded);
        t.chains.retain(|c| match nft_per_service_prefix(&c.name) {
            Some(p) if c.hook.is_none() && c.drops.is_empty() => {
                fold_into(&mut folded, p, 1, c.rule_count);
                false
            }
            _ => true,
        });
        t.folded = folded;
    }
}

/// The nftables tables whose rules `iptables-nft-save` (`ip`) and
/// `ip6tables-nft-save` (`ip6`) already read: `(family, name)`. A table
/// they reported as incompatible (made by nft, not by iptables-nft) is
/// not one of them.
pub fn read_by_iptables(fw: &Firewall) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (family, backends) in [("ip", &fw.iptables), ("ip6", &fw.ip6tables)] {
        let Some(b) = backends
            .iter()
            .find(|b| b.backend == "nft" && b.error.is_none())
        else {
            continue;
        };
        for t in b
            .tables
            .iter()
            .filter(|t| IPTABLES_TABLES.contains(&t.name.as_str()))
        {
            let quoted = format!("`{}'", t.name);
            let incompatible = fw
                .notes
                .iter()
                .any(|n| n.contains("incompatible") && n.contains(&quoted));
            if !incompatible {
                out.push((family.to_string(), t.name.clone()));
            }
        }
    }
    out
}

/// An nftables table iptables-nft-save already read, by name only.
pub fn listed_only(family: &str, name: &str, tool: &str) -> NftTable {
    NftTable {
        family: family.to_string(),
        name: name.to_string(),
        read_by: Some(tool.to_string()),
        ..Default::default()
    }
}

/// `ip6tables-nft-save` for family `ip6`, `iptables-nft-save` otherwise.
pub fn reader_of(family: &str) -> &'static str {
    if family == "ip6" {
        "ip6tables-nft-save"
    } else {
        "iptables-nft-save"
    }
}

/// The tables of a whole `nft list ruleset` that iptables-nft-save already
/// read replaced by their names (what the agent, listing only the others,
/// reports): for captured rulesets.
pub fn defer_to_iptables(fw: &mut Firewall) {
    let owned = read_by_iptables(fw);
    if let Some(n) = fw.nftables.as_mut() {
        for t in n.tables.iter_mut() {
            if owned
                .iter()
                .any(|(f, name)| *f == t.family && *name == t.name)
            {
                *t = listed_only(&t.family, &t.name, reader_of(&t.family));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! The slim report answers every question as the full one does, on the
    //! real cluster's captures and the rulesets made by the real tools; and
    //! a node with thousands of Services reports counts, not rules.
    use super::*;
    use crate::inspect::captures::fixture;
    use crate::inspect::{cluster_facts, iptables, nft, query};
    use crate::model::host::{HostReport, IptablesBackend};
    use std::path::Path;

    fn read(rel: &str) -> String {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(rel);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("fixture {}: {e}", p.display()))
    }

    fn backend(name: &str, text: &str) -> IptablesBackend {
        let s = iptables::parse(text);
        IptablesBackend {
            backend: name.into(),
            binary: Some(format!("iptables-{name}-save")),
            rule_count: s.rule_count(),
            version: s.version,
            tables: s.tables,
            error: None,
        }
    }

    /// `base` with every rule of the captures, and the same as the agent reports it.
    fn full_and_slim(
        mut base: HostReport,
        legacy: &str,
        nft_save: &str,
        nft_json: Option<&str>,
    ) -> (HostReport, HostReport) {
        let fw = Firewall {
            iptables: vec![backend("legacy", legacy), backend("nft", nft_save)],
            nftables: nft_json.map(|j| nft::parse(j).expect("nft JSON")),
            ..Default::default()
        };
        base.firewall = Some(fw);
        let mut slim = base.clone();
        let sfw = slim.firewall.as_mut().expect("firewall");
        defer_to_iptables(sfw);
        slim_firewall(sfw);
        (base, slim)
    }

    /// What nodeport-unreachable reads: KUBE-NODEPORTS' rule count and the
    /// addresses KUBE-SERVICES sends to it, per backend.
    fn nodeport_view(h: &HostReport) -> Vec<(String, usize, Vec<Option<String>>)> {
        let mut out = Vec::new();
        for b in h.firewall.iter().flat_map(|f| &f.iptables) {
            let Some(nat) = b.tables.iter().find(|t| t.name == "nat") else {
                continue;
            };
            let count = nat.chain("KUBE-NODEPORTS").map(|c| c.rules_total());
            let jumps = nat
                .chain("KUBE-SERVICES")
                .into_iter()
                .flat_map(|c| &c.rules)
                .filter(|r| r.target.as_deref() == Some("KUBE-NODEPORTS"))
                .map(|r| r.destination.clone())
                .collect();
            out.push((b.backend.clone(), count.unwrap_or(usize::MAX), jumps));
        }
        out
    }

    fn same_answers(what: &str, full: &HostReport, slim: &HostReport) {
        let pods: Vec<ipnet::IpNet> = ["198.18.0.0/17", "198.18.0.0/24", "10.244.0.0/16"]
            .iter()
            .map(|c| c.parse().expect("cidr"))
            .collect();
        let (ffw, sfw) = (full.firewall.as_ref(), slim.firewall.as_ref());
        let (ffw, sfw) = (ffw.expect("firewall"), sfw.expect("firewall"));
        assert_eq!(
            query::kube_proxy_rules(ffw),
            query::kube_proxy_rules(sfw),
            "{what}"
        );
        assert_eq!(
            query::backends_with_rules(ffw),
            query::backends_with_rules(sfw),
            "{what}"
        );
        for p in pods.chunks(1) {
            let f = query::forward_drop(full, p).map(|d| (d.backend, d.policy_line, d.accepts));
            let s = query::forward_drop(slim, p).map(|d| (d.backend, d.policy_line, d.accepts));
            assert_eq!(f, s, "{what}: forward_drop {p:?}");
        }
        if let Some(ov) = query::overlay(full) {
            for port in [ov.port, Some(4789), Some(8472), Some(51820)] {
                let ov = query::Overlay { port, ..ov.clone() };
                assert_eq!(
                    query::overlay_block(full, &ov),
                    query::overlay_block(slim, &ov),
                    "{what}: overlay_block {port:?}"
                );
            }
        }
        assert_eq!(
            cluster_facts::node_kube_proxy_mode(full).map(|m| m.0),
            cluster_facts::node_kube_proxy_mode(slim).map(|m| m.0),
            "{what}"
        );
        assert_eq!(
            query::summarize(full),
            query::summarize(slim),
            "{what}: summary"
        );
        assert_eq!(
            nodeport_view(full),
            nodeport_view(slim),
            "{what}: nodeports"
        );
        // Idempotent, and nothing is lost from the counts.
        let mut again = slim.clone();
        slim_firewall(again.firewall.as_mut().expect("firewall"));
        assert_eq!(&again, slim, "{what}: slim twice");
        for (fb, sb) in ffw.iptables.iter().zip(&sfw.iptables) {
            let total =
                |b: &IptablesBackend| b.tables.iter().map(|t| t.rules_total()).sum::<usize>();
            assert_eq!(total(fb), total(sb), "{what}: {} rules", fb.backend);
            assert_eq!(fb.rule_count, sb.rule_count, "{what}");
        }
    }

    #[test]
    fn the_slim_report_answers_as_the_full_one_on_real_captures() {
        let real = [("host-v1.36/node1", "node1"), ("host-v1.36/node2", "node2")];
        for (dir, node) in real {
            let (full, slim) = full_and_slim(
                fixture(node),
                &read(&format!("{dir}/iptables-legacy-save.txt")),
                &read(&format!("{dir}/iptables-nft-save.txt")),
                Some(&read(&format!("{dir}/nft-ruleset.json"))),
            );
            same_answers(dir, &full, &slim);
        }
        let (full, slim) = full_and_slim(
            fixture("node1"),
            "",
            &read("host-v1.36/turn2/node1-iptables-nft-save-kube-proxy-nftables-mode.txt"),
            Some(&read(
                "host-v1.36/turn2/node1-nft-ruleset-kube-proxy-nftables-mode.json",
            )),
        );
        same_answers("turn2 (nftables mode)", &full, &slim);
        // kube-proxy's own table stays, its per-Service chains counted.
        let kp = slim
            .firewall
            .as_ref()
            .and_then(|f| f.nftables.as_ref())
            .and_then(|n| n.tables.iter().find(|t| t.name == "kube-proxy"));
        let kp = kp.expect("table ip kube-proxy");
        assert!(kp.read_by.is_none());
        // Its sets and maps, counted as the capture holds them: four
        // Service ports, two ClusterIPs, no NodePort Service.
        assert_eq!(kp.set_size("service-ips"), Some(4));
        assert_eq!(kp.set_size("cluster-ips"), Some(2));
        assert_eq!(kp.set_size("nodeport-ips"), Some(1));
        assert_eq!(kp.set_size("service-nodeports"), Some(0));
        assert_eq!(kp.set_size("no-such-map"), None);
        assert!(
            kp.chains
                .iter()
                .any(|c| c.name == "service-endpoints-check")
        );
        assert!(
            !kp.chains
                .iter()
                .any(|c| c.name.starts_with("service-2QRHZV4L"))
        );
        let services = kp.folded.iter().find(|g| g.prefix == "service-");
        assert_eq!(services.map(|g| g.chains), Some(4), "{:?}", kp.folded);
    }

    #[test]
    fn the_slim_report_answers_as_the_full_one_on_rulesets_of_the_real_tools() {
        let node = || fixture("node1");
        let cases = [
            (
                "kube-proxy",
                "",
                "netns/kube-proxy.nft-save.txt",
                Some("netns/kube-proxy.nft.json"),
            ),
            ("docker", "", "netns/docker-forward-drop.nft-save.txt", None),
            (
                "overlay block",
                "",
                "netns/overlay-block.nft-save.txt",
                Some("netns/overlay-block.nft.json"),
            ),
            (
                "native nft",
                "",
                "host-v1.36/node1/iptables-nft-save.txt",
                Some("netns/native-nft.nft.json"),
            ),
            (
                "mix",
                "netns/mix.legacy-save.txt",
                "netns/mix.nft-save.txt",
                None,
            ),
        ];
        for (what, legacy, nft_save, json) in cases {
            let legacy = if legacy.is_empty() {
                String::new()
            } else {
                read(legacy)
            };
            let json = json.map(read);
            let (full, slim) = full_and_slim(node(), &legacy, &read(nft_save), json.as_deref());
            same_answers(what, &full, &slim);
        }
        // And on every CNI's node as its manifests install it.
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cni");
        for e in std::fs::read_dir(&dir).expect("cni fixtures").flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            let Ok(text) = std::fs::read_to_string(e.path().join("iptables-save.txt")) else {
                continue;
            };
            let (full, slim) =
                full_and_slim(crate::inspect::tests::cni_node(&name), "", &text, None);
            same_answers(&name, &full, &slim);
        }
    }

    /// The real node's nat table as the agent reports it: the chains by
    /// name with their counts, the per-Service ones folded, and of the
    /// rules only KUBE-SERVICES' jump to KUBE-NODEPORTS.
    #[test]
    fn the_real_nodes_nat_table_keeps_counts_and_the_nodeport_jump() {
        let r = fixture("node1");
        let b = r
            .firewall
            .as_ref()
            .and_then(|f| f.backend("nft"))
            .expect("nft");
        let nat = b.tables.iter().find(|t| t.name == "nat").expect("nat");
        let svc = nat.chain("KUBE-SERVICES").expect("KUBE-SERVICES");
        assert_eq!(svc.rule_count, 7);
        assert_eq!(svc.rules.len(), 1);
        assert_eq!(svc.rules[0].target.as_deref(), Some("KUBE-NODEPORTS"));
        assert_eq!(
            svc.rules[0].destination.as_deref(),
            Some("198.18.255.11/32")
        );
        let folded: Vec<(&str, usize, usize)> = nat
            .folded
            .iter()
            .map(|g| (g.prefix.as_str(), g.chains, g.rules))
            .collect();
        assert_eq!(folded, vec![("KUBE-SEP-", 7, 14), ("KUBE-SVC-", 6, 13)]);
        assert!(nat.chain("KUBE-SVC-TCOU7JCQXEZGVUNU").is_none());
        let post = nat.chain("POSTROUTING").expect("POSTROUTING");
        assert_eq!((post.rule_count, post.rules.len()), (2, 0));
        // The filter table keeps FORWARD's jumps and flannel's accepts.
        let filter = b
            .tables
            .iter()
            .find(|t| t.name == "filter")
            .expect("filter");
        assert_eq!(filter.chain("FORWARD").map(|c| c.rules.len()), Some(5));
        assert_eq!(filter.chain("FLANNEL-FWD").map(|c| c.rules.len()), Some(2));
        // nft's copy of these tables is named only.
        let nft = r
            .firewall
            .as_ref()
            .and_then(|f| f.nftables.as_ref())
            .expect("nft");
        for t in nft.tables.iter().filter(|t| t.family == "ip") {
            assert_eq!(
                t.read_by.as_deref(),
                Some("iptables-nft-save"),
                "{}",
                t.name
            );
            assert!(t.chains.is_empty());
        }
    }

    /// iptables-save of a node with `services` Services (two endpoints
    /// each, a NodePort each, every tenth without endpoints, every tenth a
    /// health-check node port) as kube-proxy in iptables mode writes it.
    fn many_services(services: usize) -> String {
        let mut nat = String::from(
            "*nat\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n:KUBE-NODEPORTS - [0:0]\n:KUBE-MARK-MASQ - [0:0]\n:KUBE-POSTROUTING - [0:0]\n",
        );
        let mut rules = String::from(
            "-A PREROUTING -j KUBE-SERVICES\n-A OUTPUT -j KUBE-SERVICES\n-A POSTROUTING -j KUBE-POSTROUTING\n-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000\n",
        );
        let mut filter = String::from(
            "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n:KUBE-FORWARD - [0:0]\n:KUBE-EXTERNAL-SERVICES - [0:0]\n:KUBE-NODEPORTS - [0:0]\n-A INPUT -j KUBE-NODEPORTS\n-A INPUT -m conntrack --ctstate NEW -j KUBE-EXTERNAL-SERVICES\n-A FORWARD -m conntrack --ctstate NEW -j KUBE-SERVICES\n-A FORWARD -j KUBE-FORWARD\n-A KUBE-FORWARD -m mark --mark 0x4000/0x4000 -j ACCEPT\n",
        );
        for s in 0..services {
            let ip = format!("198.19.{}.{}", s / 250, s % 250 + 1);
            let svc = format!("KUBE-SVC-{s:016X}");
            nat.push_str(&format!(":{svc} - [0:0]\n"));
            rules.push_str(&format!(
                "-A KUBE-SERVICES -d {ip}/32 -p tcp -m comment --comment \"ns/svc-{s}:http cluster IP\" -m tcp --dport 80 -j {svc}\n"
            ));
            let node_port = 30000 + s % 2700;
            if s % 10 == 0 {
                filter.push_str(&format!(
                    "-A KUBE-SERVICES -d {ip}/32 -p tcp -m comment --comment \"ns/svc-{s}:http has no endpoints\" -m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable\n-A KUBE-EXTERNAL-SERVICES -p tcp -m comment --comment \"ns/svc-{s}:http has no endpoints\" -m addrtype --dst-type LOCAL -m tcp --dport {node_port} -j REJECT --reject-with icmp-port-unreachable\n"
                ));
                continue;
            }
            if s % 10 == 1 {
                filter.push_str(&format!(
                    "-A KUBE-NODEPORTS -m comment --comment \"ns/svc-{s}:http health check node port\" -m tcp -p tcp --dport {} -j ACCEPT\n",
                    node_port + 100
                ));
            }
            rules.push_str(&format!(
                "-A KUBE-NODEPORTS -p tcp -m comment --comment \"ns/svc-{s}:http\" -m tcp --dport {node_port} -j KUBE-EXT-{s:016X}\n"
            ));
            nat.push_str(&format!(":KUBE-EXT-{s:016X} - [0:0]\n"));
            rules.push_str(&format!("-A KUBE-EXT-{s:016X} -j {svc}\n"));
            for e in 0..2 {
                let sep = format!("KUBE-SEP-{s:014X}{e:02}");
                nat.push_str(&format!(":{sep} - [0:0]\n"));
                rules.push_str(&format!(
                    "-A {svc} -m comment --comment \"ns/svc-{s}:http -> 198.18.{e}.{}:8080\" -m statistic --mode random --probability 0.5 -j {sep}\n-A {sep} -s 198.18.{e}.{}/32 -j KUBE-MARK-MASQ\n-A {sep} -p tcp -m tcp -j DNAT --to-destination 198.18.{e}.{}:8080\n",
                    s % 250 + 2,
                    s % 250 + 2,
                    s % 250 + 2
                ));
            }
        }
        rules.push_str("-A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS\n");
        format!("{nat}{rules}COMMIT\n{filter}COMMIT\n")
    }

    #[test]
    fn a_node_with_thousands_of_services_reports_counts_not_rules() {
        let size = |services: usize| {
            let text = many_services(services);
            let (full, slim) = full_and_slim(fixture("node1"), "", &text, None);
            let b = slim
                .firewall
                .as_ref()
                .and_then(|f| f.backend("nft"))
                .expect("nft");
            assert_eq!(
                b.rule_count,
                text.lines().filter(|l| l.starts_with("-A")).count()
            );
            assert_eq!(
                query::kube_proxy_rules(slim.firewall.as_ref().expect("fw")),
                Some(true)
            );
            if services <= 500 {
                same_answers("many services", &full, &slim);
            }
            let json = |h: &HostReport| serde_json::to_string(&h.firewall).map(|s| s.len());
            (json(&full).expect("json"), json(&slim).expect("json"))
        };
        let (full_small, small) = size(20);
        let (full_big, big) = size(5000);
        // The full report grows with every rule (about 6 MB at 5,000
        // Services); the slim one by a few digits of the counts.
        assert!(
            full_big > 100 * full_small / 2,
            "{full_small} -> {full_big}"
        );
        assert!(big < 6_000, "{big} bytes for 5,000 Services");
        assert!(big - small < 100, "{small} -> {big} bytes");
    }

    /// kube-proxy's IPv6 table (the derived dual-stack fixture, README
    /// there): read as the IPv4 one is, its per-Service chains folded, and
    /// each family's question answered on its own table only.
    #[test]
    fn each_family_is_judged_on_its_own_kube_proxy_table() {
        use crate::model::Family;
        let six = nft::parse(&read(
            "derived-v1.36-dualstack/node1-nft-table-ip6-kube-proxy.json",
        ))
        .expect("nft JSON");
        assert_eq!(six.tables.len(), 1);
        let t = &six.tables[0];
        assert_eq!((t.family.as_str(), t.name.as_str()), ("ip6", "kube-proxy"));
        let chain = |n: &str| t.chains.iter().find(|c| c.name == n).expect(n);
        let pre = chain("filter-prerouting-pre-dnat");
        assert_eq!(
            (pre.hook.as_deref(), pre.priority, pre.policy.as_deref()),
            (Some("prerouting"), Some(-110), Some("accept"))
        );
        assert_eq!(chain("nat-postrouting").priority, Some(100));
        assert_eq!(chain("services").rule_count, 3);
        assert_eq!(chain("cluster-ips-check").rule_count, 2);
        assert_eq!(chain("reject-chain").rule_count, 1);
        // 15 fixed chains with 22 rules, and 4 Service chains of one rule.
        assert_eq!(t.chains.len(), 19);
        assert_eq!(t.rule_count, 22 + 4, "{t:#?}");

        let (full, slim) = full_and_slim(
            fixture("node1"),
            "",
            &read("host-v1.36/turn2/node1-iptables-nft-save-kube-proxy-nftables-mode.txt"),
            Some(&read(
                "derived-v1.36-dualstack/node1-nft-ruleset-dualstack.json",
            )),
        );
        same_answers("dual-stack nftables mode", &full, &slim);
        let fw = slim.firewall.clone().expect("firewall");
        let tables = &fw.nftables.as_ref().expect("nft").tables;
        for family in ["ip", "ip6"] {
            let kp = tables
                .iter()
                .find(|t| t.family == family && t.name == "kube-proxy")
                .unwrap_or_else(|| panic!("table {family} kube-proxy"));
            let folded = kp.folded.iter().find(|g| g.prefix == "service-");
            assert_eq!(
                folded.map(|g| g.chains),
                Some(4),
                "{family}: {:?}",
                kp.folded
            );
        }
        let judged = |fw: &Firewall| {
            [Family::Ipv4, Family::Ipv6].map(|f| query::kube_proxy_rules(&fw.for_family(f)))
        };
        assert_eq!(judged(&fw), [Some(true), Some(true)]);
        let without = |family: &str| {
            let mut fw = fw.clone();
            if let Some(n) = fw.nftables.as_mut() {
                n.tables
                    .retain(|t| !(t.family == family && t.name == "kube-proxy"));
            }
            fw
        };
        // The IPv6 table gone: IPv6 has no rules, whatever IPv4's table holds.
        assert_eq!(judged(&without("ip6")), [Some(true), Some(false)]);
        assert_eq!(judged(&without("ip")), [Some(false), Some(true)]);
        // An IPv6-only node shows the mode through its IPv6 table.
        let mut h = slim.clone();
        h.firewall = Some(without("ip"));
        assert_eq!(
            cluster_facts::node_kube_proxy_mode(&h),
            Some(("nftables".into(), "nftables table ip6 kube-proxy".into()))
        );
    }
}
