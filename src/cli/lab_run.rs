//! `kubectl netcheck lab`: map the flags to the lab's own [`LabConfig`],
//! build the lab, run the pipeline on it, tear it down (also on Ctrl-C,
//! SIGTERM and the deadline); [`super::outcome`] renders and picks the exit
//! code. `--destroy`, `--destroy-all` and `--bench` ([`super::bench`]) start here too.

use super::outcome::{ReportFlags, Stopped, check_output_file, finish, pipeline_or_stop};
use super::{CliError, ExitCode, GlobalArgs, LabArgs};
use crate::lab::cmd::Tools;
use crate::lab::plan::IpFamily;
use crate::lab::{
    KubeProxyMode, LabConfig, LabRuntime, NEEDS_ROOT, faults, flavours, is_root, state,
};
use crate::pipeline::Options;
use crate::plan::{Aggregate, CheckSet, PairStrategy, PlanOptions};
use crate::runtime::Runtime;
use crate::sim::{self, SimConfig, SimRuntime};
use k8s_openapi::api::networking::v1::NetworkPolicy;

/// What the flags ask for, checked before anything is built.
pub struct Request {
    pub cfg: LabConfig,
    pub opts: Options,
}

/// The lab's configuration and the pipeline options from `lab`'s flags; bad
/// values are usage errors (exit 2).
pub fn parse_request(args: &LabArgs) -> Result<Request, CliError> {
    if !args.simulate {
        let max = crate::lab::plan::MAX_NODES;
        for n in std::iter::once(&args.nodes).chain(&args.bench_nodes) {
            if usize::from(*n) > max {
                return Err(CliError::usage(format!(
                    "a lab has 1 to {max} nodes, not {n}; --simulate simulates up to {} nodes in memory",
                    crate::sim::network::MAX_NODES
                )));
            }
        }
    }
    let cni = flavours::parse(&args.cni).map_err(CliError::usage)?;
    let faults = faults::parse(&args.faults, args.nodes as usize, cni).map_err(CliError::usage)?;
    let checks = CheckSet::parse(&args.checks).map_err(CliError::usage)?;
    let pairs: PairStrategy = args.pairs.parse().map_err(CliError::usage)?;
    let policies = load_policies(&args.policy)?;
    let exe = std::env::current_exe().map_err(|e| {
        CliError::could_not_run(format!(
            "could not find this program's own path to run it as the agent: {e}"
        ))
    })?;
    let mut cfg = LabConfig::new(args.nodes as usize, args.pods_per_node as usize, exe);
    cfg.faults = faults;
    cfg.cni = cni;
    cfg.keep = args.keep;
    cfg.policies = policies;
    cfg.kube_proxy = match args.kube_proxy {
        super::KubeProxyArg::Iptables => KubeProxyMode::Iptables,
        super::KubeProxyArg::Nftables => KubeProxyMode::Nftables,
    };
    cfg.ip_family = IpFamily::parse(&args.ip_family).map_err(CliError::usage)?;
    if let Some(f) = cfg.faults.iter().find(|f| f.needs_ipv6())
        && !cfg.ip_family.v6()
    {
        return Err(CliError::usage(format!(
            "fault '{}' breaks IPv6 only: add --ip-family dual (or ipv6)",
            f.name()
        )));
    }
    if let Some(f) = cfg.faults.iter().find(|f| f.needs_ipv4().is_some())
        && !cfg.ip_family.v4()
    {
        return Err(CliError::usage(format!(
            "fault '{}' breaks IPv4 only ({}): use --ip-family ipv4 or dual",
            f.name(),
            f.needs_ipv4().unwrap_or("IPv4's rules")
        )));
    }
    Ok(Request {
        cfg,
        opts: Options {
            plan: PlanOptions {
                aggregate: Aggregate::from_flags(args.all_checks, args.aggregate),
                ..PlanOptions::from_flags(checks, pairs, args.probe_timeout)
            },
            no_host: args.no_host,
            keep: args.keep,
        },
    })
}

/// `--policy FILE`: the NetworkPolicies in the files, through the one loader
/// `explain -f` uses too. Policies without a namespace are left without one:
/// the lab puts them into its probe namespace, whose name is random.
fn load_policies(files: &[std::path::PathBuf]) -> Result<Vec<NetworkPolicy>, CliError> {
    crate::policy::load_policy_files_in(files, None)
        .map_err(|e| CliError::usage(format!("--policy: {e:#}")))
}

pub fn run(g: &GlobalArgs, args: LabArgs) -> Result<ExitCode, CliError> {
    if args.list_faults {
        print!("{}", faults::listing());
        return Ok(ExitCode::Ok);
    }
    let req = parse_request(&args)?;
    check_output_file(g.output, args.output_file.as_deref())?;
    if args.simulate {
        return run_simulated(g, &args, req);
    }
    if !is_root() {
        return Err(CliError::could_not_run(NEEDS_ROOT));
    }
    let tools = Tools::find()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::could_not_run(format!("could not start the async runtime: {e}")))?;
    rt.block_on(async move {
        if let Some(id) = &args.destroy {
            return destroy_one(&tools, id).await;
        }
        if args.destroy_all {
            return destroy_all(&tools).await;
        }
        if let Some(runs) = args.bench {
            let cluster = super::bench::Cluster::Lab(req.cfg);
            return super::bench::run(g, &args, cluster, req.opts, runs).await;
        }
        run_once(g, &args, req).await
    })
}

async fn run_once(g: &GlobalArgs, args: &LabArgs, req: Request) -> Result<ExitCode, CliError> {
    let progress = super::progress::for_cli(g);
    let lab = LabRuntime::new(req.cfg)?;
    let id = lab.id().to_string();
    let report = match pipeline_or_stop(&lab, &req.opts, progress.as_ref(), Some(g.timeout)).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) if args.keep => {
            return Err(CliError::could_not_run(format!(
                "{e}; the lab is kept as asked: remove it with `kubectl netcheck lab --destroy {id}`"
            )));
        }
        Ok(Err(e)) => return Err(e.into()),
        Err(why) => {
            progress.message("removing the lab");
            return Err(remove_after_stop(&lab, &id, &why).await);
        }
    };
    let kept = args.keep.then(|| {
        format!(
            "lab {id} kept (namespaces nc{id}-*); remove it with `kubectl netcheck lab --destroy {id}`"
        )
    });
    let flags = ReportFlags {
        output_file: args.output_file.as_deref(),
        wide: args.wide,
        fail_on: args.fail_on,
    };
    finish(g, &report, progress, kept, flags)
}

/// The simulated cluster's configuration from `lab --simulate`'s flags, at
/// `nodes` nodes: the lab's fault names (checked for that size as the lab
/// checks them), each with its simulated counterpart.
pub fn sim_config(args: &LabArgs, req: &Request, nodes: usize) -> Result<SimConfig, CliError> {
    if args.kube_proxy == super::KubeProxyArg::Nftables {
        return Err(CliError::usage(
            "--simulate models kube-proxy in iptables mode only; leave out --kube-proxy",
        ));
    }
    if req.cfg.cni.name() != crate::lab::flavours::default().name() || req.cfg.ip_family.v6() {
        return Err(CliError::usage(
            "--simulate models the default network only (flannel, IPv4); leave out --cni and --ip-family",
        ));
    }
    let faults = faults::parse(&args.faults, nodes, req.cfg.cni).map_err(CliError::usage)?;
    if let Some(f) = faults.iter().find(|f| !sim::faults::supported(f.name())) {
        let why = sim::faults::out_of_scope(*f)
            .map(|w| format!(" ({w})"))
            .unwrap_or_default();
        return Err(CliError::usage(format!(
            "the fault '{}' has no simulated counterpart{why}; run it on the lab (without --simulate)",
            f.name()
        )));
    }
    Ok(SimConfig {
        nodes,
        pods_per_node: usize::from(args.pods_per_node),
        faults: faults.iter().map(|f| f.name().to_string()).collect(),
        seed: args.seed,
        policies: req.cfg.policies.clone(),
    })
}

/// `lab --simulate`: the pipeline on [`SimRuntime`], in memory (no root).
fn run_simulated(g: &GlobalArgs, args: &LabArgs, req: Request) -> Result<ExitCode, CliError> {
    let cfg = sim_config(args, &req, usize::from(args.nodes))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::could_not_run(format!("could not start the async runtime: {e}")))?;
    rt.block_on(async move {
        if let Some(runs) = args.bench {
            let cluster = super::bench::Cluster::Sim(cfg);
            return super::bench::run(g, args, cluster, req.opts, runs).await;
        }
        let progress = super::progress::for_cli(g);
        let sim = SimRuntime::new(cfg).map_err(CliError::usage)?;
        let report =
            match pipeline_or_stop(&sim, &req.opts, progress.as_ref(), Some(g.timeout)).await {
                Ok(r) => r?,
                Err(why @ Stopped::Signal(_)) => {
                    return Err(CliError {
                        message: why.to_string(),
                        ..super::outcome::interrupted_error()
                    });
                }
                Err(why) => return Err(CliError::could_not_run(why.to_string())),
            };
        let flags = ReportFlags {
            output_file: args.output_file.as_deref(),
            wide: args.wide,
            fail_on: args.fail_on,
        };
        finish(g, &report, progress, None, flags)
    })
}

/// After a signal or the deadline: remove the lab, say so. A signal exits
/// 130 as `run` does; the deadline is "could not run" (exit 3).
async fn remove_after_stop(lab: &LabRuntime, id: &str, why: &Stopped) -> CliError {
    let msg = match lab.teardown().await {
        Ok(()) => format!("{why}; the lab was removed"),
        Err(e) => format!(
            "{why}; removing the lab failed too ({e}): run `kubectl netcheck lab --destroy {id}`"
        ),
    };
    match why {
        Stopped::Signal(_) => CliError {
            message: msg,
            ..super::outcome::interrupted_error()
        },
        Stopped::Deadline(_) => CliError::could_not_run(msg),
    }
}

async fn destroy_one(tools: &Tools, id: &str) -> Result<ExitCode, CliError> {
    let lab = state::find_labs().into_iter().find(|l| l.id == id);
    let Some(lab) = lab else {
        return Err(CliError::usage(format!(
            "there is no lab {id} on this machine (labs: {})",
            known_ids()
        )));
    };
    let mut st = lab.state.clone().unwrap_or_else(|| state::LabState {
        id: lab.id.clone(),
        ..Default::default()
    });
    for ns in &lab.namespaces {
        if !st.namespaces.contains(ns) {
            st.namespaces.push(ns.clone());
            st.etc_netns.push(ns.clone());
        }
    }
    state::destroy(tools, &st, || {}).await?;
    eprintln!("removed lab {id}");
    Ok(ExitCode::Ok)
}

fn known_ids() -> String {
    let ids: Vec<String> = state::find_labs().into_iter().map(|l| l.id).collect();
    if ids.is_empty() {
        "none".into()
    } else {
        ids.join(", ")
    }
}

async fn destroy_all(tools: &Tools) -> Result<ExitCode, CliError> {
    let (removed, skipped) = state::sweep(tools, false).await;
    for (id, pid) in &skipped {
        eprintln!("lab {id} is still in use by process {pid}: left alone");
    }
    if removed.is_empty() {
        eprintln!("no leftover labs");
    } else {
        eprintln!("removed {} lab(s): {}", removed.len(), removed.join(", "));
    }
    Ok(ExitCode::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_load_from_multi_document_yaml() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("p.yaml");
        std::fs::write(
            &f,
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n---\n\
             apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n\
             metadata: {name: deny, namespace: x}\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n",
        )
        .unwrap();
        let p = load_policies(std::slice::from_ref(&f)).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].metadata.name.as_deref(), Some("deny"));
        assert_eq!(p[0].metadata.namespace.as_deref(), Some("x"));
        // No namespace: left for the lab to put into its probe namespace.
        std::fs::write(
            &f,
            "kind: NetworkPolicy\nmetadata: {name: deny-all}\nspec: {podSelector: {}}\n",
        )
        .unwrap();
        let p = load_policies(std::slice::from_ref(&f)).unwrap();
        assert_eq!(p[0].metadata.namespace, None);
        std::fs::write(&f, "kind: ConfigMap\nmetadata: {name: c}\n").unwrap();
        let e = load_policies(std::slice::from_ref(&f)).unwrap_err();
        assert_eq!(e.code(), ExitCode::Usage);
        assert!(e.to_string().contains("holds no NetworkPolicy"), "{e}");
        std::fs::write(&f, "kind: NetworkPolicy\nspec: 3\n").unwrap();
        assert_eq!(load_policies(&[f]).unwrap_err().code(), ExitCode::Usage);
        let missing = dir.path().join("nope.yaml");
        assert_eq!(
            load_policies(&[missing]).unwrap_err().code(),
            ExitCode::Usage
        );
    }

    #[test]
    fn the_flags_map_to_the_labs_own_config() {
        let cli = crate::cli::Cli::parse_args([
            "kubectl-netcheck",
            "lab",
            "--nodes",
            "4",
            "--pods-per-node",
            "1",
            "--fault",
            "node-isolated",
            "--keep",
            "--no-host",
            "--pairs",
            "ring",
        ])
        .unwrap();
        let Some(crate::cli::Command::Lab(args)) = cli.command else {
            panic!("lab");
        };
        let req = parse_request(&args).unwrap();
        assert_eq!((req.cfg.nodes, req.cfg.pods_per_node), (4, 1));
        assert!(req.cfg.keep && req.opts.keep && req.opts.no_host);
        assert_eq!(req.cfg.faults.len(), 1);
        assert_eq!(req.opts.plan.pairs, PairStrategy::Ring);
        assert_eq!(req.cfg.kube_proxy, KubeProxyMode::Iptables, "the default");
        assert_eq!(req.cfg.cni.name(), "flannel", "the default");
    }

    #[test]
    fn cni_flavour_reaches_the_lab_config() {
        for f in flavours::all() {
            let cli = crate::cli::Cli::parse_args(["kubectl-netcheck", "lab", "--cni", f.name()])
                .unwrap();
            let Some(crate::cli::Command::Lab(args)) = cli.command else {
                panic!("lab");
            };
            assert_eq!(parse_request(&args).unwrap().cfg.cni.name(), f.name());
            // Every flavour builds every IP family.
            for fam in ["ipv6", "dual"] {
                let cli = crate::cli::Cli::parse_args([
                    "kubectl-netcheck",
                    "lab",
                    "--cni",
                    f.name(),
                    "--ip-family",
                    fam,
                ])
                .unwrap();
                let Some(crate::cli::Command::Lab(args)) = cli.command else {
                    panic!("lab");
                };
                let req = parse_request(&args).unwrap_or_else(|e| panic!("{fam}: {e}"));
                assert_eq!(req.cfg.ip_family.name(), fam);
            }
        }
        let bad = crate::cli::Cli::parse_args(["kubectl-netcheck", "lab", "--cni", "weave"]);
        assert!(bad.is_err());
    }

    #[test]
    fn kube_proxy_mode_reaches_the_lab_config() {
        let cli =
            crate::cli::Cli::parse_args(["kubectl-netcheck", "lab", "--kube-proxy", "nftables"])
                .unwrap();
        let Some(crate::cli::Command::Lab(args)) = cli.command else {
            panic!("lab");
        };
        assert_eq!(
            parse_request(&args).unwrap().cfg.kube_proxy,
            KubeProxyMode::Nftables
        );
        let bad = crate::cli::Cli::parse_args(["kubectl-netcheck", "lab", "--kube-proxy", "ipvs"]);
        assert!(bad.is_err());
    }

    /// kube-proxy's nftables mode builds IPv6 and dual stack (`table ip6
    /// kube-proxy`).
    #[test]
    fn nftables_mode_takes_every_ip_family() {
        for family in ["ipv4", "ipv6", "dual"] {
            let cli = crate::cli::Cli::parse_args([
                "kubectl-netcheck",
                "lab",
                "--kube-proxy",
                "nftables",
                "--ip-family",
                family,
            ])
            .unwrap();
            let Some(crate::cli::Command::Lab(args)) = cli.command else {
                panic!("lab");
            };
            let req = parse_request(&args).unwrap_or_else(|e| panic!("{family}: {e:?}"));
            assert_eq!(req.cfg.kube_proxy, KubeProxyMode::Nftables);
            assert_eq!(req.cfg.ip_family.name(), family);
        }
    }
}
