//! One function per command; each is thin and calls the stage modules.

use super::{AgentCommand, Cli, CliError, Command, ExitCode};

pub fn dispatch(cli: Cli) -> Result<ExitCode, CliError> {
    let global = cli.global;
    match cli.command {
        None => run(&global, cli.run),
        Some(Command::Run(args)) => run(&global, args),
        Some(Command::Lab(args)) => lab(&global, args),
        Some(Command::Explain(args)) => super::explain::run(&global, &args),
        Some(Command::Cleanup) => cleanup(&global),
        Some(Command::Completion { shell }) => {
            completion(shell);
            Ok(ExitCode::Ok)
        }
        Some(Command::Image { output_file }) => image(&global, &output_file),
        Some(Command::Report { file, wide }) => report(&global, &file, wide),
        Some(Command::Diff { old, new }) => diff(&global, &old, &new),
        Some(Command::Agent { command }) => agent(command),
    }
}

fn run(g: &super::GlobalArgs, args: super::RunArgs) -> Result<ExitCode, CliError> {
    super::kube_run::run(g, args)
}

fn cleanup(g: &super::GlobalArgs) -> Result<ExitCode, CliError> {
    super::kube_run::cleanup(g)
}

fn image(g: &super::GlobalArgs, out: &std::path::Path) -> Result<ExitCode, CliError> {
    super::kube_run::image(g, out)
}

#[cfg(target_os = "linux")]
fn lab(g: &super::GlobalArgs, args: super::LabArgs) -> Result<ExitCode, CliError> {
    super::lab_run::run(g, args)
}

#[cfg(not(target_os = "linux"))]
fn lab(_g: &super::GlobalArgs, _args: super::LabArgs) -> Result<ExitCode, CliError> {
    Err(CliError::could_not_run(
        "kubectl netcheck lab needs Linux (network namespaces)",
    ))
}

/// A saved report, or the sentence that says what is wrong with the file:
/// exit 2 when the argument names no usable report, 3 when it cannot be read
/// for another reason (permissions, I/O).
fn load_saved(path: &std::path::Path) -> Result<crate::model::Report, CliError> {
    crate::render::saved::load(path).map_err(|e| {
        let msg = e.to_string();
        match e.io_kind() {
            Some(std::io::ErrorKind::NotFound) | None => CliError::usage(msg),
            Some(_) => CliError::could_not_run(msg),
        }
    })
}

/// `report FILE`: re-render a saved report; the exit code is the report's
/// verdict, like the run that wrote it (1 when a check failed or an error finding).
fn report(g: &super::GlobalArgs, file: &std::path::Path, wide: bool) -> Result<ExitCode, CliError> {
    let r = load_saved(file)?;
    let opts = crate::render::RenderOptions::detect(g.no_color, wide);
    crate::render::emit(&r, g.output, None, &opts)?;
    Ok(super::outcome::verdict(&r, super::FailOn::Error))
}

/// `diff OLD NEW`: exit 1 when something regressed, 0 otherwise.
fn diff(
    g: &super::GlobalArgs,
    old: &std::path::Path,
    new: &std::path::Path,
) -> Result<ExitCode, CliError> {
    use std::io::Write;
    let (a, b) = (load_saved(old)?, load_saved(new)?);
    let d = crate::render::diff::diff(&a, &b);
    let opts = crate::render::RenderOptions::detect(g.no_color, false);
    let text = crate::render::diff::render(
        &d,
        &old.display().to_string(),
        &new.display().to_string(),
        g.output,
        &opts,
    )
    .map_err(CliError::usage)?;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            return Err(CliError::could_not_run(format!(
                "could not write the diff to stdout: {e}"
            )));
        }
        _ => {}
    }
    Ok(if d.regressed {
        ExitCode::Failed
    } else {
        ExitCode::Ok
    })
}

fn agent(cmd: AgentCommand) -> Result<ExitCode, CliError> {
    match cmd {
        AgentCommand::Serve(args) => agent_serve(args),
        AgentCommand::Probe => agent_probe(),
        AgentCommand::InspectHost(args) => agent_inspect_host(args),
    }
}

/// A small single-threaded runtime: the agent waits on sockets, it does not
/// compute, and one thread keeps its memory small in every probe pod.
#[cfg(target_os = "linux")]
fn agent_runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::could_not_run(format!("cannot start the async runtime: {e}")))
}

/// `agent serve`: bind, print `ready` on stdout, serve until SIGTERM/SIGINT.
#[cfg(target_os = "linux")]
fn agent_serve(args: super::AgentServeArgs) -> Result<ExitCode, CliError> {
    use crate::agent::serve::{Identity, ServeConfig, Server, shutdown_signal};
    use std::io::Write;
    let cfg = ServeConfig {
        bind: None,
        tcp_port: args.tcp_port,
        udp_port: args.udp_port,
        http_port: args.http_port,
        identity: Identity {
            pod: args.pod_name,
            node: args.node_name,
            ip: args.pod_ip,
        },
    };
    let rt = agent_runtime()?;
    rt.block_on(async {
        let server = Server::bind(&cfg).map_err(|e| {
            CliError::could_not_run(format!(
                "{e:#}; is another agent already running, or pick other ports with --tcp-port/--udp-port/--http-port"
            ))
        })?;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "ready");
        let _ = out.flush();
        drop(out);
        server.run(shutdown_signal()).await;
        Ok(ExitCode::Ok)
    })
}

/// `agent probe`: one plan on stdin, one report on stdout.
#[cfg(target_os = "linux")]
fn agent_probe() -> Result<ExitCode, CliError> {
    use crate::agent::probe;
    use std::io::Write;
    // A plan of thousands of probes is a few hundred KiB; refuse absurd input.
    const MAX_PLAN: usize = 64 << 20;
    let input = probe::read_plan(std::io::stdin().lock(), MAX_PLAN)
        .map_err(|e| CliError::usage(e.to_string()))?;
    let plan = probe::parse_plan(&input).map_err(|e| CliError::usage(e.to_string()))?;
    drop(input);
    probe::raise_fd_limit();
    let report = agent_runtime()?.block_on(probe::run_plan(&plan));
    let report = crate::agent::aggregate::aggregate(&plan, report);
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, &report)
        .map_err(|e| CliError::could_not_run(format!("cannot write the probe report: {e}")))?;
    let _ = writeln!(out);
    out.flush()
        .map_err(|e| CliError::could_not_run(format!("cannot write the probe report: {e}")))?;
    Ok(ExitCode::Ok)
}

/// `agent inspect-host`: one HostReport (JSON) on stdout; what could not be
/// read is inside it ("not available: why"), so this fails only on output.
#[cfg(target_os = "linux")]
fn agent_inspect_host(args: super::AgentInspectArgs) -> Result<ExitCode, CliError> {
    use crate::agent::inspect_host;
    use std::io::Write;
    if !args.host_root.is_dir() {
        return Err(CliError::usage(format!(
            "--host-root {} is not a directory (mount the host's / there, or pass --host-root /)",
            args.host_root.display()
        )));
    }
    let opts = inspect_host::options(
        args.host_root,
        args.cni_conf_dir,
        args.cni_bin_dir,
        args.node_name,
    );
    let report = inspect_host::inspect(&opts);
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, &report)
        .map_err(|e| CliError::could_not_run(format!("cannot write the host report: {e}")))?;
    let _ = writeln!(out);
    out.flush()
        .map_err(|e| CliError::could_not_run(format!("cannot write the host report: {e}")))?;
    Ok(ExitCode::Ok)
}

#[cfg(not(target_os = "linux"))]
fn agent_inspect_host(_args: super::AgentInspectArgs) -> Result<ExitCode, CliError> {
    Err(CliError::could_not_run("the agent runs on Linux only"))
}

#[cfg(not(target_os = "linux"))]
fn agent_serve(_args: super::AgentServeArgs) -> Result<ExitCode, CliError> {
    Err(CliError::could_not_run("the agent runs on Linux only"))
}

#[cfg(not(target_os = "linux"))]
fn agent_probe() -> Result<ExitCode, CliError> {
    Err(CliError::could_not_run("the agent runs on Linux only"))
}

fn completion(shell: clap_complete::Shell) {
    use clap::CommandFactory;
    let mut cmd = super::Cli::command();
    clap_complete::generate(shell, &mut cmd, "kubectl-netcheck", &mut std::io::stdout());
}
