//! `kubectl netcheck explain`: the flags and the objects (from `-f` files or
//! the cluster) handed to [`crate::policy::explain`], the answer printed.

use super::{CliError, ExitCode, ExplainArgs, GlobalArgs, OutputFormat};
use crate::policy::explain::{
    ExplainInput, Target, explain, hints, input_from_files, render_json, render_table,
};
use crate::policy::load::pod_info;
use crate::policy::world::PortQuery;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use std::collections::BTreeMap;

/// Objects from the cluster: the two pods, their namespaces and the
/// policies of those namespaces (a policy only selects pods of its own
/// namespace, so no others can decide).
async fn input_from_cluster(g: &GlobalArgs, targets: &[&Target]) -> Result<ExplainInput, CliError> {
    use k8s_openapi::api::core::v1::{Namespace, Pod};
    use kube::Api;
    let cant = |what: &str, e: &dyn std::fmt::Display| {
        CliError::could_not_run(format!(
            "cannot read {what} from the cluster: {e}; check --kubeconfig/--context, or explain offline with -f FILE (kubectl get ns,pods,networkpolicies -A -o yaml > objects.yaml)"
        ))
    };
    // The same kubeconfig handling as `run` (context errors, $KUBECONFIG, the
    // connect timeout).
    let client = crate::kube::connect(g.kubeconfig.as_deref(), g.context.as_deref(), g.timeout)
        .await
        .map_err(|e| {
            CliError::could_not_run(format!(
                "{e}; or explain offline with -f FILE (kubectl get ns,pods,networkpolicies -A -o yaml > objects.yaml)"
            ))
        })?
        .client;
    let mut input = ExplainInput {
        origin: "the cluster".into(),
        ..Default::default()
    };
    let mut namespaces: Vec<String> = Vec::new();
    for t in targets {
        let Target::Pod { namespace, name } = t else {
            continue;
        };
        let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
        match pods
            .get_opt(name)
            .await
            .map_err(|e| cant(&format!("pod {t}"), &e))?
        {
            Some(p) => input.pods.push(pod_info(&p)),
            None => {
                return Err(CliError::usage(format!(
                    "pod {t} is not in the cluster; list them with kubectl get pods -n {namespace}"
                )));
            }
        }
        if !namespaces.contains(namespace) {
            namespaces.push(namespace.clone());
        }
    }
    for ns in &namespaces {
        let nss: Api<Namespace> = Api::all(client.clone());
        let labels = match nss.get_opt(ns).await {
            Ok(Some(n)) => n.metadata.labels.unwrap_or_default(),
            Ok(None) => BTreeMap::new(),
            Err(e) => {
                tracing::warn!(
                    "cannot read namespace {ns} ({e}); assuming only its kubernetes.io/metadata.name label"
                );
                BTreeMap::new()
            }
        };
        input.namespaces.insert(ns.clone(), labels);
        let pols: Api<NetworkPolicy> = Api::namespaced(client.clone(), ns);
        let list = pols
            .list(&Default::default())
            .await
            .map_err(|e| cant(&format!("the NetworkPolicies of namespace {ns}"), &e))?;
        input.policies.extend(list.items);
    }
    Ok(input)
}

/// The `explain` command.
pub fn run(g: &GlobalArgs, args: &ExplainArgs) -> Result<ExitCode, CliError> {
    if matches!(g.output, OutputFormat::Junit) {
        return Err(CliError::usage(
            "explain prints -o table or -o json, not junit",
        ));
    }
    let default_ns = g.namespace.as_deref().unwrap_or("default");
    let src = Target::parse(&args.source, default_ns).map_err(CliError::usage)?;
    let dst = Target::parse(&args.destination, default_ns).map_err(CliError::usage)?;
    let port = match &args.port {
        Some(p) => PortQuery::parse(p).map_err(CliError::usage)?,
        None => PortQuery::Any,
    };
    let input = if args.files.is_empty() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| CliError::could_not_run(format!("cannot start the async runtime: {e}")))?;
        rt.block_on(async {
            tokio::time::timeout(g.timeout, input_from_cluster(g, &[&src, &dst]))
                .await
                .unwrap_or_else(|_| {
                    Err(CliError::could_not_run(format!(
                        "the cluster did not answer within {}; check the connection or raise --timeout",
                        humantime::format_duration(g.timeout)
                    )))
                })
        })?
    } else {
        input_from_files(&args.files).map_err(|e| CliError::usage(format!("{e:#}")))?
    };
    let (verdict, warnings) = explain(&input, &src, &dst, &port).map_err(CliError::usage)?;
    let out = match g.output {
        OutputFormat::Json => render_json(&verdict, &warnings),
        _ => render_table(&verdict, &hints(&verdict, &input), &warnings),
    };
    // A closed pipe (`| head`) is not an error worth a panic.
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "{}", out.trim_end());
    // Answered: allow or deny alike.
    Ok(ExitCode::Ok)
}
