//! `explain` without -f reads the cluster: tested against a loopback HTTP
//! fake of the API server (127.0.0.1 only) that serves the pods, namespaces
//! and NetworkPolicies, and a 403 where the RBAC is missing.

use serde_json::json;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::{Arc, Mutex};

type Routes = BTreeMap<String, (u16, serde_json::Value)>;

/// Serve `routes` (path → status, JSON body) until the test ends; returns the URL
/// and the paths requested.
fn fake_api(routes: Routes) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            // Skip the headers.
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
            }
            let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
            let path = path.split('?').next().unwrap_or("/").to_string();
            if let Ok(mut l) = log.lock() {
                l.push(path.clone());
            }
            let (code, body) = routes.get(&path).cloned().unwrap_or((
                404,
                json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404, "message": format!("{path} not found")}),
            ));
            let body = body.to_string();
            let reason = match code {
                200 => "OK",
                403 => "Forbidden",
                _ => "Not Found",
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, seen)
}

fn kubeconfig(dir: &tempfile::TempDir, server: &str) -> String {
    let p = dir.path().join("kubeconfig");
    std::fs::write(
        &p,
        format!("apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {server}\n- name: nowhere\n  cluster:\n    server: https://127.0.0.1:1\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: u\n- name: other\n  context:\n    cluster: nowhere\n    user: u\ncurrent-context: other\nusers:\n- name: u\n  user:\n    token: t\n"),
    )
    .expect("write kubeconfig");
    p.display().to_string()
}

fn pod(name: &str, app: &str, ip: &str) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "shop", "labels": {"app": app}},
        "spec": {"containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 8080, "name": "http"}]}]},
        "status": {"podIPs": [{"ip": ip}]}})
}

fn routes(policies: (u16, serde_json::Value)) -> Routes {
    BTreeMap::from([
        (
            "/api/v1/namespaces/shop/pods/web".into(),
            (200, pod("web", "web", "198.18.0.1")),
        ),
        (
            "/api/v1/namespaces/shop/pods/api".into(),
            (200, pod("api", "api", "198.18.0.2")),
        ),
        (
            "/api/v1/namespaces/shop".into(),
            (
                200,
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop", "labels": {"team": "shop"}}}),
            ),
        ),
        (
            "/apis/networking.k8s.io/v1/namespaces/shop/networkpolicies".into(),
            policies,
        ),
    ])
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kubectl-netcheck"))
        .args(args)
        .args(["--timeout", "30s"])
        .env_remove("KUBECONFIG")
        .output()
        .expect("run");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn reads_pods_namespaces_and_policies_from_the_cluster() {
    let list = json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicyList", "metadata": {}, "items": [
        {"metadata": {"name": "api-from-web", "namespace": "shop"}, "spec": {"podSelector": {"matchLabels": {"app": "api"}},
          "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": "shop"}}, "podSelector": {"matchLabels": {"app": "web"}}}], "ports": [{"port": "http"}]}]}}]});
    let (url, seen) = fake_api(routes((200, list)));
    let dir = tempfile::tempdir().unwrap();
    let kc = kubeconfig(&dir, &url);
    let (code, out, err) = run(&[
        "explain",
        "shop/web",
        "shop/api",
        "--port",
        "8080",
        "--kubeconfig",
        &kc,
        "--context",
        "fake",
        "-o",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["verdict"], "allow", "{out}");
    assert_eq!(v["ingress"]["allowedBy"][0]["policy"], "shop/api-from-web");
    let (code, out, _) = run(&[
        "explain",
        "shop/api",
        "shop/web",
        "--port",
        "8080",
        "--kubeconfig",
        &kc,
        "--context",
        "fake",
    ]);
    assert_eq!(code, 0);
    assert!(out.starts_with("allow:"), "{out}");
    let paths = seen.lock().unwrap().clone();
    assert!(
        paths.contains(&"/apis/networking.k8s.io/v1/namespaces/shop/networkpolicies".to_string()),
        "{paths:?}"
    );

    // The current context points nowhere: --context is honoured.
    let (code, _, err) = run(&["explain", "shop/web", "shop/api", "--kubeconfig", &kc]);
    assert_eq!(code, 3, "{err}");

    let (code, _, err) = run(&[
        "explain",
        "shop/web",
        "shop/ghost",
        "--kubeconfig",
        &kc,
        "--context",
        "fake",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("pod shop/ghost is not in the cluster"),
        "{err}"
    );
}

#[test]
fn forbidden_policies_exit_3_with_the_fix() {
    let forbidden = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Forbidden", "code": 403,
        "message": "networkpolicies.networking.k8s.io is forbidden: User \"ci\" cannot list resource \"networkpolicies\" in API group \"networking.k8s.io\" in the namespace \"shop\""});
    let (url, _) = fake_api(routes((403, forbidden)));
    let dir = tempfile::tempdir().unwrap();
    let kc = kubeconfig(&dir, &url);
    let (code, _, err) = run(&[
        "explain",
        "shop/web",
        "shop/api",
        "--kubeconfig",
        &kc,
        "--context",
        "fake",
    ]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("cannot read the NetworkPolicies of namespace shop")
            && err.contains("cannot list resource"),
        "{err}"
    );
}
