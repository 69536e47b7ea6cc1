//! One function per command; each is thin and calls the stage modules.

use super::{AgentCommand, Cli, CliError, Command, ExitCode};

pub fn dispatch(cli: Cli) -> Result<ExitCode, CliError> {
    let global = cli.global;
    match cli.command {
        None => run(&global, cli.run),
        Some(Command::Run(args)) => run(&global, args),
        Some(Command::Lab(args)) => lab(&global, args),
        Some(Command::Explain(args)) => not_yet("explain", &global, &args),
        Some(Command::Cleanup) => cleanup(&global),
        Some(Command::Completion { shell }) => {
            completion(shell);
            Ok(ExitCode::Ok)
        }
        Some(Command::Image { output_file }) => image(&global, &output_file),
        Some(Command::Report { file }) => not_yet("report", &global, &file),
        Some(Command::Diff { old, new }) => not_yet("diff", &global, &(old, new)),
        Some(Command::Agent { command }) => agent(command),
    }
}

fn not_yet<T: std::fmt::Debug>(
    what: &str,
    _g: &super::GlobalArgs,
    _a: &T,
) -> Result<ExitCode, CliError> {
    Err(CliError::could_not_run(format!(
        "`{what}` is not available in this build"
    )))
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

fn lab(g: &super::GlobalArgs, args: super::LabArgs) -> Result<ExitCode, CliError> {
    not_yet("lab", g, &args)
}

fn agent(cmd: AgentCommand) -> Result<ExitCode, CliError> {
    match cmd {
        AgentCommand::Serve(_) | AgentCommand::Probe | AgentCommand::InspectHost(_) => Err(
            CliError::could_not_run("the agent is not available in this build"),
        ),
    }
}

fn completion(shell: clap_complete::Shell) {
    use clap::CommandFactory;
    let mut cmd = super::Cli::command();
    clap_complete::generate(shell, &mut cmd, "kubectl-netcheck", &mut std::io::stdout());
}
