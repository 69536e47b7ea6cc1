//! What a lab made, recorded in `/run/netcheck/<id>/state.json` before it is
//! made, so that teardown (also of a partial build) and the leftover sweep
//! (`lab --destroy-all`) find everything: namespaces, /etc/netns dirs, and the
//! processes living in those namespaces.

use super::cmd::{Tools, netns_path};
use crate::runtime::{Result, RuntimeError};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub const STATE_FILE: &str = "state.json";

/// Where every lab keeps its state.
pub fn state_root() -> PathBuf {
    PathBuf::from("/run/netcheck")
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LabState {
    pub id: String,
    /// The CLI process that owns the lab, and its start time (clock ticks
    /// since boot) so a reused pid is not mistaken for it.
    pub owner_pid: u32,
    #[serde(default)]
    pub owner_start: u64,
    /// The owner ran with --keep: the lab outlives it on purpose.
    #[serde(default)]
    pub kept: bool,
    pub nodes: usize,
    pub pods_per_node: usize,
    pub namespaces: Vec<String>,
    /// /etc/netns/<ns> directories (resolv.conf of pod namespaces).
    pub etc_netns: Vec<String>,
    /// Processes started (agents, dnsmasq), by role.
    #[serde(default)]
    pub pids: BTreeMap<String, u32>,
}

impl LabState {
    pub fn dir(&self) -> PathBuf {
        state_root().join(&self.id)
    }

    /// Write the state (atomically: a sweep may read it at any time).
    pub fn save(&self) -> Result<()> {
        let dir = self.dir();
        std::fs::create_dir_all(&dir)
            .map_err(|e| RuntimeError::io(format!("could not create {}", dir.display()), e))?;
        let tmp = dir.join(".state.json.tmp");
        let json = serde_json::to_vec_pretty(self)
            .map_err(|e| RuntimeError::Other(format!("could not encode the lab state: {e}")))?;
        std::fs::write(&tmp, json)
            .and_then(|_| std::fs::rename(&tmp, dir.join(STATE_FILE)))
            .map_err(|e| RuntimeError::io(format!("could not write {}", dir.display()), e))
    }

    pub fn load(dir: &Path) -> Result<LabState> {
        let f = dir.join(STATE_FILE);
        let text = std::fs::read_to_string(&f)
            .map_err(|e| RuntimeError::io(format!("could not read {}", f.display()), e))?;
        serde_json::from_str(&text)
            .map_err(|e| RuntimeError::Other(format!("{} is not a lab state: {e}", f.display())))
    }

    /// Is the CLI that made this lab still running?
    pub fn owner_alive(&self) -> bool {
        process_start(self.owner_pid).is_some_and(|s| s == self.owner_start)
    }
}

/// Start time of a process (field 22 of /proc/PID/stat), None when gone.
pub fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Inode of a named network namespace, when it exists.
pub fn netns_inode(ns: &str) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(netns_path(ns)).ok().map(|m| m.ino())
}

/// Every process whose network namespace is one of `inodes` (what
/// `ip netns pids` does, for many namespaces in one scan of /proc).
pub fn pids_in_namespaces(inodes: &BTreeSet<u64>) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let own = std::process::id();
    dir.filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != own)
        .filter(|pid| {
            std::fs::read_link(format!("/proc/{pid}/ns/net"))
                .ok()
                .and_then(|l| {
                    let s = l.to_string_lossy().into_owned();
                    s.strip_prefix("net:[")?
                        .strip_suffix(']')?
                        .parse::<u64>()
                        .ok()
                })
                .is_some_and(|ino| inodes.contains(&ino))
        })
        .collect()
}

fn signal(pid: u32, sig: i32) {
    // SAFETY: kill(2) with a pid found in /proc; at worst ESRCH.
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
    }
}

/// Stop every process in the namespaces: SIGTERM, then SIGKILL after a grace
/// period. `reap` is called while waiting so the caller can collect its own
/// children (a zombie has no namespace and so stops counting).
pub fn kill_namespace_processes(namespaces: &[String], mut reap: impl FnMut()) -> Vec<u32> {
    let inodes: BTreeSet<u64> = namespaces.iter().filter_map(|n| netns_inode(n)).collect();
    if inodes.is_empty() {
        return Vec::new();
    }
    let first = pids_in_namespaces(&inodes);
    for &pid in &first {
        signal(pid, libc::SIGTERM);
    }
    let mut left = first.clone();
    for (grace, sig) in [
        (Duration::from_millis(1500), Some(libc::SIGKILL)),
        (Duration::from_millis(1500), None),
    ] {
        let until = Instant::now() + grace;
        loop {
            reap();
            left = pids_in_namespaces(&inodes);
            if left.is_empty() || Instant::now() >= until {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        match sig {
            Some(sig) if !left.is_empty() => left.iter().for_each(|&p| signal(p, sig)),
            _ => break,
        }
    }
    if !left.is_empty() {
        tracing::warn!("processes still running in the lab's namespaces: {left:?}");
    }
    first
}

/// Remove everything the state names. Safe on a partial build and when run
/// twice; goes on past individual failures and reports the first.
pub async fn destroy(tools: &Tools, st: &LabState, reap: impl FnMut()) -> Result<()> {
    let namespaces = st.namespaces.clone();
    kill_namespace_processes(&namespaces, reap);
    let mut first_err: Option<RuntimeError> = None;
    let existing: Vec<String> = namespaces
        .iter()
        .filter(|n| netns_path(n).exists())
        .map(|n| format!("netns del {n}"))
        .collect();
    if let Err(e) = tools.ip_batch_force(None, &existing).await {
        // Some may have been removed concurrently: only fail if any is left.
        if namespaces.iter().any(|n| netns_path(n).exists()) {
            first_err.get_or_insert(e);
        }
    }
    for ns in &st.etc_netns {
        if !ns.starts_with(&format!("nc{}-", st.id)) {
            continue; // never remove a directory the lab did not name
        }
        let d = Path::new("/etc/netns").join(ns);
        if d.exists() {
            if let Err(e) = std::fs::remove_dir_all(&d) {
                first_err.get_or_insert(RuntimeError::io(
                    format!("could not remove {}", d.display()),
                    e,
                ));
            }
        }
    }
    let dir = st.dir();
    // A process that was just killed (or an agent start racing a failed
    // build) may still write a log file while the tree is being removed:
    // "Directory not empty". Retry briefly before calling it a failure.
    let mut attempt = 0;
    while dir.exists() {
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => break,
            Err(e) if attempt < 10 && e.kind() == std::io::ErrorKind::DirectoryNotEmpty => {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(e) => {
                first_err.get_or_insert(RuntimeError::io(
                    format!("could not remove {}", dir.display()),
                    e,
                ));
                break;
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// [`destroy`] without an async runtime (Drop guards): processes, then
/// namespaces, /etc/netns dirs and the state dir; errors are logged.
pub fn destroy_blocking(tools: &Tools, st: &LabState) {
    kill_namespace_processes(&st.namespaces, || {});
    let existing: Vec<String> = st
        .namespaces
        .iter()
        .filter(|n| netns_path(n).exists())
        .map(|n| format!("netns del {n}\n"))
        .collect();
    if !existing.is_empty() {
        use std::io::Write;
        let child = std::process::Command::new(&tools.ip)
            .args(["-force", "-batch", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        match child {
            Ok(mut c) => {
                if let Some(mut stdin) = c.stdin.take() {
                    let _ = stdin.write_all(existing.concat().as_bytes());
                }
                let _ = c.wait();
            }
            Err(e) => tracing::warn!("could not run ip to remove lab {}: {e}", st.id),
        }
    }
    let prefix = format!("nc{}-", st.id);
    for ns in st.etc_netns.iter().filter(|n| n.starts_with(&prefix)) {
        let _ = std::fs::remove_dir_all(Path::new("/etc/netns").join(ns));
    }
    let _ = std::fs::remove_dir_all(st.dir());
}

/// A lab found on this machine.
#[derive(Debug, Clone)]
pub struct Leftover {
    pub id: String,
    pub state: Option<LabState>,
    /// Namespaces with the lab's prefix, found in /run/netns.
    pub namespaces: Vec<String>,
}

/// Is `s` a lab namespace name (`nc` + 5 hex + `-`…)? Returns the id.
pub fn lab_id_of_namespace(s: &str) -> Option<&str> {
    let id = s.strip_prefix("nc")?.get(..5)?;
    let ok = id
        .chars()
        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        && s.as_bytes().get(7) == Some(&b'-');
    ok.then_some(id)
}

/// Every lab on this machine: state dirs, and namespaces whose state dir is gone.
pub fn find_labs() -> Vec<Leftover> {
    let mut by_id: BTreeMap<String, Leftover> = BTreeMap::new();
    if let Ok(dir) = std::fs::read_dir(state_root()) {
        for e in dir.flatten() {
            let id = e.file_name().to_string_lossy().into_owned();
            by_id.insert(
                id.clone(),
                Leftover {
                    id,
                    state: LabState::load(&e.path()).ok(),
                    namespaces: Vec::new(),
                },
            );
        }
    }
    if let Ok(dir) = std::fs::read_dir("/run/netns") {
        for e in dir.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(id) = lab_id_of_namespace(&name) {
                by_id
                    .entry(id.to_string())
                    .or_insert_with(|| Leftover {
                        id: id.to_string(),
                        state: None,
                        namespaces: Vec::new(),
                    })
                    .namespaces
                    .push(name);
            }
        }
    }
    by_id.into_values().collect()
}

/// Is a lab a leftover? Yes when its run ended (owner gone), it was kept on
/// purpose (its owner may still be exiting), or it has no state at all (the
/// state is written before anything is made, so a lab without one is debris).
/// A lab whose owner still runs is in use and left alone unless `include_live`.
pub fn should_sweep(state: Option<&LabState>, include_live: bool) -> bool {
    match state {
        None => true,
        Some(st) => include_live || st.kept || !st.owner_alive(),
    }
}

/// Remove labs whose owner is gone (or every lab with `include_live`).
/// Returns the ids removed and the ids skipped because still in use.
pub async fn sweep(tools: &Tools, include_live: bool) -> (Vec<String>, Vec<(String, u32)>) {
    let mut removed = Vec::new();
    let mut skipped = Vec::new();
    for lab in find_labs() {
        // A state dir without a readable state may be a lab writing its
        // first state right now: give it a minute.
        let young = lab.state.is_none()
            && std::fs::metadata(state_root().join(&lab.id))
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age < Duration::from_secs(60));
        if young || !should_sweep(lab.state.as_ref(), include_live) {
            let pid = lab.state.as_ref().map(|s| s.owner_pid).unwrap_or(0);
            skipped.push((lab.id.clone(), pid));
            continue;
        }
        let mut st = match lab.state.clone() {
            Some(st) => st,
            // A state dir is written before any namespace is made: none (or
            // an unreadable one) means a dead run.
            None => LabState {
                id: lab.id.clone(),
                ..Default::default()
            },
        };
        for ns in &lab.namespaces {
            if !st.namespaces.contains(ns) {
                st.namespaces.push(ns.clone());
            }
        }
        for ns in &st.namespaces.clone() {
            if !st.etc_netns.contains(ns) {
                st.etc_netns.push(ns.clone());
            }
        }
        match destroy(tools, &st, || {}).await {
            Ok(()) => removed.push(lab.id),
            Err(e) => tracing::warn!("could not remove lab {}: {e}", lab.id),
        }
    }
    (removed, skipped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_ids() {
        assert_eq!(lab_id_of_namespace("nc0a1b2-n0p1"), Some("0a1b2"));
        assert_eq!(lab_id_of_namespace("nc0a1b2-wire"), Some("0a1b2"));
        assert_eq!(lab_id_of_namespace("nc0A1b2-wire"), None);
        assert_eq!(lab_id_of_namespace("nc0a1b-wire"), None);
        assert_eq!(lab_id_of_namespace("cni-1234"), None);
    }

    #[test]
    fn sweep_leaves_labs_in_use_alone() {
        let me = std::process::id();
        let live = LabState {
            owner_pid: me,
            owner_start: process_start(me).unwrap(),
            ..Default::default()
        };
        assert!(!should_sweep(Some(&live), false));
        assert!(should_sweep(Some(&live), true));
        let kept = LabState {
            kept: true,
            ..live.clone()
        };
        assert!(should_sweep(Some(&kept), false));
        let dead = LabState {
            owner_start: live.owner_start + 1,
            ..live
        };
        assert!(should_sweep(Some(&dead), false));
        assert!(should_sweep(None, false));
    }

    #[test]
    fn own_process_start_is_readable_and_stable() {
        let me = std::process::id();
        let a = process_start(me).unwrap();
        assert_eq!(process_start(me), Some(a));
        let st = LabState {
            owner_pid: me,
            owner_start: a,
            ..Default::default()
        };
        assert!(st.owner_alive());
        let other = LabState {
            owner_pid: me,
            owner_start: a + 1,
            ..Default::default()
        };
        assert!(!other.owner_alive());
    }
}
