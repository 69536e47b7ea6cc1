//! The pipeline over an in-memory runtime: stage order, teardown on every
//! path, bounded waits, the verdict.

use super::*;
use crate::diagnose::sim;
use crate::model::topology::Source;
use crate::model::{FindingId, Outcome, ProbePlan, ProbeReport, ProbeResult, Status};
use crate::runtime::Quiet;
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Default)]
struct Fake {
    fail_deploy: bool,
    hang_source: Option<String>,
    drop_udp: bool,
    teardowns: AtomicUsize,
    probes: AtomicUsize,
}

impl Runtime for Fake {
    async fn discover(&self, _p: &dyn Progress) -> Result<Deployment> {
        Ok(sim::cluster(3))
    }
    async fn deploy(&self, d: Deployment, _p: &dyn Progress) -> Result<Deployment> {
        if self.fail_deploy {
            return Err(RuntimeError::NotReady(
                "probe pod on node-1 never became ready: ErrImagePull".into(),
            ));
        }
        Ok(d)
    }
    async fn probe(&self, source: &Source, plan: &ProbePlan) -> Result<ProbeReport> {
        self.probes.fetch_add(1, Ordering::Relaxed);
        if let Source::Pod(name) = source {
            if self.hang_source.as_deref() == Some(name) {
                std::future::pending::<()>().await;
            }
        }
        let results = plan
            .probes
            .iter()
            .map(|p| {
                let udp = matches!(p.spec, crate::model::ProbeSpec::Udp { .. });
                let mut r = ProbeResult::new(
                    &p.id,
                    if udp && self.drop_udp {
                        Outcome::Timeout
                    } else {
                        Outcome::Ok
                    },
                );
                if let crate::model::ProbeSpec::Mtu { max, .. } = p.spec {
                    // A healthy overlay: the pod's interface and the path carry 1450.
                    r.interface_mtu = Some(max.unwrap_or(1450));
                    r.path_mtu = r.interface_mtu;
                }
                r
            })
            .collect();
        Ok(ProbeReport {
            results,
            duration_ms: 1.0,
            peak_rss_kib: Some(4096),
        })
    }
    async fn inspect_host(&self, node: &str) -> Result<HostReport> {
        Err(RuntimeError::Other(format!("no host agent on {node}")))
    }
    async fn teardown(&self) -> Result<()> {
        self.teardowns.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

fn dns_answers_everything() -> Options {
    // The fake answers DNS with no addresses; judge only reachability here.
    let mut o = Options::default();
    o.plan.checks = crate::plan::CheckSet::parse(&[
        "pod-to-pod".into(),
        "pod-to-service".into(),
        "mtu".into(),
        "node-to-pod".into(),
    ])
    .unwrap();
    o
}

#[tokio::test]
async fn a_healthy_run_passes_records_every_stage_and_tears_down_once() {
    let rt = Fake::default();
    let report = run(&rt, &dns_answers_everything(), &Quiet).await.unwrap();
    assert!(report.checks.iter().all(|c| c.status == Status::Pass));
    assert!(!failed(&report, true));
    for stage in [
        "discover", "deploy", "probe", "inspect", "diagnose", "cleanup",
    ] {
        assert!(
            report.summary.stages_ms.contains_key(stage),
            "{stage} missing"
        );
    }
    assert_eq!(rt.teardowns.load(Ordering::Relaxed), 1);
    // 6 pods and 3 hosts each ran one plan.
    assert_eq!(rt.probes.load(Ordering::Relaxed), 9);
    // Host inspection failing is recorded per node, not fatal.
    assert_eq!(report.hosts.len(), 3);
    assert!(report.hosts[0].unavailable[0].contains("no host agent"));
}

#[tokio::test]
async fn a_failed_deploy_still_tears_down_and_says_why() {
    let rt = Fake {
        fail_deploy: true,
        ..Default::default()
    };
    let err = run(&rt, &Options::default(), &Quiet).await.unwrap_err();
    assert!(err.to_string().contains("ErrImagePull"));
    assert_eq!(rt.teardowns.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn keep_leaves_the_deployment_in_place() {
    let rt = Fake::default();
    let opts = Options {
        keep: true,
        ..dns_answers_everything()
    };
    run(&rt, &opts, &Quiet).await.unwrap();
    assert_eq!(rt.teardowns.load(Ordering::Relaxed), 0);
}

#[tokio::test(start_paused = true)]
async fn a_hung_agent_is_bounded_and_its_cells_become_errors() {
    let rt = Fake {
        hang_source: Some("probe-1-0".into()),
        ..Default::default()
    };
    let report = run(&rt, &dns_answers_everything(), &Quiet).await.unwrap();
    let from_hung: Vec<_> = report
        .checks
        .iter()
        .filter(|c| c.source.pod.as_deref() == Some("probe-1-0"))
        .collect();
    assert!(!from_hung.is_empty());
    assert!(
        from_hung
            .iter()
            .all(|c| c.status == Status::Error && c.detail.contains("did not finish"))
    );
    assert!(failed(&report, false));
}

#[tokio::test]
async fn udp_lost_everywhere_is_diagnosed_and_fails_the_run() {
    let rt = Fake {
        drop_udp: true,
        ..Default::default()
    };
    let report = run(&rt, &dns_answers_everything(), &Quiet).await.unwrap();
    assert!(failed(&report, false));
    assert!(report.summary.failed > 0);
    let ids: Vec<_> = report.findings.iter().map(|f| f.id).collect();
    assert!(
        ids.contains(&FindingId::CrossNodePodTrafficBroken),
        "{ids:?}"
    );
    let f = &report.findings[0];
    assert!(
        f.evidence.iter().any(|e| e.contains("udp")),
        "{:?}",
        f.evidence
    );
}
