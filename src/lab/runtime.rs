//! [`LabRuntime`]: the pipeline's [`Runtime`] on the lab. `discover` describes
//! the cluster to be, as the API of a cluster whose CNI and kube-proxy run on
//! the nodes would (neither named: host inspection finds them), `deploy`
//! builds it (network, DNS, agents, faults) and returns while kube-proxy's
//! sync of the probe Services is still pending ([`super::kube_proxy`]),
//! `probe` and `inspect_host` exec the agent inside namespaces, `teardown`
//! removes everything (also after a partial build).

use super::cmd::Tools;
use super::ctx::LabCtx;
use super::kube_proxy::ServiceSync;
use super::plan::{
    APISERVER_IP, APISERVER_IP_V6, APISERVER_PORT, CLUSTER_DOMAIN, DNS_REPLICAS, DNS_SERVICE_IP,
    DNS_SERVICE_IP_V6, IpFamily, LabPlan, NODE_HTTP_PORT, NODE_TCP_PORT, NODE_UDP_PORT,
};
use super::procs::{self, Started};
use super::state::LabState;
use crate::agent::probe::ACTIVE_ENV;
use crate::model::host::HostReport;
use crate::model::report::{ClusterSummary, Endpoint, ServiceRef};
use crate::model::topology::{
    ApiServer, DnsName, DnsTarget, HostAgent, NodeInfo, PolicyWorld, ProbePod, ServePorts,
    ServiceTarget, Source,
};
use crate::model::{Deployment, ProbePlan, ProbeReport};
use crate::runtime::{Progress, Result, Runtime, RuntimeError};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

/// What to build.
#[derive(Clone)]
pub struct LabConfig {
    pub nodes: usize,
    pub pods_per_node: usize,
    pub faults: Vec<&'static dyn super::faults::Fault>,
    /// The binary exec'd as the agent (the running CLI: `std::env::current_exe()`).
    pub agent_exe: PathBuf,
    /// Start the agents. Off: network and DNS only (tests of the topology).
    pub agents: bool,
    /// A fixed run id (default: random).
    pub id: Option<String>,
    /// The lab outlives the CLI (--keep): the sweep leaves it alone only
    /// while the owner runs, unless kept.
    pub keep: bool,
    /// NetworkPolicies loaded into the lab's objects (the lab's CNI, like
    /// flannel, does not enforce them).
    pub policies: Vec<k8s_openapi::api::networking::v1::NetworkPolicy>,
    /// How kube-proxy programs Services on the nodes (`--kube-proxy`).
    pub kube_proxy: super::KubeProxyMode,
    /// The CNI flavour the nodes run (`--cni`).
    pub cni: &'static dyn super::flavours::Flavour,
    /// IPv4, IPv6 or both (`--ip-family`).
    pub ip_family: super::plan::IpFamily,
}

impl std::fmt::Debug for LabConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LabConfig")
            .field("nodes", &self.nodes)
            .field("pods_per_node", &self.pods_per_node)
            .field(
                "faults",
                &self.faults.iter().map(|x| x.name()).collect::<Vec<_>>(),
            )
            .field("agent_exe", &self.agent_exe)
            .field("agents", &self.agents)
            .field("id", &self.id)
            .field("kube_proxy", &self.kube_proxy.name())
            .field("cni", &self.cni.name())
            .field("ip_family", &self.ip_family.name())
            .finish()
    }
}

impl LabConfig {
    pub fn new(nodes: usize, pods_per_node: usize, agent_exe: PathBuf) -> Self {
        LabConfig {
            nodes,
            pods_per_node,
            faults: Vec::new(),
            agent_exe,
            agents: true,
            id: None,
            keep: false,
            policies: Vec::new(),
            kube_proxy: super::KubeProxyMode::default(),
            cni: super::flavours::default(),
            ip_family: super::plan::IpFamily::default(),
        }
    }
}

/// One sentence for a user without root.
pub const NEEDS_ROOT: &str =
    "kubectl netcheck lab needs root (network namespaces): run it with sudo";

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

struct Inner {
    state: LabState,
    children: Vec<Started>,
    dns_pids: Vec<u32>,
    torn_down: bool,
}

pub struct LabRuntime {
    cfg: LabConfig,
    plan: LabPlan,
    tools: Tools,
    ports: ServePorts,
    services: Arc<ServiceSync>,
    inner: Mutex<Inner>,
}

impl LabRuntime {
    /// Check root and tools, pick the id; builds nothing yet.
    pub fn new(cfg: LabConfig) -> Result<Self> {
        if !is_root() {
            return Err(RuntimeError::NotPermitted(NEEDS_ROOT.into()));
        }
        let tools = Tools::find()?;
        cfg.kube_proxy.check_tools(&tools)?;
        let id = cfg.id.clone().unwrap_or_else(LabPlan::random_id);
        let mut plan =
            LabPlan::new(id, cfg.nodes, cfg.pods_per_node).map_err(RuntimeError::Other)?;
        plan.family = cfg.ip_family;
        let state = LabState {
            id: plan.id.clone(),
            owner_pid: std::process::id(),
            owner_start: super::state::process_start(std::process::id()).unwrap_or(0),
            kept: cfg.keep,
            nodes: plan.nodes,
            pods_per_node: plan.pods_per_node,
            namespaces: plan.all_namespaces(),
            etc_netns: plan.pod_namespaces(),
            pids: BTreeMap::new(),
        };
        Ok(LabRuntime {
            cfg,
            plan,
            tools,
            ports: ServePorts::default(),
            services: Arc::new(ServiceSync::default()),
            inner: Mutex::new(Inner {
                state,
                children: Vec::new(),
                dns_pids: Vec::new(),
                torn_down: false,
            }),
        })
    }

    pub fn plan(&self) -> &LabPlan {
        &self.plan
    }
    pub fn id(&self) -> &str {
        &self.plan.id
    }
    pub fn tools(&self) -> &Tools {
        &self.tools
    }

    /// A context for faults and tests (DNS pids included once started).
    pub async fn ctx(&self) -> LabCtx {
        LabCtx {
            plan: self.plan.clone(),
            tools: self.tools.clone(),
            agent_exe: self.cfg.agent_exe.clone(),
            dns_pids: self.inner.lock().await.dns_pids.clone(),
            services: self.services.clone(),
            kube_proxy: self.cfg.kube_proxy,
            cni: self.cfg.cni,
        }
    }

    /// Wait until kube-proxy has synced the probe Services on every node
    /// (tests that send packets through them; the pipeline does not know).
    pub async fn wait_for_service_rules(&self) -> Result<()> {
        self.services.wait_all().await
    }

    /// Pids of the processes the lab started, by role.
    pub async fn pids(&self) -> BTreeMap<String, u32> {
        self.inner.lock().await.state.pids.clone()
    }

    fn namespace_of(&self, source: &Source) -> Result<String> {
        match source {
            Source::Pod(name) => self
                .plan
                .pod_index(name)
                .map(|(i, j)| self.plan.pod_ns(i, j))
                .ok_or_else(|| RuntimeError::Other(format!("the lab has no pod {name}"))),
            Source::Host(node) => self.node_ns(node),
        }
    }

    fn node_ns(&self, node: &str) -> Result<String> {
        self.plan
            .node_index(node)
            .map(|i| self.plan.node_ns(i))
            .ok_or_else(|| RuntimeError::Other(format!("the lab has no node {node}")))
    }

    fn discovered(&self) -> Deployment {
        let p = &self.plan;
        Deployment {
            cluster: ClusterSummary {
                name: p.cluster_name(),
                server: "network namespaces on this machine".into(),
                // The kernel is the lab's "server version": its netfilter and
                // bridge code is what the lab exercises.
                version: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                    .map(|v| format!("Linux {}", v.trim()))
                    .unwrap_or_else(|_| "Linux".into()),
                // The CNI and kube-proxy run on the nodes, not as DaemonSets:
                // the API names neither; host inspection finds both.
                cni: "unknown".into(),
                kube_proxy_mode: "unknown".into(),
                dns_service: Some(dns_service_ref(p)),
                ..Default::default()
            },
            nodes: (0..p.nodes)
                .map(|i| NodeInfo {
                    name: p.node_name(i),
                    ready: true,
                    internal_ips: by_family(p, p.node_ip(i), p.node_ip6(i)),
                    pod_cidrs: [
                        (p.family.v4(), p.pod_cidr(i)),
                        (p.family.v6(), p.pod_cidr6(i)),
                    ]
                    .into_iter()
                    .filter(|(on, _)| *on)
                    .filter_map(|(_, c)| c.parse().ok())
                    .collect(),
                    taints: Vec::new(),
                    reason: None,
                })
                .collect(),
            ..Default::default()
        }
    }

    /// `--policy` objects as the lab's API would hold them: a policy without
    /// a namespace goes to the probe namespace `kns` (as `kubectl apply -n`).
    fn policies_in(&self, kns: &str) -> Vec<k8s_openapi::api::networking::v1::NetworkPolicy> {
        let mut out = self.cfg.policies.clone();
        for p in &mut out {
            p.metadata.namespace.get_or_insert_with(|| kns.to_string());
        }
        out
    }

    /// The deployment the lab serves once built (pure: what `deploy` returns).
    pub fn deployed(&self, discovered: Deployment) -> Deployment {
        let p = &self.plan;
        let kns = p.k8s_namespace();
        let mut pods = Vec::new();
        for i in 0..p.nodes {
            for j in 0..p.pods_per_node {
                let name = p.pod_name(i, j);
                let labels = BTreeMap::from([
                    ("app".to_string(), "netcheck-probe".to_string()),
                    ("netcheck.io/pod".to_string(), name.clone()),
                    ("netcheck.io/node".to_string(), p.node_name(i)),
                ]);
                pods.push(ProbePod {
                    name: name.clone(),
                    namespace: kns.clone(),
                    node: p.node_name(i),
                    ips: by_family(p, p.pod_ip(i, j), p.pod_ip6(i, j)),
                    ports: self.ports,
                    labels,
                    service: Some(ServiceTarget {
                        name,
                        namespace: kns.clone(),
                        cluster_ips: by_family(p, p.service_ip(i, j), p.service_ip6(i, j)),
                        node_port: (j == 0).then(|| p.node_port(i)),
                    }),
                });
            }
        }
        let hosts = (0..p.nodes)
            .map(|i| HostAgent {
                node: p.node_name(i),
                ips: by_family(p, p.node_ip(i), p.node_ip6(i)),
                tcp_port: Some(NODE_TCP_PORT),
            })
            .collect();
        let first = &pods[0];
        let first_svc = first.service.clone();
        let mut names = Vec::new();
        if let Some(s) = &first_svc {
            names.push(DnsName {
                name: s.fqdn(CLUSTER_DOMAIN),
                expect: s.cluster_ips.clone(),
                via_search: false,
            });
        }
        names.push(DnsName {
            name: format!("kubernetes.default.svc.{CLUSTER_DOMAIN}"),
            expect: by_family(p, APISERVER_IP, APISERVER_IP_V6),
            via_search: false,
        });
        if let Some(s) = &first_svc {
            names.push(DnsName {
                name: s.name.clone(),
                expect: s.cluster_ips.clone(),
                via_search: true,
            });
        }
        let dns = DnsTarget {
            service: dns_service_ref(p),
            // Dual stack: both ClusterIPs of the DNS Service.
            service_ips: match p.family {
                IpFamily::Dual => by_family(p, DNS_SERVICE_IP, DNS_SERVICE_IP_V6),
                _ => Vec::new(),
            },
            servers: (0..DNS_REPLICAS)
                .flat_map(|r| {
                    by_family(p, p.dns_pod_ip(r), p.dns_pod_ip6(r))
                        .into_iter()
                        .map(move |ip| (r, ip))
                })
                .map(|(r, ip)| Endpoint {
                    node: Some(p.node_name(p.dns_node(r))),
                    pod: Some(p.dns_pod_name(r)),
                    ip: Some(ip),
                    name: None,
                })
                .collect(),
            cluster_domain: CLUSTER_DOMAIN.into(),
            names,
        };
        let apiserver = ApiServer {
            service: ServiceTarget {
                name: "kubernetes".into(),
                namespace: "default".into(),
                cluster_ips: by_family(p, APISERVER_IP, APISERVER_IP_V6),
                node_port: None,
            },
            port: APISERVER_PORT,
            node: Some(p.node_name(0)),
        };
        let ns_labels =
            |n: &str| BTreeMap::from([("kubernetes.io/metadata.name".to_string(), n.to_string())]);
        let mut namespaces = BTreeMap::new();
        for n in [kns.as_str(), "kube-system", "default"] {
            namespaces.insert(n.to_string(), ns_labels(n));
        }
        Deployment {
            pods,
            hosts,
            dns: Some(dns),
            apiserver: Some(apiserver),
            policy: PolicyWorld {
                namespaces,
                policies: self.policies_in(&kns),
            },
            ..discovered
        }
    }

    async fn build(&self, progress: &dyn Progress) -> Result<()> {
        {
            let inner = self.inner.lock().await;
            if inner.torn_down {
                return Err(RuntimeError::Other("the lab was already torn down".into()));
            }
            // Intent first: a sweep must find what we are about to make.
            inner.state.save()?;
        }
        let mut ctx = self.ctx().await;
        // Each node's agents start as soon as its pods are wired, while the
        // other nodes are still being built.
        if self.cfg.agents {
            progress.message(&format!(
                "starting {} agents as their nodes are ready",
                self.plan.nodes * (self.plan.pods_per_node + 1)
            ));
        }
        let spawned = std::sync::Mutex::new((Vec::new(), None::<RuntimeError>));
        let on_node = |i: usize| {
            if !self.cfg.agents {
                return;
            }
            let r = self.start_node_agents(&ctx, i);
            let mut g = spawned.lock().unwrap_or_else(|e| e.into_inner());
            match r {
                Ok(v) => g.0.extend(v),
                Err(e) => {
                    g.1.get_or_insert(e);
                }
            }
        };
        let built = super::build::build_network(&ctx, progress, self.ports, &on_node).await;
        let (starting, spawn_err) = spawned.into_inner().unwrap_or_else(|e| e.into_inner());
        let n_agents = starting.len();
        self.track(starting).await?;
        built?;
        if let Some(e) = spawn_err {
            return Err(e);
        }

        progress.message(&format!("starting {DNS_REPLICAS} DNS servers"));
        let (dns, started) = procs::start_dnsmasq(&ctx);
        let dns_pids: Vec<u32> = dns.iter().map(|d| d.child.id()).collect();
        self.track(dns).await?;
        started?;
        progress.message("waiting for the agents and DNS to listen");
        {
            let mut inner = self.inner.lock().await;
            inner.dns_pids = dns_pids.clone();
            procs::wait_ready(&mut inner.children, procs::READY_TIMEOUT).await?;
        }
        tracing::debug!(
            "lab {}: dnsmasq and {n_agents} agents listening",
            self.plan.id
        );
        ctx.dns_pids = dns_pids;
        self.schedule_service_sync(&ctx);
        for f in &self.cfg.faults {
            progress.message(&format!("fault: {}", f.name()));
            f.apply(&ctx)
                .await
                .map_err(|e| RuntimeError::Other(format!("applying fault {}: {e}", f.name())))?;
        }
        Ok(())
    }

    /// The probe pods are ready: each node's kube-proxy installs their
    /// Services' rules after its own random delay, in the background.
    fn schedule_service_sync(&self, ctx: &LabCtx) {
        let services = super::build::service_ports(ctx, self.ports, true);
        for i in 0..self.plan.nodes {
            let rules = self
                .cfg
                .kube_proxy
                .sync(&super::build::kube_proxy_families(ctx, i, &services));
            let delay = super::kube_proxy::random_delay();
            tracing::debug!(
                "lab {}: kube-proxy on {} syncs the probe Services in {delay:?}",
                self.plan.id,
                self.plan.node_name(i)
            );
            self.services
                .start(self.tools.clone(), i, self.plan.node_ns(i), rules, delay);
        }
    }

    /// Record started processes (in memory for teardown, on disk for the sweep).
    async fn track(&self, started: Vec<Started>) -> Result<()> {
        let mut inner = self.inner.lock().await;
        for s in started {
            inner.state.pids.insert(s.role.clone(), s.child.id());
            inner.children.push(s);
        }
        inner.state.save()
    }

    /// Start node i's agents: the node's (host network) and its pods'.
    fn start_node_agents(&self, ctx: &LabCtx, i: usize) -> Result<Vec<Started>> {
        let p = &self.plan;
        let exe = &self.cfg.agent_exe;
        let mut out = Vec::new();
        let node = p.node_name(i);
        let args = procs::serve_args(
            NODE_TCP_PORT,
            NODE_UDP_PORT,
            NODE_HTTP_PORT,
            &node,
            &node,
            &p.node_ip(i).to_string(),
        );
        let role = format!("agent-{node}");
        let ns = p.node_ns(i);
        let (child, log) = procs::spawn_in(ctx, &role, &ns, exe, &args)?;
        out.push(Started {
            role,
            ns,
            child,
            tcp: vec![NODE_TCP_PORT, NODE_HTTP_PORT],
            udp: vec![NODE_UDP_PORT],
            log,
            ready_line: Some(procs::AGENT_READY),
        });
        for j in 0..p.pods_per_node {
            let pod = p.pod_name(i, j);
            let sp = self.ports;
            let args = procs::serve_args(
                sp.tcp,
                sp.udp,
                sp.http,
                &pod,
                &node,
                &p.pod_ip(i, j).to_string(),
            );
            let role = format!("agent-{pod}");
            let ns = p.pod_ns(i, j);
            let (child, log) = procs::spawn_in(ctx, &role, &ns, exe, &args)?;
            out.push(Started {
                role,
                ns,
                child,
                tcp: vec![sp.tcp, sp.http],
                udp: vec![sp.udp],
                log,
                ready_line: Some(procs::AGENT_READY),
            });
        }
        Ok(out)
    }
}

/// Active probes of all probing agents together, per core of this machine.
const ACTIVE_PER_CORE: usize = 64;
/// Active probes of one probing agent, at least.
const ACTIVE_MIN: usize = 2;

/// How many probes each of `agents` probing agents works on at once when
/// they all share `cores` cores ([`crate::agent::probe::ACTIVE_ENV`]). On a
/// cluster each node's agents have the node's cores, and 16 each
/// ([`crate::agent::probe::DEFAULT_ACTIVE`]) keep a plan short. In the lab
/// every agent runs on the same two or so cores: 180 agents at 16 each (60
/// nodes) put thousands of probes' packets at once into the per-CPU backlog
/// every packet crossing a veth goes through (`netdev_max_backlog`, 1000),
/// which overflows: tens of thousands of packets dropped per run, timeouts,
/// and sends failing with ENOBUFS. The cores are as busy with fewer.
pub fn agent_active(cores: usize, agents: usize) -> usize {
    (ACTIVE_PER_CORE * cores.max(1) / agents.max(1))
        .clamp(ACTIVE_MIN, crate::agent::probe::DEFAULT_ACTIVE)
}

/// The DNS Service as the pods' resolv.conf names it (IPv4 unless the lab
/// is IPv6 only).
fn dns_service_ref(p: &LabPlan) -> ServiceRef {
    ServiceRef {
        name: "kube-dns".into(),
        namespace: "kube-system".into(),
        ip: super::build::dns_nameserver(p),
    }
}

/// The addresses of the lab's families: `v4` and its IPv6 twin `v6`, as
/// the cluster shows them (IPv4 first on dual stack).
fn by_family(p: &LabPlan, v4: impl Into<IpAddr>, v6: impl Into<IpAddr>) -> Vec<IpAddr> {
    let mut out = Vec::new();
    if p.family.v4() {
        out.push(v4.into());
    }
    if p.family.v6() {
        out.push(v6.into());
    }
    out
}

impl Runtime for LabRuntime {
    async fn discover(&self, _progress: &dyn Progress) -> Result<Deployment> {
        Ok(self.discovered())
    }

    async fn deploy(&self, discovered: Deployment, progress: &dyn Progress) -> Result<Deployment> {
        progress.message(&format!(
            "building lab {} ({} nodes, {} pods per node)",
            self.plan.id, self.plan.nodes, self.plan.pods_per_node
        ));
        self.build(progress).await?;
        let d = self.deployed(discovered);
        for p in crate::policy::judge::idle_policies(&d) {
            tracing::warn!(
                "NetworkPolicy {p} selects none of the lab's pods (probe pods are in namespace {}, labelled app=netcheck-probe, netcheck.io/pod=NAME, netcheck.io/node=NODE): it changes no verdict; leave out metadata.namespace to put it into the probe namespace",
                self.plan.k8s_namespace()
            );
        }
        Ok(d)
    }

    /// Every agent at once, as a lab always ran (each lab source's plan is
    /// small, and a lab has at most `MAX_NODES` × 17 sources).
    fn probe_calls_at_once(&self) -> usize {
        usize::MAX
    }

    async fn probe(&self, source: &Source, plan: &ProbePlan) -> Result<ProbeReport> {
        let ns = self.namespace_of(source)?;
        let input = serde_json::to_string(plan)
            .map_err(|e| RuntimeError::Other(format!("could not encode the probe plan: {e}")))?;
        // The agents share this machine's cores: fewer active probes each
        // (unless the environment says how many).
        let active = std::env::var(ACTIVE_ENV).unwrap_or_else(|_| {
            let cores = std::thread::available_parallelism().map_or(1, usize::from);
            agent_active(cores, self.plan.nodes * (self.plan.pods_per_node + 1)).to_string()
        });
        let out = self
            .tools
            .netns_exec_env(
                &ns,
                &self.cfg.agent_exe,
                &["agent", "probe"],
                &[(ACTIVE_ENV, &active)],
                Some(input),
                Duration::from_millis(plan.deadline_ms) + Duration::from_secs(10),
            )
            .await?;
        serde_json::from_str(&out).map_err(|e| {
            RuntimeError::Other(format!(
                "the agent in {ns} answered something that is not a probe report ({e}): {}",
                out.chars().take(200).collect::<String>()
            ))
        })
    }

    async fn inspect_host(&self, node: &str) -> Result<HostReport> {
        let ns = self.node_ns(node)?;
        let i = self.plan.node_index(node).unwrap_or(0);
        let root = self.plan.node_root(i);
        let root = root.to_string_lossy();
        let out = self
            .tools
            .netns_exec(
                &ns,
                &self.cfg.agent_exe,
                &[
                    "agent",
                    "inspect-host",
                    "--host-root",
                    &root,
                    "--node-name",
                    node,
                ],
                None,
            )
            .await
            .map_err(|e| {
                RuntimeError::Other(format!(
                    "host inspection of {node} failed (`agent inspect-host`): {e}"
                ))
            })?;
        serde_json::from_str(&out).map_err(|e| {
            RuntimeError::Other(format!(
                "`agent inspect-host` on {node} printed something that is not a host report: {e}"
            ))
        })
    }

    async fn teardown(&self) -> Result<()> {
        // No kube-proxy sync may run into a namespace being deleted.
        self.services.stop().await;
        let mut inner = self.inner.lock().await;
        if inner.torn_down {
            return Ok(());
        }
        inner.torn_down = true;
        let st = inner.state.clone();
        let children = &mut inner.children;
        let reap = || {
            for c in children.iter_mut() {
                let _ = c.child.try_wait();
            }
        };
        let r = super::state::destroy(&self.tools, &st, reap).await;
        for c in inner.children.iter_mut() {
            let _ = c.child.kill();
            let _ = c.child.wait();
        }
        inner.children.clear();
        r
    }
}

impl Drop for LabRuntime {
    /// Last resort when the owner forgot teardown (a panic in a test): kill
    /// what we started and delete the namespaces synchronously.
    fn drop(&mut self) {
        self.services.abort();
        let inner = self.inner.get_mut();
        if inner.torn_down || self.cfg.keep {
            return;
        }
        let st = inner.state.clone();
        let children = &mut inner.children;
        super::state::kill_namespace_processes(&st.namespaces, || {
            for c in children.iter_mut() {
                let _ = c.child.try_wait();
            }
        });
        for c in inner.children.iter_mut() {
            let _ = c.child.kill();
            let _ = c.child.wait();
        }
        super::state::destroy_blocking(&self.tools, &st);
    }
}

#[cfg(test)]
mod tests {
    use super::agent_active;

    #[test]
    fn agents_sharing_a_few_cores_work_on_fewer_probes_each() {
        // Two cores: 3 nodes (9 probing agents), 10, 30 and 60 nodes.
        assert_eq!(agent_active(2, 9), 14);
        assert_eq!(agent_active(2, 30), 4);
        assert_eq!(agent_active(2, 90), 2);
        assert_eq!(agent_active(2, 180), 2);
        // Never above the agent's own default, never below two.
        assert_eq!(agent_active(64, 9), crate::agent::probe::DEFAULT_ACTIVE);
        assert_eq!(agent_active(0, 0), crate::agent::probe::DEFAULT_ACTIVE);
        assert_eq!(agent_active(1, 10_000), 2);
    }
}
