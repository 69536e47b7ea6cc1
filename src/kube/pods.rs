//! Whether a probe pod started, and if it cannot, why: from its status
//! (waiting reasons, PodScheduled, phase) and its Warning events.

use super::discover::{pod_ready, pod_state_line};
use k8s_openapi::api::core::v1::{Event, Pod};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Where a pod stands on its way to ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodStart {
    /// Ready: its agent answers.
    Ready,
    /// Still on its way (pulling, creating); what it is doing.
    Starting(String),
    /// It will not become ready by waiting: the reason.
    Failed(String),
}

/// A probe kept out of Services by its readiness gate (`--policy-from`).
pub fn gated_out_of_service(p: &Pod) -> bool {
    p.spec
        .as_ref()
        .and_then(|s| s.readiness_gates.as_ref())
        .is_some_and(|g| {
            g.iter()
                .any(|g| g.condition_type == super::manifests::OUT_OF_SERVICE_GATE)
        })
}

fn containers_ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "ContainersReady"))
        .is_some_and(|c| c.status == "True")
}

/// Waiting reasons that waiting will not fix.
const FATAL_WAITING: &[&str] = &[
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
    "CrashLoopBackOff",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
];

pub fn classify(p: &Pod) -> PodStart {
    if pod_ready(p) || (gated_out_of_service(p) && containers_ready(p)) {
        return PodStart::Ready;
    }
    let Some(st) = p.status.as_ref() else {
        return PodStart::Starting("waiting for the kubelet".into());
    };
    if let Some(c) = st
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "PodScheduled" && c.status == "False")
        && c.reason.as_deref() == Some("Unschedulable")
    {
        return PodStart::Failed(format!(
            "Pending, unschedulable: {}",
            c.message.as_deref().unwrap_or("no reason given")
        ));
    }
    if matches!(st.phase.as_deref(), Some("Failed") | Some("Succeeded")) {
        return PodStart::Failed(format!(
            "phase {}{}",
            st.phase.as_deref().unwrap_or(""),
            match (&st.reason, &st.message) {
                (Some(r), Some(m)) => format!(": {r}: {m}"),
                (Some(r), None) => format!(": {r}"),
                (None, Some(m)) => format!(": {m}"),
                (None, None) => String::new(),
            }
        ));
    }
    for cs in st.container_statuses.iter().flatten() {
        let state = cs.state.as_ref();
        if let Some(w) = state.and_then(|s| s.waiting.as_ref()) {
            let reason = w.reason.as_deref().unwrap_or("");
            if FATAL_WAITING.contains(&reason) {
                return PodStart::Failed(match &w.message {
                    Some(m) => format!("{reason}: {m}"),
                    None => reason.to_string(),
                });
            }
            return PodStart::Starting(if reason.is_empty() {
                "container waiting".into()
            } else {
                reason.to_string()
            });
        }
        // Exited and restarting: a crash loop in the making.
        if let Some(t) = state.and_then(|s| s.terminated.as_ref())
            && cs.restart_count >= 1
        {
            return PodStart::Failed(format!(
                "CrashLoopBackOff: the agent exited with code {}{} ({} restarts)",
                t.exit_code,
                t.reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default(),
                cs.restart_count
            ));
        }
        if let Some(t) = cs.last_state.as_ref().and_then(|s| s.terminated.as_ref())
            && cs.restart_count >= 2
        {
            return PodStart::Failed(format!(
                "CrashLoopBackOff: the agent keeps exiting (last exit code {}, {} restarts)",
                t.exit_code, cs.restart_count
            ));
        }
    }
    PodStart::Starting(match st.phase.as_deref() {
        Some("Running") => "running, not ready yet".into(),
        Some(p) => p.to_string(),
        None => "waiting for the kubelet".into(),
    })
}

/// The newest Warning events about `pod`, as "Reason: message" (newest last,
/// at most three, repeated messages once).
pub fn warning_events(pod: &str, events: &[Event]) -> Vec<String> {
    let mut mine: Vec<&Event> = events
        .iter()
        .filter(|e| e.involved_object.name.as_deref() == Some(pod))
        .filter(|e| e.type_.as_deref() == Some("Warning"))
        .collect();
    mine.sort_by_key(|e| {
        e.last_timestamp
            .as_ref()
            .map(|t| t.0)
            .or(e.event_time.as_ref().map(|t| t.0))
    });
    let mut out: Vec<String> = Vec::new();
    for e in mine {
        let line = format!(
            "{}: {}",
            e.reason.as_deref().unwrap_or("Warning"),
            e.message.as_deref().unwrap_or("").trim()
        );
        if !out.contains(&line) {
            out.push(line);
        }
    }
    let skip = out.len().saturating_sub(3);
    out.split_off(skip)
}

/// The sentence a user reads for a pod that could not start.
pub fn failure_reason(p: &Pod, why: &str, events: &[Event]) -> String {
    let name = p.metadata.name.as_deref().unwrap_or("?");
    let ev = warning_events(name, events);
    let mut s = format!("pod {name}: {why}");
    if !ev.is_empty() {
        s.push_str(&format!(" [events: {}]", ev.join("; ")));
    }
    s
}

/// For a pod still not ready at the deadline.
pub fn timeout_reason(p: &Pod) -> String {
    pod_state_line(p)
}

// ---------------------------------------------------------------- setup errors

/// Warning events that say the kubelet cannot set a pod up on its node: its
/// network sandbox (the CNI), its volumes. The pod stays ContainerCreating
/// with no reason in its status; only the events tell.
pub const SETUP_ERRORS: &[&str] = &[
    "FailedCreatePodSandBox",
    "FailedMount",
    "FailedAttachVolume",
    "FailedMapVolume",
];

/// How long a setup error may last before the pod counts as not starting.
pub const SETUP_PERSISTS: Duration = Duration::from_secs(5);

/// How many setup errors (the kubelet retries) count as not starting at once.
pub const SETUP_REPEATS: i32 = 3;

/// How the reason of a pod the kubelet cannot set up begins: a node-local
/// failure, the other nodes go on.
pub const SETUP_FAILED: &str = "the kubelet cannot set the pod up on its node";

/// Whether a failure reason is a setup failure (node-local).
pub fn is_setup_failure(why: &str) -> bool {
    why.contains(SETUP_FAILED)
}

/// The setup errors about `pod` (by uid when both sides have one, else by
/// name): how many times they happened, and the newest reason.
pub fn setup_errors(pod: &Pod, events: &[Event]) -> (i32, Option<String>) {
    let name = pod.metadata.name.as_deref();
    let uid = pod.metadata.uid.as_deref();
    let mut mine: Vec<&Event> = events
        .iter()
        .filter(|e| e.involved_object.name.as_deref() == name)
        .filter(|e| match (uid, e.involved_object.uid.as_deref()) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        })
        .filter(|e| e.type_.as_deref() == Some("Warning"))
        .filter(|e| SETUP_ERRORS.contains(&e.reason.as_deref().unwrap_or("")))
        .collect();
    mine.sort_by_key(|e| {
        e.last_timestamp
            .as_ref()
            .map(|t| t.0)
            .or(e.event_time.as_ref().map(|t| t.0))
    });
    let count = mine
        .iter()
        .map(|e| {
            e.series
                .as_ref()
                .and_then(|s| s.count)
                .unwrap_or(0)
                .max(e.count.unwrap_or(1))
        })
        .sum();
    (count, mine.last().and_then(|e| e.reason.clone()))
}

/// Setup errors seen while waiting: since when each pod has had them.
#[derive(Debug, Default)]
pub struct SetupWatch {
    since: BTreeMap<String, Instant>,
}

impl SetupWatch {
    /// A pod still starting, with the namespace's events at `now`: the
    /// reason it will not start when its setup errors have lasted
    /// [`SETUP_PERSISTS`] or repeated [`SETUP_REPEATS`] times.
    pub fn observe(&mut self, pod: &Pod, events: &[Event], now: Instant) -> Option<String> {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let (count, reason) = setup_errors(pod, events);
        let Some(reason) = reason else {
            self.since.remove(&name);
            return None;
        };
        let since = *self.since.entry(name).or_insert(now);
        let lasted = now.saturating_duration_since(since);
        if count >= SETUP_REPEATS {
            Some(format!("{SETUP_FAILED}: {reason}, {count} times"))
        } else if lasted >= SETUP_PERSISTS {
            Some(format!(
                "{SETUP_FAILED}: {reason} for {}s",
                lasted.as_secs()
            ))
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kube::fixtures::items;

    fn pod(name: &str) -> Pod {
        items::<Pod>("failing-pods.json")
            .into_iter()
            .find(|p| p.metadata.name.as_deref() == Some(name))
            .unwrap()
    }

    #[test]
    fn image_pull_error_fails_with_the_registry_message() {
        match classify(&pod("badimage")) {
            PodStart::Failed(why) => {
                assert!(
                    why.starts_with("ErrImagePull: failed to pull and unpack image"),
                    "{why}"
                );
                assert!(why.contains("registry.invalid/nope/agent:0.0.0"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unschedulable_fails_with_the_scheduler_message() {
        assert_eq!(
            classify(&pod("unschedulable")),
            PodStart::Failed("Pending, unschedulable: 0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector. no new claims to deallocate, preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.".into())
        );
    }

    #[test]
    fn crash_loop_fails_with_the_exit_code() {
        match classify(&pod("crashloop")) {
            PodStart::Failed(why) => {
                assert!(why.contains("CrashLoopBackOff"), "{why}");
                assert!(why.contains("exit"));
                assert!(why.contains("code 3"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_gated_probe_is_ready_once_its_containers_are() {
        let run = crate::kube::manifests::RunSpec {
            id: "abc123".into(),
            namespace: "shop".into(),
            image: "i".into(),
            ports: Default::default(),
            host_port: 61000,
            psa: crate::kube::manifests::PsaLevel::Privileged,
        };
        let mut p = crate::kube::manifests::probe_pod(&run, "probe-a", "node1");
        crate::kube::manifests::wear_labels(&mut p, &[("app".into(), "web".into())].into());
        let status = |ready: &str, containers: &str| -> k8s_openapi::api::core::v1::PodStatus {
            serde_json::from_value(serde_json::json!({"phase": "Running", "conditions": [
                {"type": "Ready", "status": ready},
                {"type": "ContainersReady", "status": containers}]}))
            .unwrap()
        };
        p.status = Some(status("False", "True"));
        assert_eq!(classify(&p), PodStart::Ready);
        p.status = Some(status("False", "False"));
        assert!(matches!(classify(&p), PodStart::Starting(_)));
        // Without the gate, Ready is what counts.
        p.spec.as_mut().unwrap().readiness_gates = None;
        p.status = Some(status("False", "True"));
        assert!(matches!(classify(&p), PodStart::Starting(_)));
    }

    #[test]
    fn ready_and_starting_pods() {
        let ready: Pod = items::<Pod>("kube-system-pods.json").remove(0);
        assert_eq!(classify(&ready), PodStart::Ready);
        let mut creating = pod("badimage");
        let w = creating
            .status
            .as_mut()
            .unwrap()
            .container_statuses
            .as_mut()
            .unwrap()[0]
            .state
            .as_mut()
            .unwrap()
            .waiting
            .as_mut()
            .unwrap();
        w.reason = Some("ContainerCreating".into());
        assert_eq!(
            classify(&creating),
            PodStart::Starting("ContainerCreating".into())
        );
        assert!(matches!(classify(&Pod::default()), PodStart::Starting(_)));
    }

    #[test]
    fn events_add_the_kubelet_words() {
        let events: Vec<Event> = items("failing-pods-events.json");
        let ev = warning_events("badimage", &events);
        assert!(
            ev.iter().any(|e| e == "Failed: Error: ImagePullBackOff"),
            "{ev:?}"
        );
        assert!(ev.len() <= 3);
        let ev = warning_events("unschedulable", &events);
        assert_eq!(ev.len(), 1);
        assert!(ev[0].starts_with("FailedScheduling: 0/2 nodes are available"));
        let r = failure_reason(&pod("crashloop"), "CrashLoopBackOff", &events);
        assert!(
            r.contains("BackOff: Back-off restarting failed container c"),
            "{r}"
        );
        assert!(warning_events("nobody", &events).is_empty());
    }

    fn sandbox_pod() -> (Pod, Vec<Event>) {
        let read = |f: &str| -> serde_json::Value {
            let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/kube-v1.36/turn2")
                .join(f);
            serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
        };
        let pod: Pod = serde_json::from_value(read("sandbox-failed-pod.json")).unwrap();
        let events: Vec<Event> =
            serde_json::from_value(read("sandbox-failed-events.json")["items"].clone()).unwrap();
        (pod, events)
    }

    #[test]
    fn a_sandbox_that_cannot_be_set_up_is_starting_in_status_and_failing_in_events() {
        let (pod, events) = sandbox_pod();
        // The status says only ContainerCreating.
        assert_eq!(
            classify(&pod),
            PodStart::Starting("ContainerCreating".into())
        );
        assert_eq!(
            setup_errors(&pod, &events),
            (1, Some("FailedCreatePodSandBox".into()))
        );
        let mut watch = SetupWatch::default();
        let t0 = Instant::now();
        assert_eq!(watch.observe(&pod, &events, t0), None, "not at once");
        assert_eq!(
            watch.observe(&pod, &events, t0 + Duration::from_secs(2)),
            None
        );
        let why = watch
            .observe(&pod, &events, t0 + SETUP_PERSISTS)
            .expect("persisting");
        assert!(is_setup_failure(&why), "{why}");
        assert!(why.contains("FailedCreatePodSandBox for 5s"), "{why}");
        // The kubelet's words reach the reason the user reads.
        let text = failure_reason(&pod, &why, &events);
        assert!(
            text.contains("failed to find plugin \"calico\" in path [/usr/lib/cni]"),
            "{text}"
        );
        // SandboxChanged (Normal) is not an error by itself.
        let normal: Vec<Event> = events
            .iter()
            .filter(|e| e.type_.as_deref() == Some("Normal"))
            .cloned()
            .collect();
        assert_eq!(setup_errors(&pod, &normal), (0, None));
    }

    #[test]
    fn repeated_setup_errors_count_at_once_and_other_pods_events_do_not() {
        let (pod, mut events) = sandbox_pod();
        events[0].count = Some(3);
        let mut watch = SetupWatch::default();
        let why = watch.observe(&pod, &events, Instant::now()).unwrap();
        assert!(why.ends_with("FailedCreatePodSandBox, 3 times"), "{why}");
        // An event about an earlier pod of the same name (another uid).
        events[0].involved_object.uid = Some("another-pod".into());
        assert_eq!(setup_errors(&pod, &events), (0, None));
        // Errors that went away reset the clock.
        let mut watch = SetupWatch::default();
        let (pod, events) = sandbox_pod();
        let t0 = Instant::now();
        watch.observe(&pod, &events, t0);
        assert_eq!(watch.observe(&pod, &[], t0 + Duration::from_secs(4)), None);
        assert_eq!(
            watch.observe(&pod, &events, t0 + Duration::from_secs(6)),
            None
        );
    }
}
