//! Command-line interface: the clap definitions (also the source of the
//! completions) and dispatch to one small handler per command.
//!
//! The CLI sits on top: the handlers turn flags into the engines' own types
//! and drive them; nothing below (`kube`, `lab`, `policy`, ...) imports it.
//!
//! - `handlers`: dispatch, and the small commands (report, diff, agent, completion).
//! - `kube_run`: `run`, `cleanup` and `image` over the Kubernetes runtime.
//! - `lab_run`: `lab` (flags → `LabConfig`), `--destroy`; `bench`: `lab --bench`.
//! - `explain`: `explain` (flags and the cluster's objects → `policy::explain`).
//! - `outcome`: the end `run` and `lab` share: signals, the kept note,
//!   `render::emit`, the exit code.
//! - [`progress`], [`exit`]: progress on stderr; exit codes and error lines.

mod before;
#[cfg(target_os = "linux")]
mod bench;
pub mod exit;
mod explain;
mod handlers;
mod kube_run;
#[cfg(target_os = "linux")]
mod lab_run;
mod outcome;
pub mod progress;

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

pub use exit::{CliError, ExitCode};

const EXAMPLES: &str = "\
Examples:
  # Check the current cluster: every node pair, Services, DNS, hosts
  kubectl netcheck

  # CI smoke test after a CNI change: JUnit for the CI UI, exit code for the verdict
  kubectl netcheck -o junit --output-file netcheck.xml --fail-on warning

  # Stable JSON for scripts
  kubectl netcheck -o json > report.json

  # No cluster at hand? Run the same pipeline on a simulated one (root)
  sudo kubectl netcheck lab --nodes 3 --fault node-isolated

  # Why can't frontend talk to api on 8080?
  kubectl netcheck explain shop/frontend-7d9 shop/api-5c4 --port 8080/TCP

Flags may come before or after the command (kubectl netcheck --kubeconfig K cleanup).

Exit codes: 0 all checks passed, 1 a check failed or an error finding,
2 usage error, 3 could not run (cluster unreachable, permission denied, probes never ready).";

#[derive(Debug, Parser)]
#[command(
    name = "kubectl-netcheck",
    bin_name = "kubectl netcheck",
    version,
    about = "Diagnose Kubernetes networking: probe every node pair, Service and DNS path, inspect each node, and explain the root cause of what fails.",
    after_help = EXAMPLES,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    /// `run` flags, accepted without the word `run`.
    #[command(flatten)]
    pub run: RunArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum OutputFormat {
    #[default]
    Table,
    Json,
    Junit,
    Markdown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum FailOn {
    #[default]
    Error,
    Warning,
}

/// `lab --kube-proxy`: how the lab's kube-proxy programs Services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum KubeProxyArg {
    /// KUBE-SERVICES chains in iptables
    #[default]
    Iptables,
    /// table ip kube-proxy (and ip6 kube-proxy for IPv6) in nftables (needs nft)
    Nftables,
}

#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)
    #[arg(long, global = true, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,
    /// Namespace for the probes (default: a fresh netcheck-<id>, deleted at the end)
    #[arg(short = 'n', long, global = true, value_name = "NS")]
    pub namespace: Option<String>,
    /// Report format on stdout
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
    /// Overall deadline of the run (e.g. 90s, 5m)
    #[arg(long, global = true, value_parser = parse_duration, default_value = "5m", value_name = "DURATION")]
    pub timeout: Duration,
    /// No colour (also when NO_COLOR is set or stdout is not a terminal)
    #[arg(long, global = true)]
    pub no_color: bool,
    /// No progress, only the report and errors
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// More logging on stderr (-v, -vv)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Clone, Args, Default)]
pub struct RunArgs {
    /// Check kinds to run, comma-separated (default: all): pod-to-pod, pod-to-service,
    /// node-to-pod, pod-to-node, pod-to-apiserver, dns, mtu, nodeport (no external
    /// egress check yet)
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub checks: Vec<String>,
    /// Nodes to probe: a label selector (role=worker) or node names (a,b,c)
    #[arg(long, value_name = "SELECTOR")]
    pub nodes: Option<String>,
    /// Probe image (default: the image matching this binary's version)
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,
    /// Keep the probe namespace after the run
    #[arg(long)]
    pub keep: bool,
    /// Wait until the probe namespace is gone before exiting (default: its
    /// deletion is requested and Kubernetes finishes it)
    #[arg(long)]
    pub wait_cleanup: bool,
    /// Skip host inspection (no privileged host-network pods)
    #[arg(long)]
    pub no_host: bool,
    /// Exit 1 on error findings only, or on warnings too
    #[arg(long, value_enum, default_value_t = FailOn::Error)]
    pub fail_on: FailOn,
    /// Node pairs to probe: auto (all up to 50 nodes, then sample:8), all,
    /// ring, or sample:K
    #[arg(long, default_value = "auto", value_name = "STRATEGY")]
    pub pairs: String,
    /// How long a probe (and a DNS query) waits for its answer before the
    /// cell fails; a dead path costs about this much (raise it for slow links)
    #[arg(long, value_parser = parse_probe_timeout, default_value = "2s", value_name = "DURATION")]
    pub probe_timeout: Duration,
    /// Keep every check in the report however large the run (by default,
    /// past 20,000 probes or 50 nodes, agents count passed checks per cell
    /// and the report lists only the others)
    #[arg(long, conflicts_with = "aggregate")]
    pub all_checks: bool,
    /// Count passed checks per cell at any size (the default past 20,000
    /// probes or 50 nodes): the report lists failures and cells, not passes
    #[arg(long)]
    pub aggregate: bool,
    /// Write the report to FILE and the table to stdout (for CI: a readable
    /// log and a machine report). FILE gets the -o format; with -o table its
    /// extension picks (.xml JUnit, .md markdown, .txt table, else JSON); an
    /// extension naming another format than -o is refused (exit 2)
    #[arg(long, value_name = "FILE")]
    pub output_file: Option<PathBuf>,
    /// Show the full matrix even when wider than the terminal
    #[arg(long)]
    pub wide: bool,
    /// Give the probes the labels of a namespace's workloads so its policies apply
    #[arg(long, value_name = "NAMESPACE")]
    pub policy_from: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Deploy probes, run every check, inspect hosts, diagnose, print, clean up (the default)
    Run(RunArgs),
    /// The same pipeline on a simulated cluster of network namespaces on this machine (root)
    Lab(LabArgs),
    /// NetworkPolicy verdict between two pods, with the policies and rules that decide it
    Explain(ExplainArgs),
    /// Delete leftover probe namespaces of earlier runs
    Cleanup,
    /// Print shell completions
    Completion {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the probe image as an OCI archive (for air-gapped clusters and kind)
    Image {
        /// Where to write the archive
        #[arg(long = "output-file", short = 'f', value_name = "FILE")]
        output_file: PathBuf,
    },
    /// Re-render a saved JSON report in any format
    Report {
        /// A report written by -o json
        file: PathBuf,
        /// Show the full matrix even when wider than the terminal
        #[arg(long)]
        wide: bool,
    },
    /// What changed between two saved reports (exit 1 when something regressed)
    Diff { old: PathBuf, new: PathBuf },
    /// What runs inside probe pods
    #[command(hide = true)]
    Agent {
        #[command(subcommand)]
        command: AgentCommand,
    },
}

/// `lab --cni`: the lab's flavours, each with its one-line description.
fn cni_values() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(
        crate::lab::flavours::all()
            .iter()
            .map(|f| clap::builder::PossibleValue::new(f.name()).help(f.description())),
    )
}

#[derive(Debug, Clone, Args)]
pub struct LabArgs {
    /// How many nodes (the lab: up to 250; with --simulate: up to 10000)
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=10000))]
    pub nodes: u16,
    /// Probe pods per node (two, so that same-node pairs are checked too)
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=16))]
    pub pods_per_node: u16,
    /// Break the lab the way clusters break (repeatable); see --list-faults
    #[arg(long = "fault", value_name = "FAULT")]
    pub faults: Vec<String>,
    /// List the faults and exit
    #[arg(long)]
    pub list_faults: bool,
    /// How kube-proxy programs Services on the lab's nodes
    #[arg(long, value_enum, default_value_t = KubeProxyArg::Iptables, value_name = "MODE")]
    pub kube_proxy: KubeProxyArg,
    /// The CNI the lab's nodes run. Flavours that need IPIP, GENEVE or
    /// WireGuard devices (Calico IPIP, Cilium, Weave) are out of the lab:
    /// this kernel has VXLAN but not those
    #[arg(long, default_value = "flannel", value_name = "CNI", value_parser = cni_values())]
    pub cni: String,
    /// IP families of the lab's cluster: ipv4, ipv6 (pods, Services, nodes
    /// and DNS with IPv6 addresses in 2001:2::/48) or dual (both; every
    /// check runs per family), on every --cni flavour and --kube-proxy mode
    #[arg(long, default_value = "ipv4", value_name = "FAMILY", value_parser = ["ipv4", "ipv6", "dual"])]
    pub ip_family: String,
    /// NetworkPolicies (YAML) to load into the lab's objects
    #[arg(long, value_name = "FILE")]
    pub policy: Vec<PathBuf>,
    /// Check kinds to run, comma-separated (default: all): pod-to-pod, pod-to-service,
    /// node-to-pod, pod-to-node, pod-to-apiserver, dns, mtu, nodeport
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub checks: Vec<String>,
    /// Exit 1 on error findings only, or on warnings too
    #[arg(long, value_enum, default_value_t = FailOn::Error)]
    pub fail_on: FailOn,
    /// Node pairs to probe: auto (all up to 50 nodes, then sample:8), all,
    /// ring, or sample:K
    #[arg(long, default_value = "auto", value_name = "STRATEGY")]
    pub pairs: String,
    /// How long a probe (and a DNS query) waits for its answer before the
    /// cell fails; a dead path costs about this much (raise it for slow links)
    #[arg(long, value_parser = parse_probe_timeout, default_value = "2s", value_name = "DURATION")]
    pub probe_timeout: Duration,
    /// Keep every check in the report however large the run (by default,
    /// past 20,000 probes or 50 nodes, agents count passed checks per cell
    /// and the report lists only the others)
    #[arg(long, conflicts_with = "aggregate")]
    pub all_checks: bool,
    /// Count passed checks per cell at any size (the default past 20,000
    /// probes or 50 nodes): the report lists failures and cells, not passes
    #[arg(long)]
    pub aggregate: bool,
    /// Write the report to FILE and the table to stdout (for CI: a readable
    /// log and a machine report). FILE gets the -o format; with -o table its
    /// extension picks (.xml JUnit, .md markdown, .txt table, else JSON); an
    /// extension naming another format than -o is refused (exit 2)
    #[arg(long, value_name = "FILE")]
    pub output_file: Option<PathBuf>,
    /// Show the full matrix even when wider than the terminal
    #[arg(long)]
    pub wide: bool,
    /// Skip host inspection
    #[arg(long)]
    pub no_host: bool,
    /// Keep the lab after the run (remove it later with `lab --destroy ID`)
    #[arg(long)]
    pub keep: bool,
    /// Benchmark: build, probe, inspect and report RUNS times and print timings
    #[arg(long, value_name = "RUNS", value_parser = clap::value_parser!(u16).range(1..))]
    pub bench: Option<u16>,
    /// With --bench: the lab sizes to measure, comma-separated (default: --nodes)
    #[arg(long, value_delimiter = ',', value_name = "N,N,..", requires = "bench",
          value_parser = clap::value_parser!(u16).range(1..=10000))]
    pub bench_nodes: Vec<u16>,
    /// With --bench: the CNI flavours to measure, comma-separated, or `all`
    /// (default: --cni); one line per flavour and size
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "CNI,CNI,..",
        requires = "bench"
    )]
    pub bench_cni: Vec<String>,
    /// Simulate the cluster in memory instead of building it: no root, no
    /// namespaces, up to 10000 nodes; --fault breaks the simulated network.
    /// Proves the CLI's side (plans, diagnosis, memory, time), not packets
    #[arg(long, conflicts_with_all = ["keep", "destroy", "destroy_all"])]
    pub simulate: bool,
    /// With --simulate: the seed of the simulated latencies
    #[arg(long, default_value_t = 1, value_name = "N", requires = "simulate")]
    pub seed: u64,
    /// Remove a lab kept with --keep (its id is in the namespace names: nc<ID>-…)
    #[arg(long, value_name = "ID", conflicts_with_all = ["destroy_all", "bench"])]
    pub destroy: Option<String>,
    /// Remove every lab left on this machine whose run has ended (kept or crashed)
    #[arg(long, conflicts_with = "bench")]
    pub destroy_all: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ExplainArgs {
    /// Source: namespace/pod (or an IP, for ipBlock rules)
    pub source: String,
    /// Destination: namespace/pod (or an IP)
    pub destination: String,
    /// Port and protocol, e.g. 80/TCP, 53/UDP, or a named port (http)
    #[arg(long, value_name = "PORT[/PROTO]")]
    pub port: Option<String>,
    /// Read Namespaces, Pods and NetworkPolicies from YAML instead of the cluster
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Serve TCP echo, UDP echo and an HTTP identity endpoint until SIGTERM
    Serve(AgentServeArgs),
    /// Read a probe plan (JSON) on stdin, run it, write the results (JSON) on stdout
    Probe,
    /// Inspect the host (CNI, firewall, sysctls, interfaces) and print JSON
    InspectHost(AgentInspectArgs),
}

#[derive(Debug, Clone, Args)]
pub struct AgentServeArgs {
    #[arg(long, default_value_t = 7000)]
    pub tcp_port: u16,
    #[arg(long, default_value_t = 7001)]
    pub udp_port: u16,
    #[arg(long, default_value_t = 8080)]
    pub http_port: u16,
    /// Identity reported by the HTTP endpoint (default: $POD_NAME, $NODE_NAME, $POD_IP)
    #[arg(long, env = "POD_NAME", default_value = "")]
    pub pod_name: String,
    #[arg(long, env = "NODE_NAME", default_value = "")]
    pub node_name: String,
    #[arg(long, env = "POD_IP", default_value = "")]
    pub pod_ip: String,
}

#[derive(Debug, Clone, Args)]
pub struct AgentInspectArgs {
    /// Where the host's root filesystem is mounted (/ on the host itself)
    #[arg(long, default_value = "/")]
    pub host_root: PathBuf,
    /// CNI config dir, relative to the host root (default: the container
    /// runtime's conf_dir/network_dir, else /etc/cni/net.d)
    #[arg(long)]
    pub cni_conf_dir: Option<PathBuf>,
    /// CNI plugin binary dir, relative to the host root (default: the
    /// container runtime's bin_dir(s)/plugin_dirs, else the known places:
    /// /opt/cni/bin, /usr/lib/cni, /usr/libexec/cni, /var/lib/cni/bin, …)
    #[arg(long)]
    pub cni_bin_dir: Option<PathBuf>,
    /// Node name to put in the report
    #[arg(long, env = "NODE_NAME", default_value = "")]
    pub node_name: String,
}

pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s.trim())
        .map_err(|e| format!("'{s}' is not a duration like 30s, 2m or 1m30s ({e})"))?;
    if d.is_zero() {
        return Err("the timeout must be longer than zero".into());
    }
    Ok(d)
}

/// `--probe-timeout`: a duration from 100 ms to 60 s.
pub fn parse_probe_timeout(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if !(Duration::from_millis(100)..=Duration::from_secs(60)).contains(&d) {
        return Err(format!(
            "--probe-timeout {s}: a probe waits from 100ms to 60s for its answer"
        ));
    }
    Ok(d)
}

impl Cli {
    /// Parse a command line (the first item is the program name). Flags may
    /// come before or after the subcommand (`before`); a `run` flag before a
    /// subcommand that does not have it is a usage error.
    pub fn parse_args<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::{CommandFactory, FromArgMatches};
        let mut cmd = Cli::command();
        let m = cmd.try_get_matches_from_mut(args)?;
        let mut cli = Cli::from_arg_matches(&m).map_err(|e| e.format(&mut cmd))?;
        before::place(&mut cli, &m)
            .map_err(|msg| cmd.error(clap::error::ErrorKind::ArgumentConflict, msg))?;
        Ok(cli)
    }
}

/// Parse the arguments and run; returns the process exit code.
pub fn main() -> std::process::ExitCode {
    let cli = match Cli::parse_args(std::env::args_os()) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return std::process::ExitCode::from(code);
        }
    };
    exit::init_logging(&cli.global);
    match handlers::dispatch(cli) {
        Ok(code) => code.into(),
        Err(err) => {
            exit::print_error(&err);
            err.code().into()
        }
    }
}
