//! The pipeline over an in-memory runtime: stage order, teardown on every
//! path, bounded waits, the verdict.

use super::*;
use crate::diagnose::sim;
use crate::model::topology::Source;
use crate::model::{
    CheckKind, FindingId, Outcome, Probe, ProbePlan, ProbeReport, ProbeResult, ProbeSpec, Status,
};
use crate::runtime::Quiet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A scripted answer: (source, probe, how many calls that source had
/// before this one) → the result, or None for the fake's default.
type Script = Box<dyn Fn(&Source, &Probe, usize) -> Option<ProbeResult> + Send + Sync>;

#[derive(Default)]
struct Fake {
    fail_deploy: bool,
    hang_source: Option<String>,
    /// This source's agent cannot be run (every call fails).
    broken_source: Option<String>,
    /// Every source's second call never answers.
    hang_second: bool,
    drop_udp: bool,
    /// A NetworkPolicy denying all ingress to the probe pods.
    deny_ingress: bool,
    script: Option<Script>,
    teardowns: AtomicUsize,
    probes: AtomicUsize,
    /// Every call, in order.
    calls: Mutex<Vec<(Source, ProbePlan)>>,
}

impl Fake {
    fn scripted(
        script: impl Fn(&Source, &Probe, usize) -> Option<ProbeResult> + Send + Sync + 'static,
    ) -> Self {
        Fake {
            script: Some(Box::new(script)),
            ..Default::default()
        }
    }
    /// The plans `source` was sent, in order.
    fn plans_of(&self, source: &Source) -> Vec<ProbePlan> {
        let calls = self.calls.lock().expect("calls lock");
        calls
            .iter()
            .filter(|(s, _)| s == source)
            .map(|(_, p)| p.clone())
            .collect()
    }
}

impl Runtime for Fake {
    async fn discover(&self, _p: &dyn Progress) -> Result<Deployment> {
        let mut d = sim::cluster(3);
        if self.deny_ingress {
            let yaml = "kind: NetworkPolicy\napiVersion: networking.k8s.io/v1\n\
                        metadata: {name: deny-ingress, namespace: netcheck}\n\
                        spec: {podSelector: {}, policyTypes: [Ingress]}\n";
            let o = crate::policy::parse_objects(yaml, "test").expect("the test policy parses");
            d.policy.policies = o.policies;
        }
        Ok(d)
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
        let attempt = {
            let mut calls = self.calls.lock().expect("calls lock");
            let before = calls.iter().filter(|(s, _)| s == source).count();
            calls.push((source.clone(), plan.clone()));
            before
        };
        if let Source::Pod(name) = source {
            if self.hang_source.as_deref() == Some(name) {
                std::future::pending::<()>().await;
            }
            if self.broken_source.as_deref() == Some(name) {
                return Err(RuntimeError::Other(format!("pod {name} has no container")));
            }
        }
        if self.hang_second && attempt > 0 {
            std::future::pending::<()>().await;
        }
        let results = plan
            .probes
            .iter()
            .map(|p| {
                if let Some(r) = self.script.as_ref().and_then(|f| f(source, p, attempt)) {
                    return r;
                }
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
        // As `agent probe` does: passes of probes with a cell only counted.
        Ok(crate::agent::aggregate::aggregate(
            plan,
            ProbeReport {
                results,
                duration_ms: 1.0,
                peak_rss_kib: Some(4096),
                cells: Vec::new(),
            },
        ))
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

/// The report's checks with status `fail`.
fn failed_checks(report: &Report) -> Vec<&Check> {
    report
        .checks
        .iter()
        .filter(|c| c.status == Status::Fail)
        .collect()
}

/// Runs the pipeline with the fake; the checks of the default reachability set.
async fn run_fake(rt: &Fake) -> Report {
    run(rt, &dns_answers_everything(), &Quiet)
        .await
        .expect("the fake run completes")
}

fn is_tcp_to(p: &Probe, target: &str) -> bool {
    matches!(&p.spec, ProbeSpec::Tcp { target: t, .. } if t.to_string() == target)
}

fn is_udp_to(p: &Probe, target: &str) -> bool {
    matches!(&p.spec, ProbeSpec::Udp { target: t, .. } if t.to_string() == target)
}

fn pod(name: &str) -> Source {
    Source::Pod(name.into())
}

/// The ClusterIP of probe-I-J's Service in the simulator: 198.19.(I+1).(J+2).
fn own_service_vip(pod: &str) -> Option<std::net::IpAddr> {
    let mut n = pod.strip_prefix("probe-")?.split('-');
    let (i, j): (u8, u8) = (n.next()?.parse().ok()?, n.next()?.parse().ok()?);
    Some(std::net::Ipv4Addr::new(198, 19, i + 1, j + 2).into())
}

/// probe-0-0 → probe-1-0's pod IP over TCP (the simulator's addresses).
const POD_1_0: &str = "198.18.1.2";
/// probe-1-0's Service ClusterIP.
const VIP_1_0: &str = "198.19.2.2";

#[tokio::test(start_paused = true)]
async fn a_probe_that_fails_once_then_answers_is_a_flaky_pass() {
    let rt = Fake::scripted(|src, p, attempt| {
        (*src == pod("probe-0-0") && is_tcp_to(p, POD_1_0) && attempt == 0)
            .then(|| ProbeResult::new(&p.id, Outcome::Timeout))
    });
    let report = run_fake(&rt).await;
    let c = report
        .checks
        .iter()
        .find(|c| {
            c.source.pod.as_deref() == Some("probe-0-0")
                && c.kind == CheckKind::PodToPod
                && c.protocol == crate::model::Protocol::Tcp
                && c.target.pod.as_deref() == Some("probe-1-0")
        })
        .expect("the scripted check is in the report");
    assert_eq!(c.status, Status::Pass, "{c:?}");
    assert!(c.recovered(), "{}", c.detail);
    assert_eq!(
        c.detail,
        "flaky: timeout on the first try, passed on the second"
    );
    assert_eq!(c.outcome, Some(Outcome::Ok));
    assert_eq!(report.summary.recovered, 1);
    assert_eq!(report.summary.confirmed, 0);
    assert_eq!(report.summary.failed, 0);
    assert!(!failed(&report, true));
    // The confirmation is part of the probe stage and also shown apart.
    let st = &report.summary.stages_ms;
    assert!(st["probe"] >= st["confirm"], "{st:?}");
}

#[tokio::test(start_paused = true)]
async fn a_probe_that_fails_twice_is_a_confirmed_failure() {
    let rt = Fake::scripted(|src, p, _| {
        (*src == pod("probe-0-0") && is_tcp_to(p, POD_1_0)).then(|| {
            let mut r = ProbeResult::new(&p.id, Outcome::Timeout);
            r.detail = Some(format!("no answer within {} ms", p.timeout_ms));
            r
        })
    });
    let report = run_fake(&rt).await;
    let failed_checks = failed_checks(&report);
    assert_eq!(failed_checks.len(), 1, "{failed_checks:?}");
    // The second answer counts: its timeout was longer than the first's.
    assert_eq!(failed_checks[0].detail, "timeout: no answer within 3000 ms");
    assert!(!failed_checks[0].recovered());
    assert_eq!(report.summary.confirmed, 1);
    assert_eq!(report.summary.recovered, 0);
    assert!(failed(&report, false));
}

#[tokio::test(start_paused = true)]
async fn only_the_failed_probes_are_sent_again_with_longer_timeouts() {
    // UDP from probe-0-0 fails the first time, everything else answers.
    let rt = Fake::scripted(|src, p, attempt| {
        let udp = matches!(p.spec, ProbeSpec::Udp { .. });
        (*src == pod("probe-0-0") && udp && attempt == 0)
            .then(|| ProbeResult::new(&p.id, Outcome::Timeout))
    });
    let report = run_fake(&rt).await;
    let plans = rt.plans_of(&pod("probe-0-0"));
    assert_eq!(plans.len(), 2, "one first call and one confirmation");
    let udp_ids: Vec<&str> = plans[0]
        .probes
        .iter()
        .filter(|p| matches!(p.spec, ProbeSpec::Udp { .. }))
        .map(|p| p.id.as_str())
        .collect();
    let again: Vec<&str> = plans[1].probes.iter().map(|p| p.id.as_str()).collect();
    assert!(!udp_ids.is_empty());
    assert_eq!(again, udp_ids);
    let first_timeout = plans[0].probes[0].timeout_ms;
    assert!(
        plans[1]
            .probes
            .iter()
            .all(|p| p.timeout_ms == first_timeout * 3 / 2)
    );
    // The deadline is for the confirmation's own few probes and timeouts.
    let deadline =
        crate::plan::plan_deadline(udp_ids.len(), Duration::from_millis(first_timeout * 3 / 2));
    assert_eq!(plans[1].deadline_ms, deadline.as_millis() as u64);
    // Sources without failures were called once.
    assert_eq!(rt.plans_of(&pod("probe-1-0")).len(), 1);
    assert_eq!(rt.plans_of(&Source::Host("node-0".into())).len(), 1);
    assert_eq!(report.summary.recovered, udp_ids.len());
    assert!(report.checks.iter().all(|c| c.status == Status::Pass));
}

#[tokio::test(start_paused = true)]
async fn a_service_vip_refused_until_kube_proxy_syncs_passes() {
    // kube-proxy's REJECT for a Service without endpoints yet: "refused" at
    // first, the Service answers a second later.
    let rt = Fake::scripted(|src, p, attempt| {
        (*src == pod("probe-2-1") && is_tcp_to(p, VIP_1_0) && attempt == 0).then(|| {
            let mut r = ProbeResult::new(&p.id, Outcome::Refused);
            r.detail = Some("connect: Connection refused (os error 111)".into());
            r
        })
    });
    let started = tokio::time::Instant::now();
    let report = run_fake(&rt).await;
    // The second try waited for the delay.
    assert!(started.elapsed() >= confirm::CONFIRM_DELAY);
    let c = service_check_that_waited(&report);
    assert_eq!(c.status, Status::Pass);
    assert_eq!(c.source.pod.as_deref(), Some("probe-2-1"));
    assert_eq!(c.target.ip.map(|i| i.to_string()).as_deref(), Some(VIP_1_0));
    // kube-proxy was still programming the new Service: not flaky.
    assert_eq!(
        c.detail,
        "waited for kube-proxy: refused on the first try, passed on the second"
    );
    assert!(!c.recovered());
    assert_eq!(report.summary.recovered, 0);
    assert!(
        report
            .findings
            .iter()
            .all(|f| f.severity != Severity::Error)
    );
    assert!(!failed(&report, false));
}

/// The pod-to-Service check that passed once kube-proxy had synced.
fn service_check_that_waited(report: &Report) -> &Check {
    report
        .checks
        .iter()
        .find(|c| c.kind == CheckKind::PodToService && c.detail.starts_with(confirm::SYNCED_PREFIX))
        .unwrap_or_else(|| {
            panic!(
                "no Service check waited for kube-proxy: {:#?}",
                report.checks
            )
        })
}

#[tokio::test(start_paused = true)]
async fn a_service_timeout_while_kube_proxy_syncs_waited_for_it_and_a_pod_timeout_is_flaky() {
    // One Service refused at first (kube-proxy not synced), another timed out
    // (a SYN into a half-loaded rule set), and a pod-to-pod probe timed out
    // once: the Service checks waited for kube-proxy, the pod check is flaky.
    let rt = Fake::scripted(|src, p, attempt| {
        if attempt > 0 || *src != pod("probe-2-1") {
            return None;
        }
        if is_tcp_to(p, VIP_1_0) {
            return Some(refused(p));
        }
        (is_udp_to(p, VIP_1_0) || is_tcp_to(p, POD_1_0))
            .then(|| ProbeResult::new(&p.id, Outcome::Timeout))
    });
    let report = run_fake(&rt).await;
    let waited: Vec<&Check> = report
        .checks
        .iter()
        .filter(|c| c.detail.starts_with(confirm::SYNCED_PREFIX))
        .collect();
    assert_eq!(waited.len(), 2, "{waited:#?}");
    assert!(
        waited.iter().all(|c| c.kind == CheckKind::PodToService
            && c.status == Status::Pass
            && !c.recovered())
    );
    assert!(
        waited
            .iter()
            .any(|c| c.detail.contains("timeout on the first try")),
        "{waited:#?}"
    );
    let flaky: Vec<&Check> = report.checks.iter().filter(|c| c.recovered()).collect();
    assert_eq!(flaky.len(), 1, "{flaky:#?}");
    assert_eq!(flaky[0].kind, CheckKind::PodToPod);
    assert_eq!(report.summary.recovered, 1);
}

fn refused(p: &Probe) -> ProbeResult {
    let mut r = ProbeResult::new(&p.id, Outcome::Refused);
    r.detail = Some("connect: Connection refused (os error 111)".into());
    r
}

#[tokio::test(start_paused = true)]
async fn a_service_refused_past_the_confirmation_is_tried_until_kube_proxy_syncs() {
    // kube-proxy on a busy node syncs after the confirmation: the Service
    // answers on the third try, not the second.
    let rt = Fake::scripted(|src, p, attempt| {
        (*src == pod("probe-2-1") && is_tcp_to(p, VIP_1_0) && attempt < 2).then(|| refused(p))
    });
    let started = tokio::time::Instant::now();
    let report = run_fake(&rt).await;
    assert!(started.elapsed() >= confirm::CONFIRM_DELAY + confirm::SERVICE_RETRY_EVERY);
    let c = service_check_that_waited(&report);
    assert_eq!(c.status, Status::Pass);
    assert_eq!(
        c.detail,
        "waited for kube-proxy: refused on the first 2 tries, passed on the third"
    );
    assert_eq!(report.summary.recovered, 0);
    assert_eq!(report.summary.confirmed, 0);
    assert_eq!(report.summary.failed, 0);
    // The third call asked only for that probe.
    let plans = rt.plans_of(&pod("probe-2-1"));
    assert_eq!(plans.len(), 3);
    assert_eq!(plans[2].probes.len(), 1);
    assert!(is_tcp_to(&plans[2].probes[0], VIP_1_0));
    assert!(!failed(&report, false));
}

#[tokio::test(start_paused = true)]
async fn a_service_that_stays_refused_is_a_failure_within_the_sync_window() {
    let rt = Fake::scripted(|src, p, _| {
        (*src == pod("probe-2-1") && is_tcp_to(p, VIP_1_0)).then(|| refused(p))
    });
    let started = tokio::time::Instant::now();
    let report = run_fake(&rt).await;
    let failed_checks = failed_checks(&report);
    assert_eq!(failed_checks.len(), 1, "{failed_checks:?}");
    assert_eq!(failed_checks[0].kind, CheckKind::PodToService);
    assert_eq!(report.summary.confirmed, 1);
    assert_eq!(report.summary.recovered, 0);
    // Tried a second apart until the window closed, and no longer.
    let tries = rt.plans_of(&pod("probe-2-1")).len();
    let window = confirm::SERVICE_SYNC_WINDOW.as_secs() as usize;
    assert!((window..=window + 1).contains(&tries), "{tries} tries");
    assert!(started.elapsed() <= confirm::SERVICE_SYNC_WINDOW + Duration::from_secs(1));
    assert!(failed(&report, false));
}

#[tokio::test(start_paused = true)]
async fn a_refused_pod_is_tried_twice_only() {
    // Refused by a pod, not a Service: nothing to wait for.
    let rt = Fake::scripted(|src, p, _| {
        (*src == pod("probe-0-0") && is_tcp_to(p, POD_1_0)).then(|| refused(p))
    });
    let report = run_fake(&rt).await;
    assert_eq!(rt.plans_of(&pod("probe-0-0")).len(), 2);
    assert_eq!(report.summary.confirmed, 1);
}

#[tokio::test(start_paused = true)]
async fn an_agent_that_cannot_run_is_called_once() {
    let rt = Fake {
        broken_source: Some("probe-1-1".into()),
        ..Default::default()
    };
    let report = run_fake(&rt).await;
    assert_eq!(rt.plans_of(&pod("probe-1-1")).len(), 1);
    let from_broken: Vec<_> = report
        .checks
        .iter()
        .filter(|c| c.source.pod.as_deref() == Some("probe-1-1"))
        .collect();
    assert!(!from_broken.is_empty());
    assert!(from_broken.iter().all(|c| c.status == Status::Error));
    assert_eq!(report.summary.confirmed, 0);
    assert!(!report.summary.stages_ms.contains_key("confirm"));
}

#[tokio::test(start_paused = true)]
async fn a_confirmation_that_never_answers_is_bounded_and_the_failure_stands() {
    let rt = Fake {
        hang_second: true,
        ..Fake::scripted(|src, p, _| {
            (*src == pod("probe-0-0") && is_tcp_to(p, POD_1_0))
                .then(|| ProbeResult::new(&p.id, Outcome::Timeout))
        })
    };
    let started = tokio::time::Instant::now();
    let report = run_fake(&rt).await;
    // The bound: the confirmation plan's deadline plus the 30 s guard.
    assert!(started.elapsed() < Duration::from_secs(60));
    let c = report
        .checks
        .iter()
        .find(|c| c.status == Status::Fail)
        .expect("the failure stands");
    assert!(
        c.detail.contains("the second try could not run"),
        "{}",
        c.detail
    );
    assert_eq!(rt.plans_of(&pod("probe-0-0")).len(), 2);
    assert!(failed(&report, false));
}

#[tokio::test(start_paused = true)]
async fn mtu_keeps_the_larger_path_mtu_of_the_two_tries() {
    // First sweep 1400 (below the pods' 1450), second 1300: 1400 crossed once,
    // so it counts, and the check is a confirmed failure.
    let rt = Fake::scripted(|src, p, attempt| match p.spec {
        ProbeSpec::Mtu { .. } if *src == pod("probe-0-0") => {
            let mut r = ProbeResult::new(&p.id, Outcome::Ok);
            r.interface_mtu = Some(1450);
            r.path_mtu = Some(if attempt == 0 { 1400 } else { 1300 });
            Some(r)
        }
        _ => None,
    });
    let report = run_fake(&rt).await;
    let mtu: Vec<_> = report
        .checks
        .iter()
        .filter(|c| c.kind == CheckKind::Mtu && c.status == Status::Fail)
        .collect();
    assert!(!mtu.is_empty());
    assert!(mtu.iter().all(|c| c.path_mtu == Some(1400)), "{mtu:?}");
    assert_eq!(report.summary.confirmed, mtu.len());

    // A sweep that reaches the pods' MTU the second time recovers.
    let rt = Fake::scripted(|src, p, attempt| match p.spec {
        ProbeSpec::Mtu { .. } if *src == pod("probe-0-0") => {
            let mut r = ProbeResult::new(&p.id, Outcome::Ok);
            r.interface_mtu = Some(1450);
            r.path_mtu = Some(if attempt == 0 { 1400 } else { 1450 });
            Some(r)
        }
        _ => None,
    });
    let report = run_fake(&rt).await;
    let recovered: Vec<_> = report.checks.iter().filter(|c| c.recovered()).collect();
    assert!(!recovered.is_empty());
    assert!(recovered.iter().all(|c| {
        c.kind == CheckKind::Mtu
            && c.status == Status::Pass
            && c.detail
                .starts_with("flaky: path MTU 1400 on the first try")
    }));
}

#[tokio::test(start_paused = true)]
async fn failures_policy_intends_are_not_probed_again() {
    let rt = Fake::scripted(|_, p, _| {
        matches!(p.spec, ProbeSpec::Udp { .. }).then(|| ProbeResult::new(&p.id, Outcome::Timeout))
    });
    let d = rt.discover(&Quiet).await.expect("the fake discovers");
    let opts = dns_answers_everything().plan;
    // Every UDP check is one the policy denies: none is sent again.
    let udp_is_blocked = |c: &Check| c.protocol == crate::model::Protocol::Udp;
    let probed = probe_all(&rt, &d, &opts, &udp_is_blocked, &Quiet).await;
    assert_eq!(probed.confirmation, Confirmation::default());
    assert_eq!(rt.probes.load(Ordering::Relaxed), 9);
    assert!(
        probed
            .checks
            .iter()
            .any(|c| c.status == Status::Fail && c.protocol == crate::model::Protocol::Udp)
    );
}

#[tokio::test(start_paused = true)]
async fn a_refused_service_under_a_deny_policy_is_probed_again() {
    // kube-proxy's REJECT before its sync answers "refused" even where a
    // policy denies the traffic: probed again, the unenforced policy shows as
    // an unexpected allow instead of passing for an enforced one.
    let rt = Fake {
        deny_ingress: true,
        ..Fake::scripted(|_, p, attempt| match p.spec {
            ProbeSpec::Tcp { target, .. }
                if attempt == 0 && target.to_string().starts_with("198.19.") =>
            {
                Some(ProbeResult::new(&p.id, Outcome::Refused))
            }
            _ => None,
        })
    };
    let report = run_fake(&rt).await;
    let services: Vec<&Check> = report
        .checks
        .iter()
        .filter(|c| c.kind == CheckKind::PodToService && c.protocol == crate::model::Protocol::Tcp)
        .collect();
    assert!(!services.is_empty());
    assert!(
        services.iter().all(|c| c.status != Status::ExpectedBlock),
        "{services:#?}"
    );
    assert!(services.iter().any(|c| c.status == Status::UnexpectedAllow));
    // Refused until kube-proxy synced: they waited for it, not flaky.
    assert!(
        services
            .iter()
            .all(|c| c.detail.starts_with(confirm::SYNCED_PREFIX)),
        "{services:#?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_timeout_the_policy_denies_is_probed_again_where_the_policy_is_not_enforced() {
    // The CNI does not enforce the deny-ingress policy (everything passes),
    // but one Service probe lands while kube-proxy rewrites its rules and
    // times out: other denied traffic reached that pod, so the timeout is
    // not the policy's doing and is probed again.
    let rt = Fake {
        deny_ingress: true,
        ..Fake::scripted(|src, p, attempt| {
            (*src == pod("probe-2-1") && is_tcp_to(p, VIP_1_0) && attempt == 0)
                .then(|| ProbeResult::new(&p.id, Outcome::Timeout))
        })
    };
    let report = run_fake(&rt).await;
    assert_eq!(rt.plans_of(&pod("probe-2-1")).len(), 2);
    let c = report
        .checks
        .iter()
        .find(|c| c.kind == CheckKind::PodToService && c.recovered())
        .expect("the Service check was probed again and passed");
    assert_eq!(c.status, Status::UnexpectedAllow, "{c:?}");
    assert_eq!(report.summary.expected_blocks, 0);
}

#[tokio::test(start_paused = true)]
async fn a_run_does_not_probe_again_what_its_network_policy_blocks() {
    // Ingress to the probe pods is denied and the fake enforces it for UDP
    // from pods, to a pod's IP or through its Service (what the policy
    // blocks stays blocked on the second try).
    let rt = Fake {
        deny_ingress: true,
        ..Fake::scripted(|src, p, _| {
            // A pod reaching itself through its Service is not blocked.
            let own_vip = match src {
                Source::Pod(name) => own_service_vip(name),
                Source::Host(_) => None,
            };
            let cross_pod = matches!(src, Source::Pod(_))
                && matches!(p.spec, ProbeSpec::Udp { target, .. }
                    if target.to_string().starts_with("198.1") && Some(target) != own_vip);
            cross_pod.then(|| ProbeResult::new(&p.id, Outcome::Timeout))
        })
    };
    let report = run_fake(&rt).await;
    assert!(report.summary.expected_blocks > 0);
    let blocked_udp = report
        .checks
        .iter()
        .filter(|c| c.status == Status::ExpectedBlock && c.protocol == crate::model::Protocol::Udp)
        .count();
    assert!(blocked_udp > 0);
    // Failures the policy intends cost no second call.
    assert_eq!(rt.probes.load(Ordering::Relaxed), 9);
    assert_eq!(report.summary.confirmed, 0);
}

fn aggregating() -> Options {
    let mut o = dns_answers_everything();
    o.plan.aggregate = crate::plan::Aggregate::Always;
    o
}

#[tokio::test(start_paused = true)]
async fn with_aggregation_a_flaky_probe_is_listed_and_the_passes_are_counted() {
    let rt = Fake::scripted(|src, p, attempt| {
        (*src == pod("probe-0-0") && is_tcp_to(p, POD_1_0) && attempt == 0)
            .then(|| ProbeResult::new(&p.id, Outcome::Timeout))
    });
    let full = run_fake(&Fake::default()).await;
    let report = run(&rt, &aggregating(), &Quiet).await.unwrap();
    assert!(report.summary.aggregated);
    // The flaky pass is a check; the other passes of its kind only counted.
    let listed: Vec<_> = report
        .checks
        .iter()
        .filter(|c| c.kind == CheckKind::PodToPod)
        .collect();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert!(listed[0].recovered(), "{}", listed[0].detail);
    assert_eq!(report.summary.recovered, 1);
    assert_eq!(report.summary.failed, 0);
    assert_eq!(report.summary.passed, full.summary.passed);
    assert_eq!(
        report.checks.len() + report.summary.checks_omitted,
        full.checks.len()
    );
    let cell = report
        .cells
        .iter()
        .find(|c| c.kind == CheckKind::PodToPod && c.source == "node-0" && c.target == "node-1")
        .expect("the cell of the flaky check");
    assert_eq!((cell.recovered, cell.omitted + 1), (1, cell.passed));
    assert!(!failed(&report, true));
}

#[tokio::test(start_paused = true)]
async fn with_aggregation_a_failure_is_confirmed_and_listed_in_full() {
    let rt = Fake::scripted(|src, p, _| {
        (*src == pod("probe-0-0") && is_tcp_to(p, POD_1_0))
            .then(|| ProbeResult::new(&p.id, Outcome::Timeout))
    });
    let report = run(&rt, &aggregating(), &Quiet).await.unwrap();
    let failed_checks = failed_checks(&report);
    assert_eq!(failed_checks.len(), 1, "{failed_checks:?}");
    assert_eq!(report.summary.confirmed, 1);
    assert!(report.summary.checks_omitted > 0);
    let cell = report
        .cells
        .iter()
        .find(|c| c.kind == CheckKind::PodToPod && c.source == "node-0" && c.target == "node-1")
        .expect("the cell of the failed check");
    assert_eq!(cell.failed, 1);
    assert!(failed(&report, false));
    // Without aggregation nothing is left out.
    let full = run(&rt, &dns_answers_everything(), &Quiet).await.unwrap();
    assert!(!full.summary.aggregated && full.summary.checks_omitted == 0);
}
