//! docs/krew/netcheck.yaml is a complete krew manifest for this version.

use serde_yaml::Value;

#[test]
fn the_krew_manifest_is_complete_and_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/krew/netcheck.yaml");
    let text = std::fs::read_to_string(&path).expect("docs/krew/netcheck.yaml");
    let m: Value = serde_yaml::from_str(&text).expect("YAML");
    assert_eq!(
        m["apiVersion"].as_str(),
        Some("krew.googlecontainertools.github.com/v1alpha2")
    );
    assert_eq!(m["kind"].as_str(), Some("Plugin"));
    // `kubectl krew install netcheck` → `kubectl netcheck`
    assert_eq!(m["metadata"]["name"].as_str(), Some("netcheck"));
    let version = format!("v{}", env!("CARGO_PKG_VERSION"));
    assert_eq!(
        m["spec"]["version"].as_str(),
        Some(version.as_str()),
        "bump the manifest with Cargo.toml"
    );
    let short = m["spec"]["shortDescription"].as_str().unwrap_or_default();
    assert!(
        !short.is_empty() && short.len() <= 70,
        "krew wants a short description"
    );
    let platforms = m["spec"]["platforms"].as_sequence().expect("platforms");
    let mut seen = Vec::new();
    for p in platforms {
        let labels = &p["selector"]["matchLabels"];
        let os = labels["os"].as_str().expect("os");
        let arch = labels["arch"].as_str().expect("arch");
        seen.push(format!("{os}/{arch}"));
        let uri = p["uri"].as_str().expect("uri");
        assert!(
            uri.starts_with("https://") && uri.contains(&version),
            "{uri}"
        );
        let sha = p["sha256"].as_str().expect("sha256");
        assert!(
            sha.len() == 64 && sha.chars().all(|c| c.is_ascii_hexdigit()),
            "{sha}"
        );
        assert_eq!(p["bin"].as_str(), Some("kubectl-netcheck"));
    }
    for want in ["linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64"] {
        assert!(
            seen.iter().any(|s| s == want),
            "no {want} build in the manifest"
        );
    }
}
