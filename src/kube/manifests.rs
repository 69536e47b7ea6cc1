//! The objects a run creates, as typed k8s-openapi values built by small
//! functions: the namespace, per node two probe pods (with a Service each) and
//! one privileged host-network pod.

use crate::model::topology::ServePorts;
use k8s_openapi::api::core::v1::{
    Capabilities, Container, ContainerPort, EnvVar, EnvVarSource, HostPathVolumeSource, Namespace,
    ObjectFieldSelector, Pod, PodReadinessGate, PodSpec, Probe, ResourceRequirements,
    SeccompProfile, SecurityContext, Service, ServicePort, ServiceSpec, TCPSocketAction,
    Toleration, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

pub const MANAGED_BY_KEY: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY: &str = "kubectl-netcheck";
pub const RUN_KEY: &str = "netcheck.io/run";
pub const ROLE_KEY: &str = "netcheck.io/role";
pub const PROBE_KEY: &str = "netcheck.io/probe";
pub const NODE_KEY: &str = "netcheck.io/node";
pub const PSA_ENFORCE: &str = "pod-security.kubernetes.io/enforce";
/// Where the binary lives in the probe image.
pub const BIN: &str = "/usr/local/bin/kubectl-netcheck";
/// The container name in every pod we create.
pub const CONTAINER: &str = "agent";

/// The image matching this binary's version (DESIGN: the default tag matches the binary).
pub fn default_image() -> String {
    format!(
        "ghcr.io/netcheck/kubectl-netcheck:{}",
        env!("CARGO_PKG_VERSION")
    )
}

/// The Pod Security Admission level a namespace enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PsaLevel {
    Privileged,
    Baseline,
    Restricted,
}

impl PsaLevel {
    /// From a namespace's `pod-security.kubernetes.io/enforce` label (absent: privileged,
    /// the default of a cluster without an AdmissionConfiguration).
    pub fn of(labels: Option<&BTreeMap<String, String>>) -> PsaLevel {
        match labels.and_then(|l| l.get(PSA_ENFORCE)).map(String::as_str) {
            Some("restricted") => PsaLevel::Restricted,
            Some("baseline") => PsaLevel::Baseline,
            _ => PsaLevel::Privileged,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            PsaLevel::Privileged => "privileged",
            PsaLevel::Baseline => "baseline",
            PsaLevel::Restricted => "restricted",
        }
    }
}

/// A run's identity and choices, shared by every object it creates.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub id: String,
    pub namespace: String,
    pub image: String,
    pub ports: ServePorts,
    /// The port the host agents serve TCP on, on the node's own network.
    pub host_port: u16,
    /// What the namespace allows; decides the probe pods' security context.
    pub psa: PsaLevel,
}

impl RunSpec {
    pub fn labels(&self, role: &str) -> BTreeMap<String, String> {
        [
            (MANAGED_BY_KEY, MANAGED_BY),
            (RUN_KEY, self.id.as_str()),
            (ROLE_KEY, role),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }
}

/// A fresh run id: 6 lowercase alphanumerics.
pub fn new_run_id() -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..6)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect()
}

/// A port for the host agents: high, outside the NodePort range (30000-32767)
/// and the ephemeral range most kernels use (32768-60999 starts above), derived
/// from the run id so that two runs rarely collide.
pub fn host_port_for(id: &str) -> u16 {
    let h = id
        .bytes()
        .fold(0u32, |a, b| a.wrapping_mul(31).wrapping_add(b as u32));
    // 61000..=63999: above the default ip_local_port_range (32768-60999).
    61000 + (h % 3000) as u16
}

/// The probe namespace: ours by label, privileged PSA when host pods go in it.
pub fn namespace(run: &RunSpec, privileged: bool) -> Namespace {
    let mut labels = run.labels("namespace");
    labels.remove(ROLE_KEY);
    if privileged {
        labels.insert(PSA_ENFORCE.into(), "privileged".into());
    }
    Namespace {
        metadata: ObjectMeta {
            name: Some(run.namespace.clone()),
            labels: Some(labels),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// A valid DNS-1123 label from a node name (dots and odd characters become '-').
pub fn dns_label(s: &str, max: usize) -> String {
    let mut out: String = s
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    out.truncate(max);
    let trimmed = out.trim_matches('-');
    if trimmed.is_empty() {
        "node".into()
    } else {
        trimmed.to_string()
    }
}

/// Names for a node's objects: `probe-<node>-a`, `-b` and `host-<node>`; `idx`
/// keeps them unique when two node names shorten to the same label.
pub fn probe_name(node: &str, idx: usize, slot: char) -> String {
    format!("probe-{}-{idx}{slot}", dns_label(node, 48))
}

pub fn host_pod_name(node: &str, idx: usize) -> String {
    format!("host-{}-{idx}", dns_label(node, 50))
}

fn env_field(name: &str, path: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: path.into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Small requests (a probe must fit on a full node); limits that bound a
/// runaway agent. Host agents get more memory: a large cluster's iptables or
/// nftables ruleset is tens of megabytes of text to parse.
fn small_resources(memory_limit: &str) -> ResourceRequirements {
    let q = |s: &str| Quantity(s.to_string());
    ResourceRequirements {
        requests: Some([("cpu".into(), q("10m")), ("memory".into(), q("16Mi"))].into()),
        limits: Some(
            [
                ("cpu".into(), q("500m")),
                ("memory".into(), q(memory_limit)),
            ]
            .into(),
        ),
        ..Default::default()
    }
}

fn tcp_readiness(port: u16) -> Probe {
    Probe {
        tcp_socket: Some(TCPSocketAction {
            port: IntOrString::Int(port as i32),
            ..Default::default()
        }),
        period_seconds: Some(2),
        initial_delay_seconds: Some(0),
        failure_threshold: Some(3),
        ..Default::default()
    }
}

/// The probe pods' security context for what the namespace enforces: NET_RAW
/// (ICMP and DF probes) when allowed; under `restricted` the agent falls back
/// to unprivileged ICMP sockets (`net.ipv4.ping_group_range`) where the node allows them.
fn probe_security(psa: PsaLevel) -> SecurityContext {
    match psa {
        PsaLevel::Privileged => SecurityContext {
            capabilities: Some(Capabilities {
                add: Some(vec!["NET_RAW".into()]),
                drop: None,
            }),
            allow_privilege_escalation: Some(false),
            ..Default::default()
        },
        // Baseline allows the runtime's default capabilities (NET_RAW on most
        // runtimes) but not adding any.
        PsaLevel::Baseline => SecurityContext {
            allow_privilege_escalation: Some(false),
            ..Default::default()
        },
        PsaLevel::Restricted => SecurityContext {
            capabilities: Some(Capabilities {
                add: None,
                drop: Some(vec!["ALL".into()]),
            }),
            allow_privilege_escalation: Some(false),
            run_as_non_root: Some(true),
            run_as_user: Some(65534),
            seccomp_profile: Some(SeccompProfile {
                type_: "RuntimeDefault".into(),
                ..Default::default()
            }),
            ..Default::default()
        },
    }
}

fn serve_args(ports: ServePorts) -> Vec<String> {
    vec![
        "agent".into(),
        "serve".into(),
        "--tcp-port".into(),
        ports.tcp.to_string(),
        "--udp-port".into(),
        ports.udp.to_string(),
        "--http-port".into(),
        ports.http.to_string(),
    ]
}

fn pod_spec_common(node: &str, container: Container) -> PodSpec {
    PodSpec {
        node_name: Some(node.to_string()),
        // Tolerate every taint: a probe must run on every node it is pinned to.
        tolerations: Some(vec![Toleration {
            operator: Some("Exists".into()),
            ..Default::default()
        }]),
        containers: vec![container],
        restart_policy: Some("Always".into()),
        automount_service_account_token: Some(false),
        enable_service_links: Some(false),
        termination_grace_period_seconds: Some(1),
        ..Default::default()
    }
}

/// A probe pod on `node`: `agent serve` on the probe ports, its identity from
/// the downward API, ready once its TCP port accepts.
pub fn probe_pod(run: &RunSpec, name: &str, node: &str) -> Pod {
    let mut labels = run.labels("probe");
    labels.insert(PROBE_KEY.into(), name.into());
    labels.insert(NODE_KEY.into(), dns_label(node, 63));
    let p = run.ports;
    let container = Container {
        name: CONTAINER.into(),
        image: Some(run.image.clone()),
        image_pull_policy: Some("IfNotPresent".into()),
        command: Some(vec![BIN.into()]),
        args: Some(serve_args(p)),
        env: Some(vec![
            env_field("POD_NAME", "metadata.name"),
            env_field("NODE_NAME", "spec.nodeName"),
            env_field("POD_IP", "status.podIP"),
        ]),
        ports: Some(vec![
            container_port("tcp", p.tcp, "TCP"),
            container_port("udp", p.udp, "UDP"),
            container_port("http", p.http, "TCP"),
        ]),
        readiness_probe: Some(tcp_readiness(p.tcp)),
        resources: Some(small_resources("128Mi")),
        security_context: Some(probe_security(run.psa)),
        ..Default::default()
    };
    Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(run.namespace.clone()),
            labels: Some(labels),
            ..Default::default()
        },
        spec: Some(pod_spec_common(node, container)),
        ..Default::default()
    }
}

/// The readiness gate of probes that wear workload labels (`--policy-from`):
/// nothing ever sets it, so the pod never turns Ready and no Service that
/// selects the workload's labels sends it traffic. The run waits for
/// ContainersReady instead ([`super::pods::classify`]).
pub const OUT_OF_SERVICE_GATE: &str = "netcheck.io/out-of-service";

/// Give a probe pod a workload's labels (`--policy-from`), so that the
/// policies selecting the workload select the probe. The probe's own labels
/// win (cleanup and the probe Services find it by them); the keys that had
/// to be left out are returned.
pub fn wear_labels(pod: &mut Pod, workload: &BTreeMap<String, String>) -> Vec<String> {
    let labels = pod.metadata.labels.get_or_insert_with(BTreeMap::new);
    let mut clashes = Vec::new();
    for (k, v) in workload {
        match labels.get(k) {
            Some(own) if own != v => clashes.push(k.clone()),
            Some(_) => {}
            None => {
                labels.insert(k.clone(), v.clone());
            }
        }
    }
    if let Some(spec) = pod.spec.as_mut() {
        spec.readiness_gates = Some(vec![PodReadinessGate {
            condition_type: OUT_OF_SERVICE_GATE.into(),
        }]);
    }
    clashes
}

fn container_port(name: &str, port: u16, proto: &str) -> ContainerPort {
    ContainerPort {
        name: Some(name.into()),
        container_port: port as i32,
        protocol: Some(proto.into()),
        ..Default::default()
    }
}

/// Nodes whose probe Service is a NodePort: the nodePorts a run takes
/// (two per Service, tcp and udp) come from the cluster's shared range
/// (30000–32767 by default, 2,768 ports), so a large run leaves most of it
/// to the cluster's own Services; the nodes after these get a ClusterIP
/// Service and no `nodeport` checks.
pub const MAX_NODEPORT_SERVICES: usize = 100;

/// The Service of one probe pod (selects only it; both families where the
/// cluster has them): a NodePort with `externalTrafficPolicy: Cluster`, so
/// that every node's IP at its nodePort reaches the pod (the `nodeport`
/// checks), and its ClusterIP the same pod (the `pod-to-service` checks).
/// Its ports are the ones checks go through: `tcp` and `udp`.
pub fn probe_service(run: &RunSpec, pod_name: &str) -> Service {
    let p = run.ports;
    let port = |name: &str, port: u16, proto: &str| ServicePort {
        name: Some(name.into()),
        port: port as i32,
        target_port: Some(IntOrString::Int(port as i32)),
        protocol: Some(proto.into()),
        ..Default::default()
    };
    Service {
        metadata: ObjectMeta {
            name: Some(pod_name.into()),
            namespace: Some(run.namespace.clone()),
            labels: Some(run.labels("probe-service")),
            ..Default::default()
        },
        spec: Some(ServiceSpec {
            type_: Some("NodePort".into()),
            external_traffic_policy: Some("Cluster".into()),
            selector: Some(
                [
                    (PROBE_KEY.to_string(), pod_name.to_string()),
                    (RUN_KEY.to_string(), run.id.clone()),
                ]
                .into(),
            ),
            ip_family_policy: Some("PreferDualStack".into()),
            ports: Some(vec![port("tcp", p.tcp, "TCP"), port("udp", p.udp, "UDP")]),
            // Traffic from a probe must reach the probe behind the Service even
            // when it is the same pod (hairpin): no session affinity games.
            session_affinity: Some("None".into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The same Service as a plain ClusterIP one (no nodePorts taken): for
/// nodes past [`MAX_NODEPORT_SERVICES`], and when the API refused the
/// NodePort (a policy forbidding NodePorts, the range full).
pub fn as_cluster_ip(mut svc: Service) -> Service {
    if let Some(spec) = svc.spec.as_mut() {
        spec.type_ = Some("ClusterIP".into());
        spec.external_traffic_policy = None;
        for p in spec.ports.iter_mut().flatten() {
            p.node_port = None;
        }
    }
    svc
}

/// The host agent on `node`: host network, privileged (host iptables, nft,
/// conntrack), the host's root read-only at /host; serves TCP on `run.host_port`
/// so pod→node checks have a target.
pub fn host_pod(run: &RunSpec, name: &str, node: &str) -> Pod {
    let mut labels = run.labels("host");
    labels.insert(NODE_KEY.into(), dns_label(node, 63));
    let hp = run.host_port;
    let ports = ServePorts {
        tcp: hp,
        udp: hp + 1,
        http: hp + 2,
    };
    let container = Container {
        name: CONTAINER.into(),
        image: Some(run.image.clone()),
        image_pull_policy: Some("IfNotPresent".into()),
        command: Some(vec![BIN.into()]),
        args: Some(serve_args(ports)),
        env: Some(vec![
            env_field("POD_NAME", "metadata.name"),
            env_field("NODE_NAME", "spec.nodeName"),
            env_field("POD_IP", "status.podIP"),
        ]),
        readiness_probe: Some(tcp_readiness(hp)),
        resources: Some(small_resources("512Mi")),
        security_context: Some(SecurityContext {
            privileged: Some(true),
            ..Default::default()
        }),
        volume_mounts: Some(vec![VolumeMount {
            name: "host-root".into(),
            mount_path: "/host".into(),
            read_only: Some(true),
            ..Default::default()
        }]),
        ..Default::default()
    };
    let mut spec = pod_spec_common(node, container);
    spec.host_network = Some(true);
    spec.dns_policy = Some("ClusterFirstWithHostNet".into());
    spec.volumes = Some(vec![Volume {
        name: "host-root".into(),
        host_path: Some(HostPathVolumeSource {
            path: "/".into(),
            type_: Some("Directory".into()),
        }),
        ..Default::default()
    }]);
    Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(run.namespace.clone()),
            labels: Some(labels),
            ..Default::default()
        },
        spec: Some(spec),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(psa: PsaLevel) -> RunSpec {
        RunSpec {
            id: "abc123".into(),
            namespace: "netcheck-abc123".into(),
            image: "example.test/netcheck:1".into(),
            ports: ServePorts::default(),
            host_port: host_port_for("abc123"),
            psa,
        }
    }

    #[test]
    fn namespace_is_labelled_as_ours_and_privileged_when_asked() {
        let ns = namespace(&run(PsaLevel::Privileged), true);
        let l = ns.metadata.labels.unwrap();
        assert_eq!(ns.metadata.name.as_deref(), Some("netcheck-abc123"));
        assert_eq!(l[MANAGED_BY_KEY], "kubectl-netcheck");
        assert_eq!(l[RUN_KEY], "abc123");
        assert_eq!(l[PSA_ENFORCE], "privileged");
        let ns = namespace(&run(PsaLevel::Privileged), false);
        assert!(!ns.metadata.labels.unwrap().contains_key(PSA_ENFORCE));
    }

    #[test]
    fn probe_pod_is_pinned_tolerant_small_and_ready_on_tcp() {
        let r = run(PsaLevel::Privileged);
        let p = probe_pod(&r, "probe-node1-0a", "node1");
        let s = p.spec.unwrap();
        assert_eq!(s.node_name.as_deref(), Some("node1"));
        let t = s.tolerations.unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].operator.as_deref(), Some("Exists"));
        assert!(t[0].key.is_none() && t[0].effect.is_none());
        let c = &s.containers[0];
        assert_eq!(c.image.as_deref(), Some("example.test/netcheck:1"));
        assert_eq!(c.command.as_ref().unwrap(), &vec![BIN.to_string()]);
        let args = c.args.as_ref().unwrap();
        assert_eq!(&args[..2], &["agent", "serve"]);
        assert!(args.windows(2).any(|w| w == ["--tcp-port", "7000"]));
        let res = c.resources.as_ref().unwrap();
        assert_eq!(res.requests.as_ref().unwrap()["cpu"].0, "10m");
        assert!(res.limits.as_ref().unwrap().contains_key("memory"));
        let rp = c.readiness_probe.as_ref().unwrap();
        assert_eq!(rp.tcp_socket.as_ref().unwrap().port, IntOrString::Int(7000));
        let caps = c
            .security_context
            .as_ref()
            .unwrap()
            .capabilities
            .as_ref()
            .unwrap();
        assert_eq!(caps.add.as_ref().unwrap(), &vec!["NET_RAW".to_string()]);
        let env: Vec<&str> = c
            .env
            .as_ref()
            .unwrap()
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        assert_eq!(env, ["POD_NAME", "NODE_NAME", "POD_IP"]);
        let ip = &c.env.as_ref().unwrap()[2];
        assert_eq!(
            ip.value_from
                .as_ref()
                .unwrap()
                .field_ref
                .as_ref()
                .unwrap()
                .field_path,
            "status.podIP"
        );
        let l = p.metadata.labels.unwrap();
        assert_eq!(l[PROBE_KEY], "probe-node1-0a");
        assert_eq!(l[RUN_KEY], "abc123");
        assert_eq!(l[MANAGED_BY_KEY], MANAGED_BY);
    }

    #[test]
    fn restricted_namespaces_get_a_restricted_security_context() {
        let p = probe_pod(&run(PsaLevel::Restricted), "p", "n");
        let sc = p.spec.unwrap().containers[0]
            .security_context
            .clone()
            .unwrap();
        assert_eq!(sc.run_as_non_root, Some(true));
        assert_eq!(
            sc.capabilities.unwrap().drop.unwrap(),
            vec!["ALL".to_string()]
        );
        assert_eq!(sc.seccomp_profile.unwrap().type_, "RuntimeDefault");
        let p = probe_pod(&run(PsaLevel::Baseline), "p", "n");
        let sc = p.spec.unwrap().containers[0]
            .security_context
            .clone()
            .unwrap();
        assert!(
            sc.capabilities.is_none(),
            "baseline forbids adding capabilities"
        );
    }

    #[test]
    fn service_selects_only_its_probe_with_named_ports() {
        let r = run(PsaLevel::Privileged);
        let s = probe_service(&r, "probe-node1-0a");
        let spec = s.spec.unwrap();
        let sel = spec.selector.unwrap();
        assert_eq!(sel[PROBE_KEY], "probe-node1-0a");
        assert_eq!(sel[RUN_KEY], "abc123");
        let names: Vec<_> = spec
            .ports
            .as_ref()
            .unwrap()
            .iter()
            .map(|p| (p.name.clone().unwrap(), p.port, p.protocol.clone().unwrap()))
            .collect();
        assert_eq!(
            names,
            [
                ("tcp".into(), 7000, "TCP".into()),
                ("udp".into(), 7001, "UDP".into()),
            ]
        );
        // A NodePort that any node forwards to the pod wherever it runs;
        // the API server picks the nodePorts.
        assert_eq!(spec.type_.as_deref(), Some("NodePort"));
        assert_eq!(spec.external_traffic_policy.as_deref(), Some("Cluster"));
        assert!(spec.ports.iter().flatten().all(|p| p.node_port.is_none()));
        let plain = as_cluster_ip(probe_service(&r, "probe-node1-0a"))
            .spec
            .unwrap();
        assert_eq!(plain.type_.as_deref(), Some("ClusterIP"));
        assert_eq!(plain.external_traffic_policy, None);
        assert_eq!(plain.selector, Some(sel));
    }

    #[test]
    fn host_pod_is_privileged_host_network_with_the_root_read_only() {
        let r = run(PsaLevel::Privileged);
        let p = host_pod(&r, "host-node1-0", "node1");
        let s = p.spec.unwrap();
        assert_eq!(s.host_network, Some(true));
        assert_eq!(s.node_name.as_deref(), Some("node1"));
        let v = &s.volumes.as_ref().unwrap()[0];
        assert_eq!(v.host_path.as_ref().unwrap().path, "/");
        let c = &s.containers[0];
        let m = &c.volume_mounts.as_ref().unwrap()[0];
        assert_eq!((m.mount_path.as_str(), m.read_only), ("/host", Some(true)));
        assert_eq!(c.security_context.as_ref().unwrap().privileged, Some(true));
        let limits = c.resources.as_ref().unwrap().limits.as_ref().unwrap();
        assert_eq!(limits["memory"].0, "512Mi");
        let args = c.args.as_ref().unwrap();
        assert!(
            args.windows(2)
                .any(|w| w == ["--tcp-port", &r.host_port.to_string()])
        );
        assert!(
            r.host_port >= 61000,
            "outside NodePort and ephemeral ranges"
        );
        assert_eq!(
            s.tolerations.unwrap()[0].operator.as_deref(),
            Some("Exists")
        );
    }

    #[test]
    fn wearing_workload_labels_keeps_the_probes_own_and_gates_readiness() {
        let mut p = probe_pod(&run(PsaLevel::Privileged), "probe-node1-0a", "node1");
        let clashes = wear_labels(
            &mut p,
            &[
                ("app".to_string(), "web".to_string()),
                (MANAGED_BY_KEY.to_string(), "Helm".to_string()),
            ]
            .into(),
        );
        assert_eq!(clashes, vec![MANAGED_BY_KEY.to_string()]);
        let l = p.metadata.labels.as_ref().unwrap();
        assert_eq!(l["app"], "web");
        assert_eq!(l[MANAGED_BY_KEY], MANAGED_BY);
        assert_eq!(l[PROBE_KEY], "probe-node1-0a");
        let gates = p.spec.as_ref().unwrap().readiness_gates.as_ref().unwrap();
        assert_eq!(gates[0].condition_type, OUT_OF_SERVICE_GATE);
    }

    #[test]
    fn names_are_valid_labels() {
        assert_eq!(
            probe_name("Node1.example.com", 0, 'a'),
            "probe-node1-example-com-0a"
        );
        let long = "n".repeat(200);
        assert!(probe_name(&long, 12, 'b').len() <= 63);
        assert!(host_pod_name(&long, 12).len() <= 63);
        assert_eq!(dns_label("...", 10), "node");
        let id = new_run_id();
        assert_eq!(id.len(), 6);
        assert!(
            id.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        );
    }

    #[test]
    fn psa_level_from_labels() {
        assert_eq!(PsaLevel::of(None), PsaLevel::Privileged);
        let l: BTreeMap<String, String> =
            [(PSA_ENFORCE.to_string(), "restricted".to_string())].into();
        assert_eq!(PsaLevel::of(Some(&l)), PsaLevel::Restricted);
    }
}
