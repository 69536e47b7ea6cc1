//! Parser tests on captured output: the real two-node cluster
//! (tests/fixtures/host-v1.36), rulesets made by the real iptables and nft in
//! a throwaway namespace (tests/fixtures/netns, see tests/inspect_netns.rs for
//! the live version), CNI configs as the major CNIs ship them
//! (tests/fixtures/cni), and property tests that no input panics a parser.

use super::captures::{Captures, fixture, from_captures};
use super::{cni, iptables, links, nft, query};
use proptest::prelude::*;
use std::path::Path;

fn read(rel: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("fixture {}: {e}", p.display()))
}

fn rule_lines(rel: &str) -> usize {
    read(rel).lines().filter(|l| l.starts_with("-A ")).count()
}

// ------------------------------------------------------------ real cluster

#[test]
fn real_node_cni_is_bridge_with_host_local_and_every_binary() {
    let r = fixture("node1");
    let c = r.cni.as_ref().unwrap();
    assert_eq!(c.selected.as_deref(), Some("10-bridge.conflist"));
    let f = c.selected_file().unwrap();
    assert_eq!(f.name.as_deref(), Some("cbr0"));
    assert_eq!(f.cni_version.as_deref(), Some("0.4.0"));
    assert_eq!(f.types(), vec!["bridge", "portmap"]);
    let bridge = &f.plugins[0];
    assert_eq!(bridge.mtu, Some(1450));
    assert_eq!(bridge.bridge.as_deref(), Some("cni0"));
    assert_eq!(bridge.hairpin_mode, Some(true));
    let ipam = bridge.ipam.as_ref().unwrap();
    assert_eq!(ipam.ipam_type.as_deref(), Some("host-local"));
    assert_eq!(ipam.subnets, vec!["198.18.0.0/24"]);
    assert_eq!(c.binaries.len(), 16);
    assert!(c.missing_plugins.is_empty(), "{:?}", c.missing_plugins);
    let n2 = fixture("node2");
    let s2 = &n2.cni.as_ref().unwrap().selected_file().unwrap().plugins[0];
    assert_eq!(s2.ipam.as_ref().unwrap().subnets, vec!["198.18.1.0/24"]);
}

#[test]
fn real_node_firewall_is_kube_proxy_on_nft_with_empty_legacy() {
    let r = fixture("node1");
    let fw = r.firewall.as_ref().unwrap();
    let nft_b = fw.backend("nft").unwrap();
    let legacy = fw.backend("legacy").unwrap();
    assert_eq!(legacy.rule_count, 0);
    assert_eq!(nft_b.version.as_deref(), Some("v1.8.9 (nf_tables)"));
    let expected_rules = read("host-v1.36/node1/iptables-nft-save.txt")
        .lines()
        .filter(|l| l.starts_with("-A "))
        .count();
    assert_eq!(nft_b.rule_count, expected_rules);
    let names: Vec<&str> = nft_b.tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, vec!["mangle", "filter", "nat"]);
    let filter = &nft_b.tables[1];
    let fwd = filter.chain("FORWARD").unwrap();
    assert_eq!(fwd.policy.as_deref(), Some("ACCEPT"));
    assert_eq!(fwd.packets, Some(0));
    assert_eq!(fwd.rules.len(), 5);
    let flannel = filter.chain("FLANNEL-FWD").unwrap();
    assert_eq!(flannel.policy, None);
    assert_eq!(flannel.rules[0].source.as_deref(), Some("198.18.0.0/17"));
    assert_eq!(flannel.rules[0].target.as_deref(), Some("ACCEPT"));
    assert_eq!(
        flannel.rules[0].comment.as_deref(),
        Some("flanneld forward")
    );
    // A structured kube-proxy Service rule, as the parser reads it (the
    // report counts these: inspect::slim).
    let parsed = iptables::parse(&read("host-v1.36/node1/iptables-nft-save.txt"));
    let nat = &parsed.tables[2];
    let svc = nat.chain("KUBE-SERVICES").unwrap();
    let dns = svc
        .rules
        .iter()
        .find(|r| r.comment.as_deref() == Some("kube-system/kube-dns:dns cluster IP"))
        .unwrap();
    assert_eq!(dns.protocol.as_deref(), Some("udp"));
    assert_eq!(dns.destination.as_deref(), Some("198.19.0.10/32"));
    assert_eq!(dns.dports, vec!["53"]);
    assert_eq!(dns.target.as_deref(), Some("KUBE-SVC-TCOU7JCQXEZGVUNU"));
    let masq = nat
        .chain("KUBE-SVC-TCOU7JCQXEZGVUNU")
        .unwrap()
        .rules
        .first()
        .unwrap();
    assert_eq!(masq.in_interface.as_deref(), Some("!cni0"));
    assert_eq!(query::kube_proxy_rules(fw), Some(true));
    assert_eq!(query::backends_with_rules(fw), vec!["nft"]);
}

#[test]
fn real_node_nft_ruleset_reads_tables_hooks_and_counts() {
    let rs = nft::parse(&read("host-v1.36/node1/nft-ruleset.json")).unwrap();
    assert_eq!(rs.version.as_deref(), Some("1.0.6"));
    assert_eq!(rs.tables.len(), 6);
    let total: usize = rs.tables.iter().map(|t| t.rule_count).sum();
    assert_eq!(total, 88);
    let ip_filter = rs
        .tables
        .iter()
        .find(|t| t.family == "ip" && t.name == "filter")
        .unwrap();
    let fwd = ip_filter
        .chains
        .iter()
        .find(|c| c.name == "FORWARD")
        .unwrap();
    assert_eq!(fwd.hook.as_deref(), Some("forward"));
    assert_eq!(fwd.policy.as_deref(), Some("accept"));
    assert_eq!(fwd.chain_type.as_deref(), Some("filter"));
    assert_eq!(fwd.priority, Some(0));
    assert_eq!(fwd.rule_count, 5);
}

#[test]
fn real_node_sysctls_interfaces_routes_and_conntrack() {
    let r = fixture("node1");
    let s = r.sysctls.as_ref().unwrap();
    assert_eq!(s.ip_forward, Some(1));
    assert_eq!(s.bridge_nf_call_iptables, Some(1));
    assert_eq!(s.rp_filter.get("all"), Some(&0));
    let ct = r.conntrack.as_ref().unwrap();
    assert_eq!((ct.count, ct.max), (155, 262144));
    assert_eq!(ct.percent, 0.1);
    let flannel = r.interfaces.iter().find(|i| i.name == "flannel.1").unwrap();
    assert_eq!(flannel.kind.as_deref(), Some("vxlan"));
    assert_eq!(flannel.mtu, Some(1450));
    let t = flannel.tunnel.as_ref().unwrap();
    assert_eq!(
        (t.id, t.port, t.dev.as_deref()),
        (Some(1), Some(8472), Some("eth0"))
    );
    let cni0 = r.interfaces.iter().find(|i| i.name == "cni0").unwrap();
    assert_eq!(cni0.kind.as_deref(), Some("bridge"));
    assert_eq!(cni0.addresses[0], "198.18.0.1/24");
    let ports: Vec<_> = r
        .interfaces
        .iter()
        .filter(|i| i.master.as_deref() == Some("cni0"))
        .collect();
    assert_eq!(ports.len(), 3);
    assert!(ports.iter().all(|p| p.hairpin == Some(true)));
    let to_node2 = r.routes.iter().find(|x| x.dst == "198.18.1.0/24").unwrap();
    assert_eq!(to_node2.dev.as_deref(), Some("flannel.1"));
    assert_eq!(to_node2.gateway.as_deref(), Some("198.18.1.0"));
}

#[test]
fn real_node_summary_is_what_a_host_view_shows() {
    let r = fixture("node1");
    let s = &r.overview;
    assert_eq!(
        s.cni.as_deref(),
        Some("cbr0 (bridge, portmap) from 10-bridge.conflist")
    );
    assert_eq!(s.kube_proxy_rules, Some(true));
    assert_eq!(s.iptables_backend.as_deref(), Some("nft"));
    assert_eq!(
        s.overlay.as_deref(),
        Some("vxlan flannel.1 (VNI 1, udp/8472, dev eth0)")
    );
    assert_eq!(s.mtus.get("cni0"), Some(&1450));
    assert_eq!(s.mtus.get("flannel.1"), Some(&1450));
    assert_eq!(s.mtus.get("eth0"), Some(&1500));
    assert!(s.flagged.is_empty(), "{:?}", s.flagged);
    // The document round-trips through JSON.
    let json = serde_json::to_string(&r).unwrap();
    let back: crate::model::host::HostReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back, r);
}

// ------------------------------------------------- rulesets from real tools

#[test]
fn kube_proxy_ruleset_made_by_iptables_nft() {
    let s = iptables::parse(&read("netns/kube-proxy.nft-save.txt"));
    assert_eq!(s.version.as_deref(), Some("v1.8.9 (nf_tables)"));
    assert_eq!(s.rule_count(), rule_lines("netns/kube-proxy.rules"));
    let nat = s.tables.iter().find(|t| t.name == "nat").unwrap();
    let svc = nat.chain("KUBE-SVC-TCOU7JCQXEZGVUNU").unwrap();
    assert_eq!(svc.rules[0].source.as_deref(), Some("!198.18.0.0/17"));
    let sep = nat.chain("KUBE-SEP-AGWWTDWIHNFR575R").unwrap();
    assert_eq!(sep.rules[1].target.as_deref(), Some("DNAT"));
    assert!(sep.rules[1].raw.contains("--to-destination 198.18.1.2:53"));
    let rs = nft::parse(&read("netns/kube-proxy.nft.json")).unwrap();
    assert_eq!(
        rs.tables.iter().map(|t| t.rule_count).sum::<usize>(),
        rule_lines("netns/kube-proxy.rules")
    );
}

#[test]
fn docker_forward_drop_is_a_drop_without_a_pod_accept() {
    let s = iptables::parse(&read("netns/docker-forward-drop.nft-save.txt"));
    let filter = s.tables.iter().find(|t| t.name == "filter").unwrap();
    assert_eq!(
        filter.chain("FORWARD").unwrap().policy.as_deref(),
        Some("DROP")
    );
    let mut r = fixture("node1");
    let fw = r.firewall.as_mut().unwrap();
    fw.iptables[1].tables = s.tables.clone();
    fw.iptables[1].rule_count = s.rule_count();
    let pods: Vec<ipnet::IpNet> = vec!["198.18.0.0/24".parse().unwrap()];
    let d = query::forward_drop(&r, &pods).expect("docker's FORWARD DROP drops pod traffic");
    assert_eq!(d.backend, "nft");
    // docker0's accepts are not for pods.
    assert!(d.accepts.iter().any(|a| a.contains("docker0")));
    // flannel's FLANNEL-FWD accept for the pod CIDR makes it harmless.
    let mut with_flannel = s.clone();
    let f = with_flannel
        .tables
        .iter_mut()
        .find(|t| t.name == "filter")
        .unwrap();
    let real = fixture("node1");
    let real_filter = real.firewall.as_ref().unwrap().iptables[1]
        .tables
        .iter()
        .find(|t| t.name == "filter")
        .unwrap()
        .clone();
    f.chains
        .push(real_filter.chain("FLANNEL-FWD").unwrap().clone());
    let fwd = f.chains.iter_mut().find(|c| c.name == "FORWARD").unwrap();
    fwd.rules.push(iptables::parse_rule(
        "-A FORWARD -j FLANNEL-FWD",
        &["-j".into(), "FLANNEL-FWD".into()],
    ));
    r.firewall.as_mut().unwrap().iptables[1].tables = with_flannel.tables;
    assert!(query::forward_drop(&r, &pods).is_none());
}

#[test]
fn legacy_and_nft_mix_counts_rules_in_both() {
    let legacy = iptables::parse(&read("netns/mix.legacy-save.txt"));
    let nft_s = iptables::parse(&read("netns/mix.nft-save.txt"));
    assert_eq!(legacy.version.as_deref(), Some("v1.8.9"));
    assert_eq!(legacy.rule_count(), rule_lines("netns/kube-proxy.rules"));
    assert_eq!(nft_s.rule_count(), rule_lines("netns/kube-proxy.rules"));
    let r = from_captures(&Captures {
        node: "n".into(),
        iptables_legacy_save: Some(read("netns/mix.legacy-save.txt")),
        iptables_nft_save: Some(read("netns/mix.nft-save.txt")),
        ..Default::default()
    });
    assert_eq!(r.overview.iptables_backend.as_deref(), Some("both"));
    assert!(
        r.overview
            .flagged
            .iter()
            .any(|f| f.contains("both iptables backends"))
    );
}

#[test]
fn native_nft_drop_of_the_vxlan_port_is_seen() {
    let rs = nft::parse(&read("netns/native-nft.nft.json")).unwrap();
    let t = rs.tables.iter().find(|t| t.name == "hardening").unwrap();
    assert_eq!(t.family, "inet");
    let input = t.chains.iter().find(|c| c.name == "input").unwrap();
    assert_eq!(input.drops.len(), 1);
    assert_eq!(input.drops[0].protocol.as_deref(), Some("udp"));
    assert_eq!(input.drops[0].dport, Some(8472));
    assert!(!input.drops[0].other_matches);
    let fwd = t.chains.iter().find(|c| c.name == "forward").unwrap();
    assert_eq!(fwd.policy.as_deref(), Some("drop"));
    let mut r = fixture("node1");
    r.firewall.as_mut().unwrap().nftables = Some(rs);
    let ov = query::overlay(&r).unwrap();
    let hit = query::overlay_block(&r, &ov).expect("nft drop of udp/8472");
    assert!(hit.contains("hardening") && hit.contains("8472"), "{hit}");
}

#[test]
fn iptables_drop_of_the_vxlan_port_is_seen_and_others_are_not() {
    let s = iptables::parse(&read("netns/overlay-block.nft-save.txt"));
    let mut r = fixture("node1");
    r.firewall.as_mut().unwrap().iptables[1].tables = s.tables;
    let ov = query::overlay(&r).unwrap();
    let hit = query::overlay_block(&r, &ov).expect("iptables drop of udp/8472");
    assert!(hit.contains("--dport 8472"), "{hit}");
    // A node using VXLAN on 4789 is not hit by that rule.
    for i in r.interfaces.iter_mut().filter(|i| i.name == "flannel.1") {
        i.tunnel.as_mut().unwrap().port = Some(4789);
    }
    let ov = query::overlay(&r).unwrap();
    assert_eq!(ov.port, Some(4789));
    assert_eq!(query::overlay_block(&r, &ov), None);
    // The healthy node has nothing in the way.
    let healthy = fixture("node1");
    assert_eq!(
        query::overlay_block(&healthy, &query::overlay(&healthy).unwrap()),
        None
    );
}

#[test]
fn tokenizer_handles_quotes_escapes_and_negation() {
    let t =
        iptables::tokenize(r#"-A X ! -s 10.0.0.0/8 -m comment --comment "a \"b\" c" -j ACCEPT"#);
    assert_eq!(t[2], "!");
    assert_eq!(t[8], "a \"b\" c");
    let r = iptables::parse_rule("raw", &t[2..]);
    assert_eq!(r.source.as_deref(), Some("!10.0.0.0/8"));
    assert_eq!(r.comment.as_deref(), Some("a \"b\" c"));
    let m = iptables::tokenize("-A X -p udp -m multiport --dports 8472,4789:4790 -j DROP");
    let r = iptables::parse_rule("raw", &m[2..]);
    assert_eq!(r.dports, vec!["8472", "4789:4790"]);
    assert_eq!(r.matches, vec!["multiport"]);
    let e = iptables::tokenize(r#"-m comment --comment """#);
    assert_eq!(e.last().map(String::as_str), Some(""));
}

#[test]
fn iptables_save_with_counters_and_incompatible_tables() {
    let text = "# Generated by iptables-nft-save v1.8.7 (nf_tables) on x\n*filter\n:INPUT ACCEPT [12:3400]\n:FORWARD DROP [5:300]\n# Table `filter' is incompatible, use 'nft' tool.\n[3:180] -A FORWARD -i cni0 -j ACCEPT\ngarbage line\nCOMMIT\n*nat\n:PREROUTING ACCEPT [0:0]\n";
    let s = iptables::parse(text);
    let f = &s.tables[0];
    assert_eq!(f.chain("INPUT").unwrap().bytes, Some(3400));
    assert_eq!(
        f.chain("FORWARD").unwrap().rules[0].in_interface.as_deref(),
        Some("cni0")
    );
    assert!(s.notes.iter().any(|n| n.contains("incompatible")));
    assert!(s.notes.iter().any(|n| n.contains("garbage line")));
    assert!(s.notes.iter().any(|n| n.contains("no COMMIT")));
    assert_eq!(s.tables.len(), 2);
}

// ------------------------------------------------------- CNI as shipped

fn cni_file(name: &str) -> crate::model::host::CniFile {
    cni::parse_file(name, &read(&format!("cni/{name}")))
}

#[test]
fn flannel_delegates_to_bridge_with_host_local() {
    let f = cni_file("10-flannel.conflist");
    assert!(f.is_valid(), "{:?}", f.error);
    assert_eq!(f.types(), vec!["flannel", "bridge", "portmap"]);
    let d = f.plugins[0].delegate.as_ref().unwrap();
    assert_eq!(d.hairpin_mode, Some(true));
    assert_eq!(d.bridge.as_deref(), Some("cni0"));
    assert_eq!(
        cni::required_binaries(&f),
        vec!["flannel", "bridge", "host-local", "portmap"]
    );
    assert_eq!(f.describe(), "cbr0 (flannel → bridge, portmap)");
}

#[test]
fn calico_cilium_weave_kindnet_containerd_and_bridge_conf_parse() {
    let calico = cni_file("10-calico.conflist");
    assert_eq!(calico.types(), vec!["calico", "portmap", "bandwidth"]);
    assert_eq!(calico.plugins[0].mtu, Some(1440));
    assert_eq!(
        cni::required_binaries(&calico),
        vec!["calico", "calico-ipam", "portmap", "bandwidth"]
    );
    let cilium = cni_file("05-cilium.conflist");
    assert_eq!(cilium.name.as_deref(), Some("cilium"));
    assert_eq!(cilium.types(), vec!["cilium-cni"]);
    let weave = cni_file("10-weave.conflist");
    assert_eq!(weave.types(), vec!["weave-net", "portmap"]);
    assert_eq!(weave.plugins[0].hairpin_mode, Some(true));
    let kind = cni_file("10-kindnet.conflist");
    assert_eq!(kind.types(), vec!["ptp", "portmap"]);
    assert_eq!(
        kind.plugins[0].ipam.as_ref().unwrap().subnets,
        vec!["10.244.1.0/24"]
    );
    let ctd = cni_file("10-containerd-net.conflist");
    assert_eq!(
        ctd.plugins[0].ipam.as_ref().unwrap().subnets,
        vec!["10.88.0.0/16", "2001:4860:4860::/64"]
    );
    let conf = cni_file("10-bridge.conf");
    assert!(conf.is_valid());
    assert_eq!(conf.name.as_deref(), Some("mynet"));
    assert_eq!(
        conf.plugins[0].ipam.as_ref().unwrap().subnets,
        vec!["10.22.0.0/16"]
    );
}

#[test]
fn libcni_picks_the_lexically_first_valid_file() {
    let files = vec![
        (
            "10-flannel.conflist".to_string(),
            Ok(read("cni/10-flannel.conflist")),
        ),
        (
            "05-cilium.conflist".to_string(),
            Ok(read("cni/05-cilium.conflist")),
        ),
        (
            "00-broken.conflist".to_string(),
            Ok("{ not json".to_string()),
        ),
        (
            "01-list.conf".to_string(),
            Ok(read("cni/10-weave.conflist")),
        ),
        (
            "02-noname.conflist".to_string(),
            Ok(r#"{"plugins":[{"type":"x"}]}"#.to_string()),
        ),
        (
            "03-empty.conflist".to_string(),
            Ok(r#"{"name":"e","plugins":[]}"#.to_string()),
        ),
        (
            "04-unreadable.conf".to_string(),
            Err("permission denied".to_string()),
        ),
        ("README.md".to_string(), Ok("not a config".to_string())),
        (
            "calico-kubeconfig".to_string(),
            Ok("apiVersion: v1".to_string()),
        ),
    ];
    let bins = Ok(vec![
        "flannel".to_string(),
        "bridge".into(),
        "portmap".into(),
    ]);
    let info = cni::analyse("/etc/cni/net.d", "/opt/cni/bin", files, bins);
    let names: Vec<&str> = info.files.iter().map(|f| f.file.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "00-broken.conflist",
            "01-list.conf",
            "02-noname.conflist",
            "03-empty.conflist",
            "04-unreadable.conf",
            "05-cilium.conflist",
            "10-flannel.conflist"
        ]
    );
    let err = |i: usize| info.files[i].error.clone().unwrap_or_default();
    assert!(err(0).starts_with("invalid: not JSON"), "{}", err(0));
    assert!(err(1).contains("rename it"), "{}", err(1));
    assert!(err(2).contains("no name"), "{}", err(2));
    assert!(err(3).contains("no plugins in list"), "{}", err(3));
    assert!(err(4).contains("permission denied"), "{}", err(4));
    assert_eq!(info.selected.as_deref(), Some("05-cilium.conflist"));
    assert_eq!(info.missing_plugins, vec!["cilium-cni"]);
}

// ------------------------------------------------------------ robustness

#[test]
fn garbage_is_an_error_never_a_panic() {
    assert!(nft::parse("").is_err());
    assert!(nft::parse("{\"nftables\": 3}").is_err());
    // Unknown objects and statements cost only their details.
    let odd = r#"{"nftables":[{"metainfo":{"version":"9.9"}},{"table":{"family":"ip","name":"t","handle":1}},{"chain":{"family":"ip","table":"t","name":"c","hook":"warp","policy":"maybe"}},{"rule":{"family":"ip","table":"t","chain":"c","expr":[{"quantum":{}}]}},{"flux":{}}]}"#;
    let rs = nft::parse(odd).unwrap();
    assert_eq!(rs.tables[0].rule_count, 1);
    assert_eq!(rs.tables[0].chains[0].hook.as_deref(), Some("warp"));
    assert!(links::parse_links("[{]", None).is_err());
    assert!(links::parse_routes("{}").is_err());
    let s = links::sysctls_from(&links::parse_sysctl_lines(
        "net.ipv4.ip_forward = yes\n= 3\n",
    ));
    assert_eq!(s.ip_forward, None);
}

proptest! {
    #[test]
    fn iptables_parser_never_panics(s in "\\PC*") {
        let _ = iptables::parse(&s);
    }

    #[test]
    fn iptables_parser_never_panics_on_rule_like_lines(
        lines in proptest::collection::vec(
            "(\\*[a-z]{1,6}|:[A-Z]{1,5} (ACCEPT|DROP|-) \\[[0-9]{0,3}:[0-9]{0,3}\\]?|-A [A-Z]{1,4}( (!|-p|-s|-j|-g|--dport|--dports|-m|--comment|\"|\\\\|[a-z0-9,:/]{1,6})){0,8}|COMMIT|#.*)",
            0..30)
    ) {
        let s = iptables::parse(&lines.join("\n"));
        prop_assert!(s.rule_count() <= lines.len());
    }

    #[test]
    fn cni_parser_never_panics(name in "[a-z0-9.-]{0,12}\\.(conf|conflist|json)", body in "\\PC*") {
        let f = cni::parse_file(&name, &body);
        prop_assert!(f.is_valid() || f.error.is_some());
    }

    #[test]
    fn cni_parser_never_panics_on_json_shapes(v in json_value()) {
        let text = v.to_string();
        let _ = cni::parse_file("x.conflist", &text);
        let _ = cni::parse_file("x.conf", &text);
        let wrapped = serde_json::json!({"name": "n", "plugins": [v.clone(), {"type": "flannel", "delegate": v.clone()}], "ipam": v});
        let _ = cni::parse_file("y.conflist", &wrapped.to_string());
    }

    #[test]
    fn nft_parser_never_panics_on_text(s in "\\PC*") {
        let _ = nft::parse(&s);
    }

    /// Real output cut short or with one byte changed (a truncated pipe, a
    /// newer tool's field): an error or a partial ruleset, never a panic.
    #[test]
    fn real_outputs_cut_or_corrupted_never_panic(
        which in 0usize..5,
        cut in 0.0f64..1.0,
        at in 0.0f64..1.0,
        byte in any::<u8>(),
    ) {
        let (rel, kind) = [
            ("netns/kube-proxy.nft.json", 0),
            ("host-v1.36/node1/nft-ruleset.json", 0),
            ("netns/kube-proxy.nft-save.txt", 1),
            ("netns/docker-forward-drop.nft-save.txt", 1),
            ("cni/10-flannel.conflist", 2),
        ][which];
        let text = read(rel).into_bytes();
        let end = (text.len() as f64 * cut) as usize;
        let mut bytes = text[..end].to_vec();
        if !bytes.is_empty() {
            let i = ((bytes.len() - 1) as f64 * at) as usize;
            bytes[i] = byte;
        }
        let s = String::from_utf8_lossy(&bytes);
        match kind {
            0 => { let _ = nft::parse(&s); }
            1 => { prop_assert!(iptables::parse(&s).rule_count() <= s.lines().count()); }
            _ => {
                let f = cni::parse_file("10-flannel.conflist", &s);
                prop_assert!(f.is_valid() || f.error.is_some());
            }
        }
    }

    #[test]
    fn nft_and_ip_parsers_never_panic(v in json_value()) {
        let text = serde_json::json!({"nftables": [v.clone(), {"rule": v.clone()}, {"chain": v.clone()}]}).to_string();
        let _ = nft::parse(&text);
        let _ = links::parse_links(&serde_json::json!([v.clone()]).to_string(), Some(&serde_json::json!([v.clone()]).to_string()));
        let _ = links::parse_routes(&serde_json::json!([v]).to_string());
    }
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        "[a-z0-9./:]{0,10}".prop_map(Value::from),
        prop_oneof![
            Just("type"),
            Just("bridge"),
            Just("udp"),
            Just("dport"),
            Just("drop"),
            Just("ifname")
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("type".to_string()),
                    Just("name".to_string()),
                    Just("plugins".to_string()),
                    Just("ipam".to_string()),
                    Just("ranges".to_string()),
                    Just("subnet".to_string()),
                    Just("expr".to_string()),
                    Just("match".to_string()),
                    Just("left".to_string()),
                    Just("right".to_string()),
                    Just("payload".to_string()),
                    Just("ifname".to_string()),
                    Just("linkinfo".to_string()),
                    Just("dst".to_string()),
                    Just("mtu".to_string()),
                    Just("delegate".to_string()),
                    Just("family".to_string()),
                    Just("table".to_string()),
                    "[a-z]{1,6}"
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

// ------------------------------------------------------- the I/O half

/// proxy_arp is read for Calico's pod interfaces (`cali` + 11 hex digits)
/// and `all`, and for nothing on a node without them.
#[cfg(target_os = "linux")]
#[test]
fn proxy_arp_is_read_for_calico_pod_interfaces_only() {
    use super::collect::read_sysctls;
    let dir = tempfile::tempdir().unwrap();
    let sys = dir.path().join("proc-sys");
    let w = |rel: &str, v: &str| {
        let p = sys.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, v).unwrap();
    };
    for (iface, v) in [
        ("all", "0"),
        ("eth0", "0"),
        ("vxlan.calico", "0"),
        ("calic7f546db357", "1"),
        ("cali0123456789a", "0"),
    ] {
        w(
            &format!("net/ipv4/conf/{iface}/proxy_arp"),
            &format!("{v}\n"),
        );
        w(&format!("net/ipv4/conf/{iface}/rp_filter"), "0\n");
    }
    let s = super::links::sysctls_from(&read_sysctls(&sys));
    assert_eq!(
        s.proxy_arp.into_iter().collect::<Vec<_>>(),
        [
            ("all".to_string(), 0),
            ("cali0123456789a".into(), 0),
            ("calic7f546db357".into(), 1)
        ]
    );
    let flannel = dir.path().join("flannel");
    let p = flannel.join("net/ipv4/conf/cni0/proxy_arp");
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, "0\n").unwrap();
    assert!(
        super::links::sysctls_from(&read_sysctls(&flannel))
            .proxy_arp
            .is_empty()
    );
}

#[test]
fn effective_proxy_arp_is_all_or_the_interface() {
    let mut s = crate::model::host::Sysctls::default();
    assert_eq!(s.effective_proxy_arp("cali0123456789a"), None);
    s.proxy_arp.insert("all".into(), 0);
    s.proxy_arp.insert("cali0123456789a".into(), 0);
    assert_eq!(s.effective_proxy_arp("cali0123456789a"), Some(false));
    s.proxy_arp.insert("all".into(), 1);
    assert_eq!(s.effective_proxy_arp("cali0123456789a"), Some(true));
}

#[cfg(target_os = "linux")]
#[test]
fn collect_reads_a_fake_proc_sys_and_host_root_and_reports_what_is_missing() {
    use super::collect::{Options, inspect, read_sysctls};
    let dir = tempfile::tempdir().unwrap();
    let sys = dir.path().join("proc-sys");
    let w = |rel: &str, v: &str| {
        let p = sys.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, v).unwrap();
    };
    w("net/ipv4/ip_forward", "1\n");
    w("net/ipv4/conf/all/rp_filter", "1\n");
    w("net/ipv4/conf/flannel.1/rp_filter", "0\n");
    w("net/netfilter/nf_conntrack_count", "lots\n");
    w("net/netfilter/nf_conntrack_max", "100\n");
    let values = read_sysctls(&sys);
    assert_eq!(
        values
            .get("net.ipv4.conf.flannel.1.rp_filter")
            .map(String::as_str),
        Some("0")
    );
    let root = dir.path().join("host");
    std::fs::create_dir_all(root.join("etc/cni/net.d")).unwrap();
    std::fs::write(
        root.join("etc/cni/net.d/10-flannel.conflist"),
        read("cni/10-flannel.conflist"),
    )
    .unwrap();
    std::fs::write(
        root.join("etc/cni/net.d/00-garbage.conf"),
        "\u{0}\u{1}not json",
    )
    .unwrap();
    let r = inspect(&Options {
        host_root: root.clone(),
        node_name: "n".into(),
        proc_sys: sys,
        ..Options::default()
    });
    let s = r.sysctls.as_ref().unwrap();
    assert_eq!(s.ip_forward, Some(1));
    assert_eq!(s.bridge_nf_call_iptables, None);
    assert_eq!(s.effective_rp_filter("flannel.1"), Some(1));
    assert!(r.conntrack.is_none());
    assert!(
        r.unavailable
            .iter()
            .any(|u| u.starts_with("conntrack: not available")),
        "{:?}",
        r.unavailable
    );
    let c = r.cni.as_ref().unwrap();
    assert_eq!(c.selected.as_deref(), Some("10-flannel.conflist"));
    assert!(
        c.files[0]
            .error
            .as_deref()
            .unwrap()
            .starts_with("invalid: not JSON")
    );
    assert!(
        c.bin_dir_error
            .as_deref()
            .unwrap()
            .contains("no such directory")
    );
    assert!(
        r.unavailable
            .iter()
            .any(|u| u.starts_with("cni binaries: not available"))
    );
}

#[cfg(target_os = "linux")]
#[test]
fn a_tool_only_the_host_has_is_run_through_chroot_and_failures_are_reasons() {
    use super::collect::{Tool, find_tool, run};
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    let sbin = root.path().join("usr/sbin");
    std::fs::create_dir_all(&sbin).unwrap();
    let name = "netcheck-test-only-on-host";
    let f = sbin.join(name);
    // A script whose interpreter does not exist inside that root.
    std::fs::write(&f, "#!/bin/sh-missing\nexit 0\n").unwrap();
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)).unwrap();
    let tool = find_tool(root.path(), name).expect("found under the host root");
    match &tool {
        Tool::HostChroot { path, .. } => {
            assert_eq!(path, Path::new("/usr/sbin").join(name).as_path())
        }
        other => panic!("expected the host's own tool, got {other:?}"),
    }
    assert!(tool.describe().starts_with("chroot "));
    let err = run(&tool, &["-j"], std::time::Duration::from_secs(5)).unwrap_err();
    assert!(err.starts_with("not available: cannot run chroot"), "{err}");
    let missing = find_tool(root.path(), "netcheck-no-such-tool").unwrap_err();
    assert!(missing.contains("nor under the host root"), "{missing}");
    // A tool that hangs is killed at the deadline.
    let sleep = find_tool(Path::new("/"), "sleep").expect("sleep on PATH");
    let err = run(&sleep, &["30"], std::time::Duration::from_millis(200)).unwrap_err();
    assert!(err.contains("did not finish within"), "{err}");
}

#[test]
fn host_view_of_the_real_nodes() {
    let views: Vec<_> = ["node1", "node2"]
        .iter()
        .map(|n| (n.to_string(), fixture(n).overview))
        .collect();
    insta::assert_json_snapshot!(views);
}

#[test]
fn jump_loops_and_fan_out_are_walked_once() {
    let mut text = String::from("*filter\n:FORWARD DROP [0:0]\n");
    for i in 0..50 {
        text.push_str(&format!(":C{i} - [0:0]\n"));
    }
    for i in 0..50 {
        for j in 0..50 {
            text.push_str(&format!("-A C{i} -j C{j}\n"));
        }
        text.push_str(&format!("-A FORWARD -j C{i}\n"));
    }
    text.push_str("COMMIT\n");
    let s = iptables::parse(&text);
    let started = std::time::Instant::now();
    let reached = query::reached_rules(&s.tables[0], "FORWARD");
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    assert_eq!(reached.len(), 50 + 50 * 50);
}

// ------------------------------------------- where the CNI plugins are

/// A host root with the real node's bridge conflist and `plugins` as
/// executables in `bin` (as seen on the node), plus `files` (path, text).
#[cfg(target_os = "linux")]
pub(crate) fn fake_cni_root(
    plugins: &[&str],
    bin: &str,
    files: &[(&str, &str)],
) -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let put = |rel: &str, text: &str| {
        let p = dir.path().join(rel.trim_start_matches('/'));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    };
    let conflist = super::captures::split_cni_dump(&read("host-v1.36/node1/cni-configs.txt"));
    for (name, text) in &conflist {
        put(&format!("etc/cni/net.d/{name}"), text);
    }
    for p in plugins {
        let f = put(&format!("{bin}/{p}"), "#!/bin/sh\n");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    for (rel, text) in files {
        put(rel, text);
    }
    dir
}

#[cfg(target_os = "linux")]
fn cni_of(root: &Path) -> crate::model::host::CniInfo {
    super::collect::read_cni(&super::collect::Options {
        host_root: root.to_path_buf(),
        ..Default::default()
    })
}

#[cfg(target_os = "linux")]
#[test]
fn plugins_only_in_usr_lib_cni_are_found_there() {
    // The real cluster: Debian's containerd and plugins, nothing in /opt/cni/bin.
    let root = fake_cni_root(
        &["bridge", "host-local", "portmap", "loopback"],
        "/usr/lib/cni",
        &[],
    );
    let c = cni_of(root.path());
    assert_eq!(c.bin_dir_error, None);
    assert_eq!(c.bin_dirs, vec!["/usr/lib/cni"]);
    assert_eq!(c.bin_dir, "/usr/lib/cni");
    assert!(c.missing_plugins.is_empty(), "{:?}", c.missing_plugins);
    assert!(
        c.bin_dir_source
            .as_deref()
            .unwrap()
            .contains("every known place"),
        "{:?}",
        c.bin_dir_source
    );
    // A plugin that is an absolute symlink resolves inside the host root,
    // as on the node, not in the agent's own filesystem.
    std::os::unix::fs::symlink(
        "/usr/lib/cni/bridge",
        root.path().join("usr/lib/cni/bridge-link"),
    )
    .unwrap();
    assert!(
        cni_of(root.path())
            .binaries
            .contains(&"bridge-link".to_string())
    );
    // One missing plugin is still missing.
    let root = fake_cni_root(&["bridge", "host-local"], "/usr/lib/cni", &[]);
    assert_eq!(cni_of(root.path()).missing_plugins, vec!["portmap"]);
}

#[cfg(target_os = "linux")]
#[test]
fn the_runtimes_own_bin_dir_wins_over_the_known_places() {
    // containerd says /usr/lib/cni; a stale /opt/cni/bin lacks bridge.
    let toml =
        "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".cni]\n  bin_dir = \"/usr/lib/cni\"\n";
    let root = fake_cni_root(
        &["bridge", "host-local", "portmap"],
        "/usr/lib/cni",
        &[
            ("/etc/containerd/config.toml", toml),
            ("/opt/cni/bin/host-local", ""),
        ],
    );
    let c = cni_of(root.path());
    assert_eq!(c.bin_dirs, vec!["/usr/lib/cni"]);
    assert!(c.missing_plugins.is_empty());
    assert_eq!(
        c.bin_dir_source.as_deref(),
        Some("bin_dir in /etc/containerd/config.toml (plugins.\"io.containerd.grpc.v1.cri\".cni)")
    );
    // The runtime's dir lacks a plugin that a place it does not search has:
    // missing, as the runtime will find it missing.
    let toml = "version = 3\n[plugins.'io.containerd.cri.v1.runtime'.cni]\n  bin_dirs = ['/opt/cni/bin']\n";
    let root = fake_cni_root(
        &["bridge", "host-local"],
        "/opt/cni/bin",
        &[
            ("/etc/containerd/config.toml", toml),
            ("/usr/lib/cni/portmap", ""),
        ],
    );
    let c = cni_of(root.path());
    assert_eq!(c.missing_plugins, vec!["portmap"]);
    assert!(
        c.bin_dir_source
            .as_deref()
            .unwrap()
            .starts_with("bin_dirs in ")
    );
}

#[cfg(target_os = "linux")]
#[test]
fn containerd_imports_are_followed_to_the_plugin_dir() {
    // The main config only imports (Talos, some distributions); the drop-in
    // names /usr/lib/cni, which has the plugins; /opt/cni/bin lacks portmap.
    let main = "version = 2\nimports = [\"/etc/containerd/conf.d/*.toml\"]\n";
    let part =
        "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".cni]\n  bin_dir = \"/usr/lib/cni\"\n";
    let root = fake_cni_root(
        &["bridge", "host-local", "portmap"],
        "/usr/lib/cni",
        &[
            ("/etc/containerd/config.toml", main),
            ("/etc/containerd/conf.d/20-cni.toml", part),
            ("/etc/containerd/conf.d/README", "not toml, not matched"),
            ("/opt/cni/bin/bridge", ""),
            ("/opt/cni/bin/host-local", ""),
        ],
    );
    let c = cni_of(root.path());
    assert_eq!(c.bin_dirs, vec!["/usr/lib/cni"]);
    assert!(c.missing_plugins.is_empty(), "{:?}", c.missing_plugins);
    assert_eq!(
        c.bin_dir_source.as_deref(),
        Some(
            "bin_dir in /etc/containerd/conf.d/20-cni.toml (plugins.\"io.containerd.grpc.v1.cri\".cni)"
        )
    );
}

#[cfg(target_os = "linux")]
#[test]
fn k3s_config_moves_both_the_config_dir_and_the_plugin_dir() {
    use std::os::unix::fs::PermissionsExt;
    let toml = "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".cni]\n  bin_dir = \"/var/lib/rancher/k3s/data/abc/bin\"\n  conf_dir = \"/var/lib/rancher/k3s/agent/etc/cni/net.d\"\n";
    let flannel = read("cni/10-flannel.conflist");
    let root = fake_cni_root(
        &["flannel", "bridge", "host-local", "portmap"],
        "/var/lib/rancher/k3s/data/abc/bin",
        &[
            (
                "/var/lib/rancher/k3s/agent/etc/containerd/config.toml",
                toml,
            ),
            (
                "/var/lib/rancher/k3s/agent/etc/cni/net.d/10-flannel.conflist",
                &flannel,
            ),
        ],
    );
    let c = cni_of(root.path());
    assert_eq!(c.conf_dir, "/var/lib/rancher/k3s/agent/etc/cni/net.d");
    assert_eq!(c.selected.as_deref(), Some("10-flannel.conflist"));
    assert!(
        c.conf_dir_source
            .as_deref()
            .unwrap()
            .starts_with("conf_dir in /var/lib/rancher/k3s")
    );
    assert!(c.missing_plugins.is_empty(), "{:?}", c.missing_plugins);
    // Without the config, k3s's data/<hash>/bin is one of the known places.
    std::fs::remove_file(
        root.path()
            .join("var/lib/rancher/k3s/agent/etc/containerd/config.toml"),
    )
    .unwrap();
    let c = cni_of(root.path());
    assert_eq!(c.bin_dirs, vec!["/var/lib/rancher/k3s/data/abc/bin"]);
    // The flags win over everything.
    let f = root.path().join("elsewhere/bridge");
    std::fs::create_dir_all(f.parent().unwrap()).unwrap();
    std::fs::write(&f, "").unwrap();
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)).unwrap();
    let c = super::collect::read_cni(&super::collect::Options {
        host_root: root.path().to_path_buf(),
        cni_bin_dir: Some("/elsewhere".into()),
        ..Default::default()
    });
    assert_eq!(c.bin_dir_source.as_deref(), Some("--cni-bin-dir"));
    assert_eq!(c.missing_plugins, vec!["host-local", "portmap"]);
}

#[cfg(target_os = "linux")]
#[test]
fn no_plugin_dir_anywhere_says_which_were_tried() {
    let root = fake_cni_root(&[], "/opt/cni/bin", &[]);
    std::fs::remove_dir(root.path().join("opt/cni/bin")).ok();
    let c = cni_of(root.path());
    let e = c.bin_dir_error.unwrap();
    assert!(
        e.contains("/usr/lib/cni") && e.contains("no such directory"),
        "{e}"
    );
    assert!(e.contains("none does"), "{e}");
}

// ------------------------------------------- each CNI as its manifests install it

/// A node of one CNI (tests/fixtures/cni/<dir>/): its conflist, the plugins
/// in its bin dir (`bin.txt`), its devices (`ip-link.json`), its rules
/// (`iptables-save.txt`, nft backend), kube-proxy's IPVS table
/// (`ipvsadm-Ln.txt`) and a config dir other than /etc/cni/net.d
/// (`conf-dir.txt`), where the directory has them.
pub(crate) fn cni_node(dir: &str) -> crate::model::host::HostReport {
    let base = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/cni")
        .join(dir);
    let read = |f: &str| std::fs::read_to_string(base.join(f)).ok();
    let mut files: Vec<(String, String)> = std::fs::read_dir(&base)
        .unwrap_or_else(|e| panic!("{}: {e}", base.display()))
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| cni::is_config_name(n) && n != "ip-link.json")
        .map(|n| {
            let t = read(&n).unwrap_or_default();
            (n, t)
        })
        .collect();
    files.sort();
    let mut r = from_captures(&Captures {
        node: dir.to_string(),
        cni_files: files,
        cni_binaries: read("bin.txt")
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect(),
        iptables_legacy_save: Some(String::new()),
        iptables_nft_save: read("iptables-save.txt"),
        ip_link: read("ip-link.json"),
        ipvsadm: read("ipvsadm-Ln.txt"),
        ..Default::default()
    });
    if let (Some(d), Some(c)) = (read("conf-dir.txt"), r.cni.as_mut()) {
        c.conf_dir = d.trim().to_string();
    }
    r
}

/// What each CNI's node must show.
struct Installed {
    dir: &'static str,
    cni: &'static str,
    plugins: &'static [&'static str],
    /// The main plugin's `mtu` in the conflist.
    conf_mtu: Option<u32>,
    /// A device of the CNI and its MTU.
    device: (&'static str, u32),
    kube_proxy: &'static str,
}

const INSTALLED: &[Installed] = &[
    Installed {
        dir: "calico",
        cni: "calico",
        plugins: &["calico", "portmap", "bandwidth"],
        conf_mtu: Some(1440),
        device: ("vxlan.calico", 1450),
        kube_proxy: "iptables",
    },
    Installed {
        dir: "canal",
        cni: "canal",
        plugins: &["calico", "portmap", "bandwidth"],
        conf_mtu: Some(1450),
        device: ("flannel.1", 1450),
        kube_proxy: "iptables",
    },
    Installed {
        dir: "cilium",
        cni: "cilium",
        plugins: &["cilium-cni"],
        conf_mtu: None,
        device: ("cilium_host", 1500),
        kube_proxy: "replaced by cilium",
    },
    Installed {
        dir: "flannel",
        cni: "flannel",
        plugins: &["flannel", "bridge", "portmap"],
        conf_mtu: None,
        device: ("flannel.1", 1450),
        kube_proxy: "iptables",
    },
    Installed {
        dir: "k3s-flannel",
        cni: "flannel (k3s embedded)",
        plugins: &["flannel", "bridge", "portmap", "bandwidth"],
        conf_mtu: None,
        device: ("flannel.1", 1450),
        kube_proxy: "iptables",
    },
    Installed {
        dir: "kindnet",
        cni: "kindnet",
        plugins: &["ptp", "portmap"],
        conf_mtu: Some(1500),
        device: ("eth0", 1500),
        kube_proxy: "iptables",
    },
    Installed {
        dir: "weave",
        cni: "weave",
        plugins: &["weave-net", "portmap"],
        conf_mtu: None,
        device: ("weave", 1376),
        kube_proxy: "iptables",
    },
    Installed {
        dir: "aws-vpc-cni",
        cni: "aws-vpc-cni",
        plugins: &["aws-cni", "egress-cni", "portmap"],
        conf_mtu: Some(9001),
        device: ("eni3f2a9c1b7d0", 9001),
        kube_proxy: "iptables",
    },
    Installed {
        dir: "azure",
        cni: "azure-cni",
        plugins: &["azure-vnet", "portmap"],
        conf_mtu: None,
        device: ("azv1a2b3c4d5e6", 1500),
        kube_proxy: "iptables",
    },
    Installed {
        dir: "kube-router",
        cni: "bridge+kube-router",
        plugins: &["bridge", "portmap"],
        conf_mtu: None,
        device: ("kube-bridge", 1500),
        kube_proxy: "iptables",
    },
    Installed {
        dir: "kube-proxy-ipvs",
        cni: "flannel",
        plugins: &["flannel", "bridge", "portmap"],
        conf_mtu: None,
        device: ("kube-ipvs0", 1500),
        kube_proxy: "ipvs",
    },
];

#[test]
fn each_cni_is_recognised_with_its_plugins_mtu_and_kube_proxy_mode() {
    use super::cluster_facts::{node_cni, node_kube_proxy_mode};
    for w in INSTALLED {
        let h = cni_node(w.dir);
        let c = h.cni.as_ref().unwrap();
        let f = c
            .selected_file()
            .unwrap_or_else(|| panic!("{}: no valid config: {:?}", w.dir, c.files));
        assert_eq!(f.types(), w.plugins, "{}", w.dir);
        assert_eq!(f.plugins[0].mtu, w.conf_mtu, "{}", w.dir);
        assert!(
            c.missing_plugins.is_empty(),
            "{}: {:?}",
            w.dir,
            c.missing_plugins
        );
        let (name, why) = node_cni(&h).unwrap_or_else(|| panic!("{}: no CNI", w.dir));
        assert_eq!(name, w.cni, "{}: {why}", w.dir);
        assert!(why.contains(&f.file), "{}: {why}", w.dir);
        let dev = h.interfaces.iter().find(|i| i.name == w.device.0).unwrap();
        assert_eq!(dev.mtu, Some(w.device.1), "{}", w.dir);
        let (mode, why) = node_kube_proxy_mode(&h).unwrap_or_else(|| panic!("{}", w.dir));
        assert_eq!(mode, w.kube_proxy, "{}: {why}", w.dir);
        // Weave's nodes keep Docker's FORWARD policy DROP and accept pod
        // traffic in their own rules: worth a look in the host view, not a
        // finding (healthy_nodes_of_every_cni_give_no_finding).
        let flags: &[&str] = match w.dir {
            "weave" => &["filter FORWARD policy DROP (nft)"],
            _ => &[],
        };
        assert_eq!(h.overview.flagged, flags, "{}", w.dir);
    }
}

#[test]
fn cni_specific_details_the_fixtures_pin() {
    use super::cluster_facts::{node_cni, node_kube_proxy_mode};
    // AWS's template leaves its MTU a string; egress-cni brings host-local.
    let aws = cni_node("aws-vpc-cni");
    let f = aws.cni.as_ref().unwrap().selected_file().unwrap();
    assert_eq!(f.plugins[1].mtu, Some(9001));
    assert_eq!(
        cni::required_binaries(f),
        vec!["aws-cni", "egress-cni", "host-local", "portmap"]
    );
    // Calico: the VXLAN device on IANA's port; its chains are not kube-proxy's.
    let calico = cni_node("calico");
    let ov = query::overlay(&calico).unwrap();
    assert_eq!((ov.device.as_str(), ov.port), ("vxlan.calico", Some(4789)));
    let filter = &calico.firewall.as_ref().unwrap().iptables[1].tables[0];
    assert!(filter.chain("cali-FORWARD").is_some());
    // Cilium: no kube-proxy chain, so Services are cilium's; the evidence says so.
    let (_, why) = node_kube_proxy_mode(&cni_node("cilium")).unwrap();
    assert!(
        why.contains("no kube-proxy chain") && why.contains("cilium's cilium_net device"),
        "{why}"
    );
    // Weave's overlay is its fast datapath's VXLAN on 6784.
    let weave = cni_node("weave");
    assert_eq!(query::overlay(&weave).unwrap().port, Some(6784));
    // k3s: the config dir under /var/lib/rancher names the embedded flannel.
    let (_, why) = node_cni(&cni_node("k3s-flannel")).unwrap();
    assert!(
        why.starts_with("/var/lib/rancher/k3s/agent/etc/cni/net.d/10-flannel.conflist"),
        "{why}"
    );
}

#[test]
fn ipvs_table_parsed_into_virtual_services_and_real_servers() {
    let h = cni_node("kube-proxy-ipvs");
    // The report keeps the count and the DNS Service's (port 53) entries.
    let kept = h.ipvs.as_ref().expect("ipvsadm -Ln captured");
    assert_eq!(kept.services_total(), 9);
    let ports: Vec<&str> = kept.services.iter().map(|s| s.address.as_str()).collect();
    assert_eq!(
        ports,
        vec!["10.96.0.10:53", "10.96.0.10:53", "[fd00:10:96::a]:53"]
    );
    let t = &super::ipvs::parse(&read("cni/kube-proxy-ipvs/ipvsadm-Ln.txt"));
    assert_eq!(t.version.as_deref(), Some("1.2.1"));
    assert_eq!(t.services.len(), 9);
    let dns = t.service("udp", "10.96.0.10:53").unwrap();
    assert_eq!(dns.scheduler, "rr");
    let rs: Vec<(&str, &str, i64, u64)> = dns
        .real_servers
        .iter()
        .map(|r| {
            (
                r.address.as_str(),
                r.forward.as_str(),
                r.weight,
                r.inactive_conn,
            )
        })
        .collect();
    assert_eq!(
        rs,
        vec![
            ("10.244.0.3:53", "Masq", 1, 14),
            ("10.244.1.4:53", "Masq", 1, 13)
        ]
    );
    let sticky = t.service("TCP", "10.96.45.12:80").unwrap();
    assert_eq!(sticky.flags, vec!["persistent", "10800"]);
    assert_eq!(
        t.service("tcp", "[fd00:10:96::a]:53")
            .unwrap()
            .real_servers
            .len(),
        1
    );
    assert_eq!(
        t.service("FWM", "7").unwrap().real_servers[0].address,
        "10.244.1.7:0"
    );
    let empty: Vec<&str> = t
        .empty_services()
        .iter()
        .map(|s| s.address.as_str())
        .collect();
    assert_eq!(empty, vec!["10.96.200.9:5432"]);
    let (mode, why) = super::cluster_facts::node_kube_proxy_mode(&h).unwrap();
    assert_eq!(mode, "ipvs");
    assert_eq!(
        why,
        "the kube-ipvs0 device (9 IPVS virtual services) and KUBE-SERVICES chain in iptables-nft"
    );
    // Garbage and a real server before any service: no panic, nothing made up.
    let odd = super::ipvs::parse("  -> 1.2.3.4:80 Masq 1 0 0\nTCP\nTCP 1.1.1.1:80\nhello\n");
    assert!(odd.services.is_empty());
    assert_eq!(super::ipvs::parse("").services.len(), 0);
}

/// Three nodes of one CNI, each node's host-local range its own pod CIDR.
fn cni_cluster(
    dir: &str,
) -> (
    crate::model::Deployment,
    Vec<crate::model::Check>,
    Vec<crate::model::host::HostReport>,
) {
    let d = crate::diagnose::sim::cluster(3);
    let checks = crate::diagnose::sim::run(&d, |_| crate::diagnose::sim::ok());
    let hosts: Vec<_> = d
        .nodes
        .iter()
        .map(|n| {
            let mut h = cni_node(dir);
            h.node = n.name.clone();
            if let (Some(cidr), Some(c)) = (n.pod_cidrs.first(), h.cni.as_mut()) {
                for p in c.files.iter_mut().flat_map(|f| f.plugins.iter_mut()) {
                    if let Some(ipam) = p.ipam.as_mut() {
                        ipam.subnets = vec![cidr.to_string()];
                    }
                }
            }
            h
        })
        .collect();
    let mut d = d;
    d.cluster.cni = "unknown".into();
    d.cluster.kube_proxy_mode = "unknown".into();
    if hosts.iter().any(|h| h.ipvs.is_some()) {
        // The captured cluster's kube-dns ClusterIP (in its ipvsadm -Ln.txt):
        // kube-proxy-rules-missing looks for it in each node's IPVS table.
        if let Some(dns) = d.dns.as_mut() {
            dns.service.ip = "10.96.0.10".parse().expect("an IP");
        }
    }
    let d = super::cluster_facts::with_host_facts(d, &hosts);
    (d, checks, hosts)
}

#[test]
fn healthy_nodes_of_every_cni_give_no_finding() {
    for w in INSTALLED {
        let (d, checks, hosts) = cni_cluster(w.dir);
        assert_eq!(d.cluster.cni, w.cni, "{}", w.dir);
        assert_eq!(d.cluster.kube_proxy_mode, w.kube_proxy, "{}", w.dir);
        let f = crate::diagnose::rules::host::testing::diagnose(&d, &checks, &hosts);
        assert!(f.is_empty(), "{}: {f:#?}", w.dir);
    }
}

#[test]
fn host_checks_name_what_is_wrong_on_each_cni() {
    use crate::model::FindingId;
    let ids = |d: &crate::model::Deployment,
               c: &[crate::model::Check],
               h: &[crate::model::host::HostReport]| {
        crate::diagnose::rules::host::testing::diagnose(d, c, h)
    };
    // AWS without egress-cni on one node: that plugin, on that node.
    let (d, checks, mut hosts) = cni_cluster("aws-vpc-cni");
    let c = hosts[1].cni.as_mut().unwrap();
    let bins: Vec<String> = c
        .binaries
        .iter()
        .filter(|b| *b != "egress-cni")
        .cloned()
        .collect();
    let files: Vec<(String, Result<String, String>)> = ["10-aws.conflist"]
        .iter()
        .map(|f| (f.to_string(), Ok(read(&format!("cni/aws-vpc-cni/{f}")))))
        .collect();
    *c = cni::analyse(&c.conf_dir, &c.bin_dir, files, Ok(bins));
    let f = ids(&d, &checks, &hosts);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].id, FindingId::CniPluginBinaryMissing);
    assert_eq!(f[0].nodes, vec![hosts[1].node.clone()]);
    assert!(f[0].title.contains("egress-cni"), "{}", f[0].title);
    // Weave on two nodes, a leftover Cilium config first in line on the third.
    let (d, checks, mut hosts) = cni_cluster("weave");
    let c = hosts[2].cni.as_mut().unwrap();
    let files = vec![
        (
            "10-weave.conflist".to_string(),
            Ok(read("cni/weave/10-weave.conflist")),
        ),
        (
            "05-cilium.conflist".to_string(),
            Ok(read("cni/cilium/05-cilium.conflist")),
        ),
    ];
    let mut bins = c.binaries.clone();
    bins.push("cilium-cni".into());
    *c = cni::analyse(&c.conf_dir, &c.bin_dir, files, Ok(bins));
    let f = ids(&d, &checks, &hosts);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].id, FindingId::CniConfigConflict);
    assert_eq!(f[0].nodes, vec![hosts[2].node.clone()]);
}
