//! docs/schema/report.schema.json describes what `-o json` prints: every
//! scenario's JSON validates, the schema rejects what the model would never
//! write, and it knows every finding ID. Reports saved from real runs
//! (tests/data/reports/*.json, added from lab and cluster runs) validate too.

mod render_support;

use netcheck::cli::OutputFormat;
use netcheck::model::FindingId;
use netcheck::render::{RenderOptions, render};
use serde_json::Value;
use std::path::Path;

fn schema() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/schema/report.schema.json");
    let text = std::fs::read_to_string(&path).expect("docs/schema/report.schema.json exists");
    serde_json::from_str(&text).expect("the schema is JSON")
}

fn validator() -> jsonschema::Validator {
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema())
        .expect("the schema is a valid JSON Schema")
}

fn errors(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn every_scenario_validates() {
    let v = validator();
    let extra = [("nodeport_down", render_support::nodeport_down())];
    for (name, r) in render_support::all().into_iter().chain(extra) {
        let text = render(&r, OutputFormat::Json, &RenderOptions::default());
        let doc: Value = serde_json::from_str(&text).expect("-o json is JSON");
        let errs = errors(&v, &doc);
        assert!(errs.is_empty(), "{name}: {errs:#?}");
    }
}

#[test]
fn aggregated_reports_validate() {
    let v = validator();
    for (name, r) in render_support::all() {
        let r = render_support::aggregated(&r);
        let text = render(&r, OutputFormat::Json, &RenderOptions::default());
        let doc: Value = serde_json::from_str(&text).expect("-o json is JSON");
        let errs = errors(&v, &doc);
        assert!(errs.is_empty(), "{name}: {errs:#?}");
        assert_eq!(doc["summary"]["aggregated"], true, "{name}");
        assert!(
            doc["summary"]["checksOmitted"].as_u64().unwrap_or(0) > 0,
            "{name}"
        );
        assert!(!doc["cells"].as_array().unwrap().is_empty(), "{name}");
    }
    // And the schema knows the flag's one value.
    let mut doc: Value = serde_json::from_str(&render(
        &render_support::aggregated(&render_support::healthy()),
        OutputFormat::Json,
        &RenderOptions::default(),
    ))
    .expect("JSON");
    doc["summary"]["aggregated"] = Value::Bool(false);
    assert!(
        !errors(&v, &doc).is_empty(),
        "aggregated: false is never written"
    );
}

#[test]
fn saved_real_reports_validate() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/reports");
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e} (saved lab runs belong there)", dir.display()));
    let v = validator();
    let mut seen = Vec::new();
    for e in entries.flatten() {
        let p = e.path();
        if p.extension().and_then(|x| x.to_str()) != Some("json") {
            continue;
        }
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&p).expect("readable"))
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let errs = errors(&v, &doc);
        assert!(errs.is_empty(), "{}: {errs:#?}", p.display());
        seen.push(
            p.file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("")
                .to_string(),
        );
    }
    // The healthy lab and each data-plane fault (more may be added).
    for want in [
        "healthy",
        "node-isolated",
        "cross-node-drop",
        "dns-down",
        "kube-proxy-down",
        "underlay-mtu",
    ] {
        assert!(
            seen.iter().any(|s| s == want),
            "no {want}.json among {seen:?}"
        );
    }
}

#[test]
fn the_schema_rejects_what_the_model_never_writes() {
    let v = validator();
    let r = render_support::node_isolated();
    let good: Value = serde_json::from_str(&netcheck::render::json(&r)).expect("json");
    assert!(errors(&v, &good).is_empty());

    let mutate = |f: &dyn Fn(&mut Value)| {
        let mut d = good.clone();
        f(&mut d);
        d
    };
    let bad = [
        (
            "status",
            mutate(&|d| d["checks"][0]["status"] = "passed".into()),
        ),
        (
            "kind",
            mutate(&|d| d["checks"][0]["kind"] = "pod-to-moon".into()),
        ),
        (
            "ip",
            mutate(&|d| d["checks"][0]["source"]["ip"] = "10.0.0.300".into()),
        ),
        (
            "snake_case",
            mutate(&|d| {
                let v = d["summary"]["durationMs"].clone();
                d["summary"]["duration_ms"] = v;
            }),
        ),
        (
            "finding id",
            mutate(&|d| d["findings"][0]["id"] = "node-sad".into()),
        ),
        (
            "apiVersion",
            mutate(&|d| d["apiVersion"] = "netcheck/v2".into()),
        ),
        (
            "missing",
            mutate(&|d| {
                d.as_object_mut().map(|o| o.remove("summary"));
            }),
        ),
    ];
    for (what, doc) in bad {
        assert!(
            !errors(&v, &doc).is_empty(),
            "the schema accepts a bad {what}"
        );
    }
}

#[test]
fn the_schema_lists_exactly_the_finding_ids() {
    let s = schema();
    let ids: Vec<&str> = s["$defs"]["finding"]["properties"]["id"]["enum"]
        .as_array()
        .expect("an enum of IDs")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let known: Vec<&str> = FindingId::ALL.iter().map(|i| i.as_str()).collect();
    assert_eq!(
        ids, known,
        "docs/schema/report.schema.json and src/model/finding.rs disagree"
    );
}

#[test]
fn json_keeps_the_field_order_of_the_contract() {
    let text = netcheck::render::json(&render_support::healthy());
    let pos = |k: &str| {
        text.find(&format!("\"{k}\""))
            .unwrap_or_else(|| panic!("{k} missing"))
    };
    let order = [
        "apiVersion",
        "kind",
        "cluster",
        "nodes",
        "checks",
        "cells",
        "hosts",
        "findings",
        "summary",
    ];
    for w in order.windows(2) {
        assert!(pos(w[0]) < pos(w[1]), "{} must come before {}", w[0], w[1]);
    }
    // Round trip: what we print is what we read back.
    let back: netcheck::model::Report = serde_json::from_str(&text).expect("reads back");
    assert_eq!(back, render_support::healthy());
}

/// The host documents are described field by field: a real lab report's
/// hosts validate, and a wrong type, value or name in them does not.
#[test]
fn the_schema_covers_the_host_documents() {
    let v = validator();
    let good: Value =
        serde_json::from_str(&netcheck::render::json(&render_support::lab_forward_drop()))
            .expect("json");
    assert!(errors(&v, &good).is_empty());
    let h = &good["hosts"][1];
    for section in [
        "overview",
        "cni",
        "firewall",
        "sysctls",
        "conntrack",
        "interfaces",
        "routes",
    ] {
        assert!(!h[section].is_null(), "the saved report lacks {section}");
    }
    let mutate = |f: &dyn Fn(&mut Value)| {
        let mut d = good.clone();
        f(&mut d["hosts"][1]);
        d
    };
    let bad = [
        (
            "sysctl type",
            mutate(&|h| h["sysctls"]["ipForward"] = "on".into()),
        ),
        (
            "backend value",
            mutate(&|h| h["overview"]["iptablesBackend"] = "iptables".into()),
        ),
        (
            "misspelt field",
            mutate(&|h| h["overview"]["flaged"] = serde_json::json!(["x"])),
        ),
        (
            "mtu type",
            mutate(&|h| h["overview"]["mtus"]["cni0"] = (-1).into()),
        ),
        (
            "rule without raw",
            mutate(&|h| {
                h["firewall"]["iptables"][1]["tables"][0]["chains"][0]["rules"] =
                    serde_json::json!([{"target": "ACCEPT"}])
            }),
        ),
        (
            "plugin without type",
            mutate(&|h| h["cni"]["files"][0]["plugins"][0] = serde_json::json!({"mtu": 1450})),
        ),
    ];
    for (what, doc) in bad {
        assert!(
            !errors(&v, &doc).is_empty(),
            "the schema accepts a bad host {what}"
        );
    }
}

/// The confirmation pass's summary fields and stage validate, and a report
/// saved before them (no `recovered`, `confirmed`) still reads, as zero.
#[test]
fn the_confirmation_pass_fields_validate_and_older_reports_lack_them() {
    let v = validator();
    let mut r = render_support::healthy();
    r.summary.recovered = 2;
    r.summary.confirmed = 3;
    r.summary.stages_ms.insert("confirm".into(), 5012);
    let doc: Value = serde_json::from_str(&netcheck::render::json(&r)).expect("JSON");
    assert_eq!(doc["summary"]["recovered"], 2);
    assert_eq!(doc["summary"]["confirmed"], 3);
    let errs = errors(&v, &doc);
    assert!(errs.is_empty(), "{errs:#?}");
    let mut bad = doc.clone();
    bad["summary"]["recovered"] = Value::from(-1);
    assert!(!errors(&v, &bad).is_empty(), "a negative count validates");

    let saved = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/reports/healthy.json");
    let text = std::fs::read_to_string(&saved).expect("the saved healthy lab run");
    assert!(!text.contains("\"recovered\""), "saved before the pass");
    let old: netcheck::model::Report = serde_json::from_str(&text).expect("reads");
    assert_eq!((old.summary.recovered, old.summary.confirmed), (0, 0));
}

/// What the nodes told (cluster.fromNodes) and where the CNI dirs came
/// from (hosts[].cni.binDirs, binDirSource, confDirSource) are in the schema.
#[test]
fn facts_from_the_nodes_and_the_cni_dirs_validate() {
    use netcheck::model::host::{CniInfo, HostReport};
    let mut r = render_support::healthy();
    r.cluster.cni = "bridge+flannel".into();
    r.cluster.from_nodes.insert(
        "cni".into(),
        "10-bridge.conflist cbr0 (bridge, portmap) and vxlan flannel.1 on node-1".into(),
    );
    r.cluster.from_nodes.insert(
        "kubeProxyMode".into(),
        "KUBE-SERVICES chain in iptables-nft on node-1".into(),
    );
    r.hosts.push(HostReport {
        node: "node-1".into(),
        cni: Some(CniInfo {
            conf_dir: "/var/lib/rancher/k3s/agent/etc/cni/net.d".into(),
            conf_dir_source: Some("conf_dir in k3s's config.toml".into()),
            bin_dir: "/usr/lib/cni".into(),
            bin_dirs: vec!["/usr/lib/cni".into()],
            bin_dir_source: Some("bin_dir in /etc/containerd/config.toml".into()),
            ..Default::default()
        }),
        ..Default::default()
    });
    let v = validator();
    let text = render(&r, OutputFormat::Json, &RenderOptions::default());
    let mut doc: Value = serde_json::from_str(&text).expect("-o json is JSON");
    assert_eq!(
        doc["cluster"]["fromNodes"]["kubeProxyMode"],
        "KUBE-SERVICES chain in iptables-nft on node-1"
    );
    let errs = errors(&v, &doc);
    assert!(errs.is_empty(), "{errs:#?}");
    // Only fields of the summary can come from the nodes.
    doc["cluster"]["fromNodes"]["version"] = "v1.36".into();
    assert!(!errors(&v, &doc).is_empty());
}

/// Policy kinds netcheck does not evaluate (cluster.policyKinds), checks
/// they could decide (expected `not-judged`) and kube-proxy's IPVS table
/// (hosts[].ipvs) validate; a bad one does not.
#[test]
fn policy_kinds_not_judged_checks_and_the_ipvs_table_validate() {
    use netcheck::model::host::{HostReport, Ipvs, IpvsRealServer, IpvsService};
    use netcheck::model::report::{Expectation, PolicyKind};
    let mut r = render_support::healthy();
    r.cluster.kube_proxy_mode = "replaced by cilium".into();
    r.cluster.policy_kinds = vec![
        PolicyKind {
            kind: "CiliumNetworkPolicy".into(),
            api_version: "cilium.io/v2".into(),
            cluster_wide: false,
            count: Some(2),
            namespaces: vec!["team-a".into()],
            error: None,
        },
        PolicyKind {
            kind: "GlobalNetworkPolicy".into(),
            api_version: "crd.projectcalico.org/v1".into(),
            cluster_wide: true,
            count: None,
            namespaces: Vec::new(),
            error: Some(
                "forbidden: may not list globalnetworkpolicies.crd.projectcalico.org".into(),
            ),
        },
    ];
    r.checks[0].expected = Some(Expectation::NotJudged);
    r.hosts.push(HostReport {
        node: "node-1".into(),
        ipvs: Some(Ipvs {
            version: Some("1.2.1".into()),
            services: vec![IpvsService {
                protocol: "UDP".into(),
                address: "198.19.0.10:53".into(),
                scheduler: "rr".into(),
                flags: Vec::new(),
                real_servers: vec![IpvsRealServer {
                    address: "198.18.0.3:53".into(),
                    forward: "Masq".into(),
                    weight: 1,
                    active_conn: 0,
                    inactive_conn: 14,
                }],
            }],
            service_count: 40,
            error: None,
        }),
        ..Default::default()
    });
    let v = validator();
    let text = render(&r, OutputFormat::Json, &RenderOptions::default());
    let doc: Value = serde_json::from_str(&text).expect("-o json is JSON");
    assert_eq!(doc["checks"][0]["expected"], "not-judged");
    assert_eq!(doc["cluster"]["policyKinds"][1]["clusterWide"], true);
    let errs = errors(&v, &doc);
    assert!(errs.is_empty(), "{errs:#?}");
    let mut bad = doc.clone();
    bad["cluster"]["policyKinds"][0]["count"] = Value::from(-1);
    assert!(!errors(&v, &bad).is_empty(), "a negative count validates");
    let mut bad = doc.clone();
    let last = bad["hosts"].as_array().map_or(0, |h| h.len() - 1);
    bad["hosts"][last]["ipvs"]["services"][0]["protocol"] = "ICMP".into();
    assert!(
        !errors(&v, &bad).is_empty(),
        "an IPVS protocol that is not one"
    );
    let mut bad = doc;
    bad["checks"][0]["expected"] = "maybe".into();
    assert!(!errors(&v, &bad).is_empty());
}

/// Host reports in the agent's shape (rules a question reads, counts for
/// the rest, per-Service chains folded, nft's copy of iptables-nft's tables
/// by name, the IPVS table's DNS entries and count), built from the real
/// captures by the agent's parsers, validate; a folded group without its
/// counts does not.
#[test]
fn slim_host_reports_from_the_real_captures_validate() {
    use netcheck::inspect::captures::{Captures, from_captures};
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let read = |f: &str| std::fs::read_to_string(fixtures.join(f)).ok();
    let mut r = render_support::healthy();
    r.hosts.push(from_captures(&Captures {
        node: "node-1".into(),
        iptables_legacy_save: Some(String::new()),
        iptables_nft_save: read("host-v1.36/node1/iptables-nft-save.txt"),
        nft_json: read("host-v1.36/node1/nft-ruleset.json"),
        ..Default::default()
    }));
    r.hosts.push(from_captures(&Captures {
        node: "node-2".into(),
        iptables_legacy_save: Some(String::new()),
        iptables_nft_save: read(
            "host-v1.36/turn2/node1-iptables-nft-save-kube-proxy-nftables-mode.txt",
        ),
        nft_json: read("host-v1.36/turn2/node1-nft-ruleset-kube-proxy-nftables-mode.json"),
        ipvsadm: read("cni/kube-proxy-ipvs/ipvsadm-Ln.txt"),
        ..Default::default()
    }));
    let v = validator();
    let text = render(&r, OutputFormat::Json, &RenderOptions::default());
    let doc: Value = serde_json::from_str(&text).expect("-o json is JSON");
    let errs = errors(&v, &doc);
    assert!(errs.is_empty(), "{errs:#?}");
    let n = doc["hosts"].as_array().map_or(0, |h| h.len());
    let first = &doc["hosts"][n - 2]["firewall"];
    let nat = &first["iptables"][1]["tables"][2];
    assert_eq!(nat["name"], "nat");
    assert_eq!(nat["folded"][0]["prefix"], "KUBE-SEP-");
    let ip_filter = first["nftables"]["tables"]
        .as_array()
        .and_then(|t| {
            t.iter()
                .find(|t| t["family"] == "ip" && t["name"] == "filter")
        })
        .expect("table ip filter");
    assert_eq!(ip_filter["readBy"], "iptables-nft-save");
    let second = &doc["hosts"][n - 1];
    assert_eq!(second["ipvs"]["serviceCount"], 9);
    let kube_proxy = second["firewall"]["nftables"]["tables"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["name"] == "kube-proxy"))
        .expect("table ip kube-proxy");
    assert_eq!(kube_proxy["folded"][0]["prefix"], "service-");
    let mut bad = doc.clone();
    bad["hosts"][n - 2]["firewall"]["iptables"][1]["tables"][2]["folded"][0] =
        serde_json::json!({"prefix": "KUBE-SEP-"});
    assert!(!errors(&v, &bad).is_empty());
}
