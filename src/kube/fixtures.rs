//! Test helper: the API objects captured from a real v1.36 cluster
//! (tests/fixtures/kube-v1.36/api, see its README).

use serde::de::DeserializeOwned;

pub fn path(file: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/kube-v1.36/api")
        .join(file)
}

/// The `items` of a captured `List`, as typed objects.
pub fn items<T: DeserializeOwned>(file: &str) -> Vec<T> {
    let text = std::fs::read_to_string(path(file)).expect("fixture file is readable");
    let v: serde_json::Value = serde_json::from_str(&text).expect("fixture is JSON");
    v["items"]
        .as_array()
        .expect("fixture is a List")
        .iter()
        .map(|i| serde_json::from_value(i.clone()).expect("item parses"))
        .collect()
}

/// Items of one `kind` only (for mixed lists such as workloads.json).
pub fn items_of_kind<T: DeserializeOwned>(file: &str, kind: &str) -> Vec<T> {
    let text = std::fs::read_to_string(path(file)).expect("fixture file is readable");
    let v: serde_json::Value = serde_json::from_str(&text).expect("fixture is JSON");
    v["items"]
        .as_array()
        .expect("fixture is a List")
        .iter()
        .filter(|i| i["kind"] == kind)
        .map(|i| serde_json::from_value(i.clone()).expect("item parses"))
        .collect()
}
