//! Running the few system tools the lab needs, in batches: one `ip` process
//! per namespace (not one per command), one `iptables-restore` per node.
//! Every call has a timeout and its error carries the tool's stderr.

use crate::runtime::{Result, RuntimeError};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// How long one batch may take before the build gives up.
const TOOL_TIMEOUT: Duration = Duration::from_secs(60);

/// The external programs the lab drives, found once.
#[derive(Debug, Clone)]
pub struct Tools {
    pub ip: PathBuf,
    pub bridge: PathBuf,
    pub iptables_restore: PathBuf,
    pub dnsmasq: PathBuf,
    /// `nft` (kube-proxy's nftables mode only; the package `nftables`).
    pub nft: Option<PathBuf>,
}

/// A tool the lab needs and the Debian package that has it.
const NEEDED: [(&str, &str); 4] = [
    ("ip", "iproute2"),
    ("bridge", "iproute2"),
    ("iptables-restore", "iptables"),
    ("dnsmasq", "dnsmasq-base"),
];

/// Find a program on PATH or in the sbin directories (sudo keeps those off
/// some users' PATH).
pub fn find_program(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    for d in ["/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"] {
        dirs.push(PathBuf::from(d));
    }
    dirs.into_iter()
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

impl Tools {
    /// Find every tool, or say which are missing and how to install them.
    pub fn find() -> Result<Tools> {
        let mut found = Vec::new();
        let mut missing = Vec::new();
        for (name, pkg) in NEEDED {
            match find_program(name) {
                Some(p) => found.push(p),
                None => missing.push((name, pkg)),
            }
        }
        if !missing.is_empty() {
            let names: Vec<&str> = missing.iter().map(|(n, _)| *n).collect();
            let mut pkgs: Vec<&str> = missing.iter().map(|(_, p)| *p).collect();
            pkgs.dedup();
            return Err(RuntimeError::NotReady(format!(
                "kubectl netcheck lab needs {} which {} not installed: install it with `apt-get install {}`",
                names.join(", "),
                if names.len() == 1 { "is" } else { "are" },
                pkgs.join(" ")
            )));
        }
        let mut it = found.into_iter();
        let mut next = || it.next().unwrap_or_default();
        Ok(Tools {
            ip: next(),
            bridge: next(),
            iptables_restore: next(),
            dnsmasq: next(),
            nft: find_program("nft"),
        })
    }

    /// `ip [-n NS] -batch -` with the lines on stdin.
    pub async fn ip_batch(&self, ns: Option<&str>, lines: &[String]) -> Result<()> {
        if lines.is_empty() {
            return Ok(());
        }
        let mut args: Vec<&str> = Vec::new();
        if let Some(ns) = ns {
            args.extend(["-n", ns]);
        }
        args.extend(["-batch", "-"]);
        run(&self.ip, &args, Some(lines.join("\n") + "\n"))
            .await
            .map(drop)
    }

    /// Like [`ip_batch`](Self::ip_batch) but goes on after a failed line
    /// (teardown: some of what it removes may be gone already).
    pub async fn ip_batch_force(&self, ns: Option<&str>, lines: &[String]) -> Result<()> {
        if lines.is_empty() {
            return Ok(());
        }
        let mut args: Vec<&str> = Vec::new();
        if let Some(ns) = ns {
            args.extend(["-n", ns]);
        }
        args.extend(["-force", "-batch", "-"]);
        run(&self.ip, &args, Some(lines.join("\n") + "\n"))
            .await
            .map(drop)
    }

    /// `bridge -n NS -batch -` (VXLAN FDB entries).
    pub async fn bridge_batch(&self, ns: &str, lines: &[String]) -> Result<()> {
        if lines.is_empty() {
            return Ok(());
        }
        run(
            &self.bridge,
            &["-n", ns, "-batch", "-"],
            Some(lines.join("\n") + "\n"),
        )
        .await
        .map(drop)
    }

    /// `ip netns exec NS PROGRAM ARGS…`, with optional stdin; returns stdout.
    pub async fn netns_exec(
        &self,
        ns: &str,
        program: &Path,
        args: &[&str],
        stdin: Option<String>,
    ) -> Result<String> {
        let prog = program.to_string_lossy();
        let mut all: Vec<&str> = vec!["netns", "exec", ns, &prog];
        all.extend_from_slice(args);
        run(&self.ip, &all, stdin).await
    }

    /// [`netns_exec`](Self::netns_exec) with its own time limit.
    pub async fn netns_exec_timeout(
        &self,
        ns: &str,
        program: &Path,
        args: &[&str],
        stdin: Option<String>,
        timeout: Duration,
    ) -> Result<String> {
        self.netns_exec_env(ns, program, args, &[], stdin, timeout)
            .await
    }

    /// [`Self::netns_exec_timeout`] with `envs` added to the program's
    /// environment (`ip netns exec` passes its own on).
    pub async fn netns_exec_env(
        &self,
        ns: &str,
        program: &Path,
        args: &[&str],
        envs: &[(&str, &str)],
        stdin: Option<String>,
        timeout: Duration,
    ) -> Result<String> {
        let prog = program.to_string_lossy();
        let mut all: Vec<&str> = vec!["netns", "exec", ns, &prog];
        all.extend_from_slice(args);
        run_env_timeout(&self.ip, &all, envs, stdin, timeout).await
    }

    /// Load an `nft -f` document into a namespace (one transaction).
    pub async fn nft_load(&self, ns: &str, doc: &str) -> Result<()> {
        let nft = self.nft.as_ref().ok_or_else(|| {
            RuntimeError::NotReady(
                "nft is not installed: install it with `apt-get install nftables`".into(),
            )
        })?;
        self.netns_exec(ns, nft, &["-f", "-"], Some(doc.to_string()))
            .await
            .map(drop)
    }

    /// Load an iptables-restore document into a namespace (one call per node).
    /// `ip6tables-restore [--noflush]` inside a namespace (every lab node:
    /// kubelet and kube-proxy program IPv6 on a single-stack node too; the
    /// same package as iptables-restore, found next to it).
    pub async fn ip6tables_restore(&self, ns: &str, rules: &str, noflush: bool) -> Result<()> {
        let sibling = self.iptables_restore.with_file_name("ip6tables-restore");
        let program = if sibling.exists() {
            sibling
        } else {
            find_program("ip6tables-restore").ok_or_else(|| {
                RuntimeError::NotReady(
                    "the lab needs ip6tables-restore (its nodes carry IPv6 rules, as \
                     real nodes do), which is not installed: install it with \
                     `apt-get install iptables`"
                        .into(),
                )
            })?
        };
        let args: &[&str] = if noflush { &["--noflush"] } else { &[] };
        self.netns_exec(ns, &program, args, Some(rules.to_string()))
            .await
            .map(drop)
    }

    pub async fn iptables_restore(&self, ns: &str, rules: &str, noflush: bool) -> Result<()> {
        let args: &[&str] = if noflush { &["--noflush"] } else { &[] };
        self.netns_exec(ns, &self.iptables_restore, args, Some(rules.to_string()))
            .await
            .map(drop)
    }
}

/// Run a program to completion within [`TOOL_TIMEOUT`]; stdout on success,
/// an error with the command and its stderr otherwise.
pub async fn run(program: &Path, args: &[&str], stdin: Option<String>) -> Result<String> {
    run_timeout(program, args, stdin, TOOL_TIMEOUT).await
}

/// [`run`] with its own time limit.
pub async fn run_timeout(
    program: &Path,
    args: &[&str],
    stdin: Option<String>,
    timeout: Duration,
) -> Result<String> {
    run_env_timeout(program, args, &[], stdin, timeout).await
}

/// [`run_timeout`] with `envs` added to the program's environment.
pub async fn run_env_timeout(
    program: &Path,
    args: &[&str],
    envs: &[(&str, &str)],
    stdin: Option<String>,
    timeout: Duration,
) -> Result<String> {
    let what = format!("{} {}", program.display(), args.join(" "));
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .envs(envs.iter().copied())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .map_err(|e| RuntimeError::io(format!("could not start `{what}`"), e))?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // Feed stdin concurrently with reading the output, so a large batch
        // cannot deadlock on full pipes.
        let writer = tokio::spawn(async move {
            let _ = pipe.write_all(input.as_bytes()).await;
            let _ = pipe.shutdown().await;
        });
        let out = tokio::time::timeout(timeout, child.wait_with_output()).await;
        let _ = writer.await;
        finish(&what, out, timeout)
    } else {
        let out = tokio::time::timeout(timeout, child.wait_with_output()).await;
        finish(&what, out, timeout)
    }
}

fn finish(
    what: &str,
    out: std::result::Result<std::io::Result<std::process::Output>, tokio::time::error::Elapsed>,
    timeout: Duration,
) -> Result<String> {
    let out = match out {
        Err(_) => {
            return Err(RuntimeError::Timeout {
                what: format!("`{}`", short(what)),
                after: timeout,
            });
        }
        Ok(Err(e)) => return Err(RuntimeError::io(format!("`{}` failed", short(what)), e)),
        Ok(Ok(o)) => o,
    };
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        Err(RuntimeError::Other(format!(
            "`{}` failed ({}): {}",
            short(what),
            out.status,
            stderr.trim()
        )))
    }
}

fn short(s: &str) -> String {
    if s.len() > 160 {
        let mut cut = 160;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}…", &s[..cut])
    } else {
        s.to_string()
    }
}

/// The path of a named network namespace.
pub fn netns_path(ns: &str) -> PathBuf {
    Path::new("/run/netns").join(ns)
}

/// Write sysctls inside a namespace: on a short-lived thread that enters the
/// namespace (setns affects only the calling thread, and /proc/sys/net shows
/// the namespace of the thread that opens it). Keys that do not exist in the
/// namespace are skipped when `optional`.
pub async fn write_sysctls(ns: &str, values: Vec<(String, String, bool)>) -> Result<()> {
    let path = netns_path(ns);
    let ns = ns.to_string();
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name(format!("sysctl-{ns}"))
        .spawn(move || {
            let _ = tx.send(in_netns(&path, || {
                for (key, value, optional) in &values {
                    let file = Path::new("/proc/sys").join(key.replace('.', "/"));
                    if *optional && !file.exists() {
                        continue;
                    }
                    std::fs::write(&file, value).map_err(|e| {
                        RuntimeError::io(format!("could not set {key}={value} in {ns}"), e)
                    })?;
                }
                Ok(())
            }));
        })
        .map_err(|e| RuntimeError::io("could not start a thread", e))?;
    rx.await
        .map_err(|_| RuntimeError::Other("the sysctl thread died".into()))?
}

/// Read sysctls inside a namespace (missing keys read as None).
pub async fn read_sysctls(ns: &str, keys: Vec<String>) -> Result<Vec<Option<String>>> {
    let path = netns_path(ns);
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .spawn(move || {
            let _ = tx.send(in_netns(&path, || {
                Ok(keys
                    .iter()
                    .map(|k| {
                        std::fs::read_to_string(Path::new("/proc/sys").join(k.replace('.', "/")))
                            .ok()
                            .map(|s| s.trim().to_string())
                    })
                    .collect())
            }));
        })
        .map_err(|e| RuntimeError::io("could not start a thread", e))?;
    rx.await
        .map_err(|_| RuntimeError::Other("the sysctl thread died".into()))?
}

/// Run `f` inside a network namespace, on a new thread that exits after it
/// (tests and faults use it to open sockets "in a pod"). Blocks until done.
pub fn in_netns_thread<T: Send>(ns: &str, f: impl FnOnce() -> T + Send) -> Result<T> {
    let path = netns_path(ns);
    std::thread::scope(|s| {
        s.spawn(|| in_netns(&path, || Ok(f())))
            .join()
            .map_err(|_| RuntimeError::Other(format!("a thread inside {ns} panicked")))?
    })
}

/// Run `f` on the current thread after entering the network namespace at
/// `path`. Only call on a thread that ends right after (never a pool thread).
fn in_netns<T>(path: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
    use std::os::fd::AsRawFd;
    let file = std::fs::File::open(path)
        .map_err(|e| RuntimeError::io(format!("could not open {}", path.display()), e))?;
    // SAFETY: setns on a valid namespace fd changes only this thread's
    // network namespace; the thread is dedicated and exits after `f`.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc != 0 {
        return Err(RuntimeError::io(
            format!("could not enter {}", path.display()),
            std::io::Error::last_os_error(),
        ));
    }
    f()
}
