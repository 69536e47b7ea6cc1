//! A loopback fake of the Kubernetes API for the runtime's tests: a hyper
//! HTTP/1 server on 127.0.0.1 serving the objects captured from a real v1.36
//! cluster (tests/fixtures/kube-v1.36/api), remembering what it was asked and
//! what was created, with knobs for denials and pods that fail to start.
#![allow(dead_code)]

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// A capture of turn two (tests/fixtures/kube-v1.36/turn2).
pub fn turn2(name: &str) -> Value {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/kube-v1.36/turn2")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

pub fn fixture(name: &str) -> Value {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/kube-v1.36/api")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// How the probe pods on a node behave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodFate {
    /// Ready as soon as it is created.
    Ready,
    /// Stays ContainerCreating forever.
    NeverReady,
    /// ErrImagePull, like the captured `badimage` pod.
    ImagePull,
    /// Pending: Unschedulable, like the captured `unschedulable` pod.
    Unschedulable,
    /// CrashLoopBackOff, like the captured `crashloop` pod.
    CrashLoop,
    /// The node's CNI cannot set pods up: ContainerCreating forever, with the
    /// captured `FailedCreatePodSandBox` event (turn2/sandbox-failed-*.json).
    SandboxFailed,
}

#[derive(Debug, Default)]
pub struct FakeState {
    /// Every request: "METHOD path?query".
    pub requests: Vec<String>,
    /// SelfSubjectAccessReviews answered "denied": (verb, resource, subresource).
    pub deny: Vec<(String, String, String)>,
    /// GET paths answered with the captured 403 Status.
    pub forbid_paths: Vec<String>,
    /// node → fate of the pods pinned to it (default Ready).
    pub fates: BTreeMap<String, PodFate>,
    /// Created namespaces (name → object) and deleted ones.
    pub namespaces: BTreeMap<String, Value>,
    pub deleted_namespaces: Vec<String>,
    /// Created pods and services, by "namespace/name".
    pub pods: BTreeMap<String, Value>,
    pub services: BTreeMap<String, Value>,
    /// Answer exec with a websocket and a fake agent (otherwise exec is refused).
    pub exec: bool,
    /// Speak the v4 channel protocol (Kubernetes before 1.30): no stdin close
    /// signal, so a client that closes stdin closes the whole stream.
    pub exec_v4: bool,
    /// Refuse every pod with this 403 message (Pod Security Admission).
    pub reject_pods: Option<String>,
    /// Refuse namespaces labelled Pod Security privileged (like a policy webhook).
    pub refuse_privileged_namespaces: bool,
    /// The commands exec ran: (pod, argv).
    pub execs: Vec<(String, Vec<String>)>,
    /// NetworkPolicies the cluster holds (served by the cluster-wide list).
    pub policies: Vec<Value>,
    /// When each pod was created, by "namespace/name".
    pub pod_created: BTreeMap<String, std::time::Instant>,
    /// How long after its pod is created (and Ready) a probe Service's
    /// EndpointSlice lists it ready, as the EndpointSlice controller and
    /// kube-proxy lag behind on real clusters (default: at once).
    pub endpoints_after: std::time::Duration,
    /// EndpointSlices never list the probes ready.
    pub endpoints_never: bool,
    /// Deleted namespaces stay Terminating (pods a broken CNI cannot tear
    /// down, a finalizer): the namespace is still there, marked.
    pub namespaces_stick: bool,
    /// The grace period of each pod deletion, by "namespace/name".
    pub pod_delete_grace: BTreeMap<String, Option<i64>>,
    /// Requests by HTTP method ("GET", "POST", …), exec included.
    pub verbs: BTreeMap<String, usize>,
    /// Nodes beyond the two captured ones: node3, node4, … (copies of node2
    /// with their own name, address and pod CIDR).
    pub extra_nodes: usize,
    /// How long each pod and Service create takes to answer.
    pub create_delay: std::time::Duration,
    /// Creates being answered now, and the most there ever were at once.
    pub creates_in_flight: usize,
    pub max_creates_in_flight: usize,
    /// How long the fake agent works before it answers an exec.
    pub exec_delay: std::time::Duration,
    /// Exec streams open now, and the most there ever were at once.
    pub execs_open: usize,
    pub max_execs_open: usize,
    /// API groups served besides the built-in ones, (group, version), as
    /// `/apis` lists them (CRDs' groups: cilium.io, crd.projectcalico.org, …).
    pub api_groups: Vec<(String, String)>,
    /// Objects of those groups, by "group/version/resource" (cluster-wide lists).
    pub custom: BTreeMap<String, Vec<Value>>,
    /// Refuse Services of type NodePort with a 422, as a full NodePort
    /// range (or a policy forbidding NodePorts) does.
    pub refuse_node_ports: bool,
    /// nodePorts handed out so far (the next is 30000 + this).
    pub node_ports_allocated: u16,
}

impl FakeState {
    pub fn saw(&self, prefix: &str) -> bool {
        self.requests.iter().any(|r| r.starts_with(prefix))
    }
    /// Requests that change something: POST, PUT, PATCH, DELETE (access
    /// reviews included: see `reviews`).
    pub fn writes(&self) -> usize {
        ["POST", "PUT", "PATCH", "DELETE"]
            .iter()
            .map(|m| self.verbs.get(*m).copied().unwrap_or(0))
            .sum()
    }
    /// Every request, exec included.
    pub fn total(&self) -> usize {
        self.verbs.values().sum()
    }
    /// SelfSubjectAccessReviews: POSTs that store nothing.
    pub fn reviews(&self) -> usize {
        self.count("POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews")
    }
    fn note(&mut self, method: &Method, line: String) {
        *self.verbs.entry(method.to_string()).or_default() += 1;
        self.requests.push(line);
    }
    pub fn count(&self, prefix: &str) -> usize {
        self.requests
            .iter()
            .filter(|r| r.starts_with(prefix))
            .count()
    }
}

pub struct FakeApi {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<FakeState>>,
    _dir: tempfile::TempDir,
    pub kubeconfig: std::path::PathBuf,
}

impl FakeApi {
    /// The options of a run against this fake: its kubeconfig, a test image,
    /// a 20 s bound, every node, no `--policy-from`.
    #[allow(dead_code)] // not every test binary that includes this module uses it
    pub fn options(&self) -> netcheck::kube::KubeOptions {
        netcheck::kube::KubeOptions {
            kubeconfig: Some(self.kubeconfig.clone()),
            context: None,
            namespace: None,
            image: "example.test/netcheck:test".into(),
            no_host: false,
            timeout: std::time::Duration::from_secs(20),
            nodes: None,
            policy_from: None,
            wait_cleanup: false,
        }
    }

    /// Start the fake on a free loopback port, in the current tokio runtime.
    pub async fn start(state: FakeState) -> FakeApi {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(state));
        let st = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let st = st.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| handle(st.clone(), req));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .with_upgrades()
                        .await;
                });
            }
        });
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(
            &kubeconfig,
            kubeconfig_yaml(&format!("http://{addr}"), "fake"),
        )
        .unwrap();
        FakeApi {
            addr,
            state,
            _dir: dir,
            kubeconfig,
        }
    }

    pub fn state(&self) -> std::sync::MutexGuard<'_, FakeState> {
        self.state.lock().unwrap()
    }
}

pub fn kubeconfig_yaml(server: &str, context: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: {context}\nclusters:\n- name: {context}-cluster\n  cluster:\n    server: {server}\ncontexts:\n- name: {context}\n  context:\n    cluster: {context}-cluster\n    user: {context}-user\nusers:\n- name: {context}-user\n  user:\n    token: fake-token\n"
    )
}

fn reply(code: StatusCode, body: Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

fn status(code: u16, reason: &str, message: &str) -> Response<Full<Bytes>> {
    reply(
        StatusCode::from_u16(code).unwrap(),
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": message, "reason": reason, "code": code}),
    )
}

fn list(kind: &str, items: Vec<Value>) -> Response<Full<Bytes>> {
    reply(
        StatusCode::OK,
        json!({"kind": kind, "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": items}),
    )
}

fn fixture_items(name: &str) -> Vec<Value> {
    fixture(name)["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn failing_pod(name: &str) -> Value {
    fixture_items("failing-pods.json")
        .into_iter()
        .find(|p| p["metadata"]["name"] == name)
        .unwrap()
}

/// The pod as the API would show it now, given its node's fate.
fn with_status(pod: &Value, fate: PodFate, ip: &str) -> Value {
    let mut p = pod.clone();
    let node = p["spec"]["nodeName"].as_str().unwrap_or("").to_string();
    // A readiness gate nobody sets keeps the pod from Ready, as the kubelet does.
    let gated = p["spec"]["readinessGates"]
        .as_array()
        .is_some_and(|g| !g.is_empty());
    let ready = if gated { "False" } else { "True" };
    p["status"] = match fate {
        PodFate::Ready => json!({
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": ready}, {"type": "ContainersReady", "status": "True"},
                           {"type": "PodScheduled", "status": "True"}],
            "podIP": ip, "podIPs": [{"ip": ip}], "hostIP": "198.18.255.11",
            "containerStatuses": [{"name": "agent", "ready": true, "restartCount": 0, "image": "x", "imageID": "",
                                   "state": {"running": {"startedAt": "2026-11-26T18:51:09Z"}}}]
        }),
        PodFate::NeverReady => json!({
            "phase": "Pending",
            "conditions": [{"type": "Ready", "status": "False"}, {"type": "PodScheduled", "status": "True"}],
            "containerStatuses": [{"name": "agent", "ready": false, "restartCount": 0, "image": "x", "imageID": "",
                                   "state": {"waiting": {"reason": "ContainerCreating"}}}]
        }),
        PodFate::ImagePull => failing_pod("badimage")["status"].clone(),
        PodFate::Unschedulable => failing_pod("unschedulable")["status"].clone(),
        PodFate::CrashLoop => failing_pod("crashloop")["status"].clone(),
        PodFate::SandboxFailed => turn2("sandbox-failed-pod.json")["status"].clone(),
    };
    let _ = node;
    p
}

/// The EndpointSlice of each Service in `ns`: its pod (same name), ready
/// once the pod is Ready and `endpoints_after` has passed since it was made.
fn probe_slices(st: &FakeState, ns: &str) -> Vec<Value> {
    let prefix = format!("{ns}/");
    st.services
        .iter()
        .filter(|(k, _)| k.starts_with(&prefix))
        .map(|(k, svc)| {
            let name = svc["metadata"]["name"].as_str().unwrap_or("");
            let endpoints: Vec<Value> = st
                .pods
                .get(k)
                .map(|pod| {
                    let node = pod["spec"]["nodeName"].as_str().unwrap_or("");
                    let fate = st.fates.get(node).copied().unwrap_or(PodFate::Ready);
                    let gated = pod["spec"]["readinessGates"]
                        .as_array()
                        .is_some_and(|g| !g.is_empty());
                    let settled = st
                        .pod_created
                        .get(k)
                        .is_some_and(|t| t.elapsed() >= st.endpoints_after);
                    let ready = fate == PodFate::Ready && !gated && settled && !st.endpoints_never;
                    vec![json!({
                        "addresses": ["198.18.0.250"],
                        "conditions": {"ready": ready},
                        "nodeName": node,
                        "targetRef": {"kind": "Pod", "name": name, "namespace": ns}
                    })]
                })
                .unwrap_or_default();
            json!({
                "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": {"name": format!("{name}-abcde"), "namespace": ns,
                             "labels": {"kubernetes.io/service-name": name}},
                "addressType": "IPv4",
                "endpoints": endpoints,
                "ports": [{"name": "tcp", "port": 7000, "protocol": "TCP"}]
            })
        })
        .collect()
}

fn ssar_answer(st: &FakeState, body: &Value) -> Value {
    let a = &body["spec"]["resourceAttributes"];
    let verb = a["verb"].as_str().unwrap_or("");
    let res = a["resource"].as_str().unwrap_or("");
    let sub = a["subresource"].as_str().unwrap_or("");
    let denied = st
        .deny
        .iter()
        .any(|(v, r, s)| v == verb && r == res && s == sub);
    let mut out = body.clone();
    out["status"] = json!({"allowed": !denied});
    out
}

fn label_selector(query: &str) -> Option<String> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == "labelSelector").then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `k=v` selectors only (what the runtime sends for its own objects).
fn matches_selector(obj: &Value, sel: &str) -> bool {
    sel.split(',').all(|term| match term.split_once('=') {
        Some((k, v)) => obj["metadata"]["labels"][k] == v,
        None => true,
    })
}

fn query_values(query: &str, key: &str) -> Vec<String> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .filter(|(k, _)| *k == key)
        .map(|(_, v)| percent_decode(v))
        .collect()
}

/// What the fake agent answers: every probe passes (DNS with the addresses the
/// planner expects for the cluster's names), host inspection reports the node.
fn fake_agent(argv: &[String], stdin: &[u8]) -> Vec<u8> {
    if argv.iter().any(|a| a == "inspect-host") {
        let node = argv
            .windows(2)
            .find(|w| w[0] == "--node-name")
            .map(|w| w[1].clone())
            .unwrap_or_default();
        return json!({"node": node}).to_string().into_bytes();
    }
    let plan: Value = serde_json::from_slice(stdin).unwrap_or(Value::Null);
    let results: Vec<Value> = plan["probes"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|p| {
            let mut r = json!({"id": p["id"], "outcome": "ok", "latencyMs": 0.4});
            if p["kind"] == "dns" {
                let name = p["name"].as_str().unwrap_or("");
                r["addresses"] = if name.starts_with("kubernetes.default") {
                    json!(["198.19.0.1"])
                } else {
                    json!(["198.19.0.10"])
                };
            }
            if p["kind"] == "mtu" {
                // As an agent in an overlay pod answers: it reads its eth0
                // (1450), and the path carries all of it.
                r["interfaceMtu"] = json!(1450);
                r["pathMtu"] = json!(1450);
            }
            r
        })
        .collect();
    json!({"results": results, "durationMs": 12.0})
        .to_string()
        .into_bytes()
}

/// One exec over the v5 channel protocol: stdin until a whole JSON document
/// or its close signal, then the agent's answer on stdout and a Success status.
async fn exec_session(
    upgraded: hyper::upgrade::Upgraded,
    argv: Vec<String>,
    wants_stdin: bool,
    v4: bool,
    delay: std::time::Duration,
    state: Arc<Mutex<FakeState>>,
) {
    /// The stream counts as closed before the client can see its end.
    struct Open(Arc<Mutex<FakeState>>);
    impl Drop for Open {
        fn drop(&mut self) {
            if let Ok(mut st) = self.0.lock() {
                st.execs_open = st.execs_open.saturating_sub(1);
            }
        }
    }
    let open = Open(state);
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::protocol::Role;
    let mut ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
        TokioIo::new(upgraded),
        Role::Server,
        None,
    )
    .await;
    let mut stdin = Vec::new();
    if wants_stdin {
        while let Some(Ok(msg)) = ws.next().await {
            let Message::Binary(b) = msg else { continue };
            match b.first() {
                Some(0) => {
                    stdin.extend_from_slice(&b[1..]);
                    // Like the agent: a whole JSON document is enough, the
                    // client keeps stdin open until it has the answer.
                    if serde_json::from_slice::<Value>(&stdin).is_ok() {
                        break;
                    }
                }
                Some(255) if b.get(1) == Some(&0) => break,
                _ => {}
            }
        }
    }
    if v4 && wants_stdin {
        // The agent works for a moment. A v4 client that closes stdin closes
        // the whole websocket, and the API server tears the stream down: the
        // answer never comes.
        let closed = tokio::time::timeout(std::time::Duration::from_millis(100), async {
            while let Some(Ok(msg)) = ws.next().await {
                if matches!(msg, Message::Close(_)) {
                    return true;
                }
            }
            true
        })
        .await
        .unwrap_or(false);
        if closed {
            return;
        }
    }
    tokio::time::sleep(delay).await;
    let mut out = vec![1u8];
    out.extend(fake_agent(&argv, &stdin));
    drop(open);
    let _ = ws.send(Message::binary(out)).await;
    let mut status = vec![3u8];
    status.extend(
        json!({"metadata": {}, "status": "Success"})
            .to_string()
            .into_bytes(),
    );
    let _ = ws.send(Message::binary(status)).await;
    let _ = ws.close(None).await;
}

/// The garbage collector: Services whose owner pod is gone go too.
fn collect_garbage(st: &mut FakeState) {
    let live: Vec<Value> = st
        .pods
        .values()
        .map(|p| p["metadata"]["uid"].clone())
        .collect();
    st.services
        .retain(|_, s| match s["metadata"]["ownerReferences"].as_array() {
            Some(owners) => owners.iter().any(|o| live.contains(&o["uid"])),
            None => true,
        });
}

/// The third octet of a node's pod CIDR: node1 → 0, node2 → 1, …
fn node_octet(node: &str) -> usize {
    node.strip_prefix("node")
        .and_then(|k| k.parse::<usize>().ok())
        .map(|k| k.saturating_sub(1))
        .unwrap_or(0)
}

async fn handle(
    state: Arc<Mutex<FakeState>>,
    mut req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let exec_ok = state.lock().unwrap().exec;
    if exec_ok && req.uri().path().ends_with("/exec") {
        let query = req.uri().query().unwrap_or("").to_string();
        let argv = query_values(&query, "command");
        let pod = req
            .uri()
            .path()
            .rsplit('/')
            .nth(1)
            .unwrap_or("")
            .to_string();
        {
            let mut st = state.lock().unwrap();
            let line = format!("{} {}?{query}", req.method(), req.uri().path());
            st.note(req.method(), line);
            st.execs.push((pod, argv.clone()));
            st.execs_open += 1;
            st.max_execs_open = st.max_execs_open.max(st.execs_open);
        }
        let key = req
            .headers()
            .get("sec-websocket-key")
            .map(|k| k.as_bytes().to_vec())
            .unwrap_or_default();
        let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(&key);
        let wants_stdin = query_values(&query, "stdin").iter().any(|v| v == "true");
        let (v4, delay) = {
            let st = state.lock().unwrap();
            (st.exec_v4, st.exec_delay)
        };
        let open = state.clone();
        let protocol = if v4 {
            "v4.channel.k8s.io"
        } else {
            "v5.channel.k8s.io"
        };
        let on_upgrade = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            if let Ok(up) = on_upgrade.await {
                exec_session(up, argv, wants_stdin, v4, delay, open).await;
            }
        });
        return Ok(Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header("upgrade", "websocket")
            .header("connection", "Upgrade")
            .header("sec-websocket-accept", accept)
            .header("sec-websocket-protocol", protocol)
            .body(Full::new(Bytes::new()))
            .unwrap());
    }
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let is_create = method == Method::POST
        && (path.ends_with("/pods") || path.ends_with("/services"))
        && path.starts_with("/api/v1/namespaces/");
    let delay = {
        let mut st = state.lock().unwrap();
        if is_create {
            st.creates_in_flight += 1;
            st.max_creates_in_flight = st.max_creates_in_flight.max(st.creates_in_flight);
        }
        st.create_delay
    };
    if is_create {
        tokio::time::sleep(delay).await;
    }
    let mut st = state.lock().unwrap();
    if is_create {
        st.creates_in_flight -= 1;
    }
    st.note(&method, format!("{method} {path}?{query}"));
    if method == Method::GET && st.forbid_paths.iter().any(|p| p == &path) {
        return Ok(reply(
            StatusCode::FORBIDDEN,
            fixture("forbidden-list-pods.json"),
        ));
    }
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let r = match (method.clone(), parts.as_slice()) {
        (Method::GET, ["version"]) => reply(StatusCode::OK, fixture("version.json")),
        (
            Method::POST,
            [
                "apis",
                "authorization.k8s.io",
                "v1",
                "selfsubjectaccessreviews",
            ],
        ) => reply(StatusCode::CREATED, ssar_answer(&st, &body)),
        (Method::GET, ["api", "v1", "namespaces"]) => {
            let mut items = vec![
                json!({"metadata": {"name": "default", "labels": {"kubernetes.io/metadata.name": "default"}}}),
                json!({"metadata": {"name": "kube-system", "labels": {"kubernetes.io/metadata.name": "kube-system"}}}),
                json!({"metadata": {"name": "restricted-ns", "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}}),
                json!({"metadata": {"name": "users-own", "labels": {"team": "a"}}}),
            ];
            items.extend(st.namespaces.values().cloned());
            if let Some(sel) = label_selector(&query) {
                items.retain(|n| matches_selector(n, &sel));
            }
            list("NamespaceList", items)
        }
        (Method::POST, ["api", "v1", "namespaces"])
            if st.refuse_privileged_namespaces
                && body["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
                    == "privileged" =>
        {
            status(
                403,
                "Forbidden",
                "admission webhook \"validate.kyverno.svc\" denied the request: privileged namespaces are not allowed",
            )
        }
        (Method::POST, ["api", "v1", "namespaces"]) => {
            let name = body["metadata"]["name"].as_str().unwrap_or("").to_string();
            st.namespaces.insert(name, body.clone());
            reply(StatusCode::CREATED, body)
        }
        (Method::GET, ["api", "v1", "namespaces", ns]) => match st.namespaces.get(*ns) {
            Some(n) => reply(StatusCode::OK, n.clone()),
            None => status(404, "NotFound", &format!("namespaces \"{ns}\" not found")),
        },
        (Method::DELETE, ["api", "v1", "namespaces", ns]) => {
            let ns = ns.to_string();
            st.deleted_namespaces.push(ns.clone());
            if st.namespaces_stick
                && let Some(n) = st.namespaces.get_mut(&ns)
            {
                n["metadata"]["deletionTimestamp"] = json!("2026-12-01T00:00:00Z");
                n["status"] = json!({"phase": "Terminating"});
                return Ok(reply(StatusCode::OK, n.clone()));
            }
            match st.namespaces.remove(&ns) {
                Some(n) => {
                    st.pods.retain(|k, _| !k.starts_with(&format!("{ns}/")));
                    st.services.retain(|k, _| !k.starts_with(&format!("{ns}/")));
                    reply(StatusCode::OK, n)
                }
                None => status(404, "NotFound", &format!("namespaces \"{ns}\" not found")),
            }
        }
        (Method::GET, ["api", "v1", "nodes"]) => {
            let mut items = fixture_items("nodes.json");
            let template = items.last().cloned().unwrap_or(Value::Null);
            for k in 3..3 + st.extra_nodes {
                let mut n = template.clone();
                let name = format!("node{k}");
                n["metadata"]["name"] = json!(name);
                n["metadata"]["labels"]["kubernetes.io/hostname"] = json!(name);
                n["status"]["addresses"] = json!([
                    {"address": format!("198.18.255.{}", 10 + k), "type": "InternalIP"},
                    {"address": name, "type": "Hostname"},
                ]);
                let cidr = format!("198.18.{}.0/24", k - 1);
                n["spec"]["podCIDR"] = json!(cidr);
                n["spec"]["podCIDRs"] = json!([cidr]);
                items.push(n);
            }
            if let Some(sel) = label_selector(&query) {
                items.retain(|n| matches_selector(n, &sel));
            }
            list("NodeList", items)
        }
        (Method::GET, ["apis", "apps", "v1", "daemonsets"]) => list(
            "DaemonSetList",
            fixture_items("workloads.json")
                .into_iter()
                .filter(|i| i["kind"] == "DaemonSet")
                .collect(),
        ),
        (Method::GET, ["api", "v1", "namespaces", "kube-system", "pods"]) => {
            list("PodList", fixture_items("kube-system-pods.json"))
        }
        (
            Method::GET,
            [
                "api",
                "v1",
                "namespaces",
                ns @ ("kube-system" | "default"),
                "services",
            ],
        ) => list(
            "ServiceList",
            fixture_items("services.json")
                .into_iter()
                .filter(|s| s["metadata"]["namespace"] == *ns)
                .collect(),
        ),
        (Method::GET, ["apis", "discovery.k8s.io", "v1", "endpointslices"]) => {
            list("EndpointSliceList", fixture_items("endpointslices.json"))
        }
        (
            Method::GET,
            [
                "apis",
                "discovery.k8s.io",
                "v1",
                "namespaces",
                ns,
                "endpointslices",
            ],
        ) => list("EndpointSliceList", probe_slices(&st, ns)),
        (Method::GET, ["apis", "networking.k8s.io", "v1", "networkpolicies"]) => {
            list("NetworkPolicyList", st.policies.clone())
        }
        (Method::GET, ["api", "v1", "namespaces", "kube-system", "configmaps", name]) => {
            status(404, "NotFound", &format!("configmaps \"{name}\" not found"))
        }
        (Method::POST, ["api", "v1", "namespaces", _ns, "pods"]) if st.reject_pods.is_some() => {
            status(403, "Forbidden", st.reject_pods.as_deref().unwrap_or(""))
        }
        (Method::POST, ["api", "v1", "namespaces", ns, "pods"]) => {
            let name = body["metadata"]["name"].as_str().unwrap_or("").to_string();
            let mut pod = body.clone();
            pod["metadata"]["uid"] = json!(format!("uid-{}-{ns}-{name}", st.requests.len()));
            st.pods.insert(format!("{ns}/{name}"), pod.clone());
            st.pod_created
                .insert(format!("{ns}/{name}"), std::time::Instant::now());
            reply(StatusCode::CREATED, pod)
        }
        (Method::GET, ["api", "v1", "namespaces", ns, "pods"]) => {
            let prefix = format!("{ns}/");
            let mut items = Vec::new();
            for (i, (k, p)) in st.pods.iter().enumerate() {
                if !k.starts_with(&prefix) {
                    continue;
                }
                let node = p["spec"]["nodeName"].as_str().unwrap_or("");
                let fate = st.fates.get(node).copied().unwrap_or(PodFate::Ready);
                items.push(with_status(
                    p,
                    fate,
                    &format!("198.18.{}.{}", node_octet(node), 10 + i),
                ));
            }
            if let Some(sel) = label_selector(&query) {
                items.retain(|p| matches_selector(p, &sel));
            }
            list("PodList", items)
        }
        // deletecollection: every pod the label selector matches.
        (Method::DELETE, ["api", "v1", "namespaces", ns, "pods"]) => {
            let grace = body["gracePeriodSeconds"].as_i64();
            let sel = label_selector(&query).unwrap_or_default();
            let prefix = format!("{ns}/");
            let gone: Vec<String> = st
                .pods
                .iter()
                .filter(|(k, p)| k.starts_with(&prefix) && matches_selector(p, &sel))
                .map(|(k, _)| k.clone())
                .collect();
            let mut items = Vec::new();
            for k in gone {
                st.pod_delete_grace.insert(k.clone(), grace);
                items.extend(st.pods.remove(&k));
            }
            collect_garbage(&mut st);
            list("PodList", items)
        }
        (Method::DELETE, ["api", "v1", "namespaces", ns, "pods", name]) => {
            let grace = body["gracePeriodSeconds"].as_i64();
            st.pod_delete_grace.insert(format!("{ns}/{name}"), grace);
            let gone = st.pods.remove(&format!("{ns}/{name}"));
            collect_garbage(&mut st);
            match gone {
                Some(p) => reply(StatusCode::OK, p),
                None => status(404, "NotFound", "not found"),
            }
        }
        (Method::POST, ["api", "v1", "namespaces", ns, "services"]) => {
            let name = body["metadata"]["name"].as_str().unwrap_or("").to_string();
            let n = st.services.len() + 100;
            let mut svc = body.clone();
            if svc["spec"]["type"] == "NodePort" {
                if st.refuse_node_ports {
                    return Ok(status(
                        422,
                        "Invalid",
                        &format!(
                            "Service \"{name}\" is invalid: spec.ports[0].nodePort: Internal error: range is full"
                        ),
                    ));
                }
                // The API server allocates a nodePort for every port.
                if let Some(ports) = svc["spec"]["ports"].as_array_mut() {
                    for p in ports {
                        p["nodePort"] = json!(30000 + st.node_ports_allocated);
                        st.node_ports_allocated += 1;
                    }
                }
            }
            let ip = format!("198.19.{}.{}", n / 250, n % 250);
            svc["spec"]["clusterIP"] = json!(ip);
            svc["spec"]["clusterIPs"] = json!([ip]);
            st.services.insert(format!("{ns}/{name}"), svc.clone());
            reply(StatusCode::CREATED, svc)
        }
        (Method::DELETE, ["api", "v1", "namespaces", ns, "services", name]) => {
            match st.services.remove(&format!("{ns}/{name}")) {
                Some(s) => reply(StatusCode::OK, s),
                None => status(404, "NotFound", "not found"),
            }
        }
        (Method::GET, ["api", "v1", "namespaces", _ns, "events"]) => {
            // The captured kubelet/scheduler events, about each of our failed pods.
            let targets: Vec<(String, Value, PodFate)> = st
                .pods
                .values()
                .filter_map(|p| {
                    let node = p["spec"]["nodeName"].as_str().unwrap_or("");
                    let fate = st.fates.get(node).copied().unwrap_or(PodFate::Ready);
                    (fate != PodFate::Ready).then(|| {
                        (
                            p["metadata"]["name"].as_str().unwrap_or("").to_string(),
                            p["metadata"]["uid"].clone(),
                            fate,
                        )
                    })
                })
                .collect();
            let captured = fixture_items("failing-pods-events.json");
            let sandbox = turn2("sandbox-failed-events.json")["items"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let mut items = Vec::new();
            for (name, uid, fate) in targets {
                let (from, events) = match fate {
                    PodFate::ImagePull => ("badimage", &captured),
                    PodFate::CrashLoop => ("crashloop", &captured),
                    PodFate::Unschedulable => ("unschedulable", &captured),
                    PodFate::SandboxFailed => ("web", &sandbox),
                    _ => continue,
                };
                for e in events
                    .iter()
                    .filter(|e| e["involvedObject"]["name"] == from)
                {
                    let mut e = e.clone();
                    e["involvedObject"]["name"] = json!(name);
                    e["involvedObject"]["uid"] = uid.clone();
                    items.push(e);
                }
            }
            list("EventList", items)
        }
        // Cluster-wide lists (`cleanup` looks for probes left anywhere).
        (Method::GET, ["api", "v1", "pods"]) => {
            let mut items: Vec<Value> = st.pods.values().cloned().collect();
            items.extend(fixture_items("kube-system-pods.json"));
            if let Some(sel) = label_selector(&query) {
                items.retain(|p| matches_selector(p, &sel));
            }
            list("PodList", items)
        }
        (Method::GET, ["api", "v1", "services"]) => {
            let mut items: Vec<Value> = st.services.values().cloned().collect();
            items.extend(fixture_items("services.json"));
            if let Some(sel) = label_selector(&query) {
                items.retain(|p| matches_selector(p, &sel));
            }
            list("ServiceList", items)
        }
        (Method::GET, ["apis"]) => {
            let groups: Vec<Value> = st
                .api_groups
                .iter()
                .map(|(g, v)| {
                    let gv = json!({"groupVersion": format!("{g}/{v}"), "version": v});
                    json!({"name": g, "versions": [gv.clone()], "preferredVersion": gv})
                })
                .collect();
            reply(
                StatusCode::OK,
                json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}),
            )
        }
        (Method::GET, ["apis", g, v, res]) if st.custom.contains_key(&format!("{g}/{v}/{res}")) => {
            list("List", st.custom[&format!("{g}/{v}/{res}")].clone())
        }
        (_, [.., "exec"]) => status(
            400,
            "BadRequest",
            "Upgrade request required (the fake API does not do websockets)",
        ),
        _ => status(
            404,
            "NotFound",
            &format!("the fake API has no {method} {path}"),
        ),
    };
    Ok(r)
}
