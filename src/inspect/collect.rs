//! The I/O half of host inspection: read files under the host root, run the
//! firewall and `ip` tools, read /proc/sys of our own network namespace, and
//! hand everything to the pure parsers. Every failure becomes a "not
//! available: why" entry; nothing here panics or waits without a bound.
//!
//! Where things come from: files (CNI config and binaries) from the host
//! root; network state (sysctls, interfaces, routes, firewall) from the
//! agent's own network namespace, which is the host's in a hostNetwork probe
//! pod and the node's namespace in the lab.

use super::{cni, iptables, ipvs, links, nft, query, runtime_config, slim};
use crate::model::host::{CniInfo, Firewall, HostReport, IptablesBackend, NftRuleset};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What to inspect and where.
#[derive(Debug, Clone)]
pub struct Options {
    pub host_root: PathBuf,
    /// As seen on the node (`/etc/cni/net.d`), joined to the host root.
    /// None: the container runtime's `conf_dir`/`network_dir`, else
    /// /etc/cni/net.d.
    pub cni_conf_dir: Option<PathBuf>,
    /// None: the runtime's own setting (containerd's `bin_dir`/`bin_dirs`,
    /// CRI-O's `plugin_dirs`), else the known places that exist.
    pub cni_bin_dir: Option<PathBuf>,
    pub node_name: String,
    /// Where /proc/sys is (tests point it at a fake tree).
    pub proc_sys: PathBuf,
    /// Bound for each external command.
    pub command_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            host_root: PathBuf::from("/"),
            cni_conf_dir: None,
            cni_bin_dir: None,
            node_name: String::new(),
            proc_sys: PathBuf::from("/proc/sys"),
            command_timeout: Duration::from_secs(15),
        }
    }
}

/// `root` + an absolute path on the node.
pub fn under_root(root: &Path, p: &Path) -> PathBuf {
    let rel = p.strip_prefix("/").unwrap_or(p);
    root.join(rel)
}

/// Inspect everything; never fails, missing parts are in `unavailable`.
pub fn inspect(opts: &Options) -> HostReport {
    let mut r = HostReport {
        node: opts.node_name.clone(),
        ..Default::default()
    };
    r.cni = Some(read_cni(opts));
    if let Some(c) = &r.cni {
        if let Some(e) = &c.conf_dir_error {
            r.unavailable.push(format!("cni config: {e}"));
        }
        if let Some(e) = &c.bin_dir_error {
            r.unavailable.push(format!("cni binaries: {e}"));
        }
    }
    let fw = read_firewall(opts);
    for b in &fw.iptables {
        if let Some(e) = &b.error {
            r.unavailable
                .push(format!("iptables ({} backend): {e}", b.backend));
        }
    }
    if let Some(e) = fw.nftables.as_ref().and_then(|n| n.error.as_ref()) {
        r.unavailable.push(format!("nftables: {e}"));
    }
    r.firewall = Some(fw);

    let values = read_sysctls(&opts.proc_sys);
    if values.contains_key("net.ipv4.ip_forward") {
        r.sysctls = Some(links::sysctls_from(&values));
    } else {
        r.unavailable.push(format!(
            "sysctls: not available: cannot read {}",
            opts.proc_sys.join("net/ipv4/ip_forward").display()
        ));
    }
    match links::conntrack_from(&values) {
        Some(c) => r.conntrack = Some(c),
        None => r.unavailable.push(format!(
            "conntrack: not available: no {} (nf_conntrack is not loaded, or /proc/sys is not readable)",
            opts.proc_sys.join("net/netfilter/nf_conntrack_count").display()
        )),
    }
    read_interfaces(opts, &mut r);
    if r.interfaces.iter().any(|i| i.name == "kube-ipvs0") {
        let mut ipvs = read_ipvs(opts);
        slim::slim_ipvs(&mut ipvs);
        if let Some(e) = &ipvs.error {
            r.unavailable.push(format!("ipvs: {e}"));
        }
        r.ipvs = Some(ipvs);
    }
    r.overview = query::summarize(&r);
    r
}

// ------------------------------------------------------------------ CNI

/// The CNI dirs to read and where each came from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CniDirs {
    pub conf_dir: PathBuf,
    pub conf_source: Option<String>,
    /// As seen on the node, in search order.
    pub bin_dirs: Vec<PathBuf>,
    pub bin_source: String,
    /// Runtime configs that could not be read or parsed.
    pub notes: Vec<String>,
}

/// The runtime's own CNI setting: k3s's/RKE2's/plain containerd's
/// config.toml, or CRI-O's crio.conf and drop-ins (CRI-O first when only
/// its socket exists).
fn runtime_setting(root: &Path) -> (Option<runtime_config::CniSetting>, Vec<String>) {
    let mut notes = Vec::new();
    let exists = |p: &str| under_root(root, Path::new(p)).exists();
    let crio_only = exists("/run/crio/crio.sock") && !exists("/run/containerd/containerd.sock");
    let containerd = |notes: &mut Vec<String>| {
        for path in runtime_config::CONTAINERD_CONFIGS {
            match read_limited(&under_root(root, Path::new(path)), 1 << 20) {
                Ok(text) => {
                    let files = containerd_files(root, path, text, notes);
                    let (s, errors) = runtime_config::containerd_merged(&files);
                    notes.extend(errors);
                    if s.is_some() {
                        return s;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => notes.push(format!("cannot read {path}: {}", io_why(&e))),
            }
        }
        None
    };
    let crio = |notes: &mut Vec<String>| {
        let mut files = Vec::new();
        if let Ok(t) = read_limited(
            &under_root(root, Path::new(runtime_config::CRIO_CONFIG)),
            1 << 20,
        ) {
            files.push((runtime_config::CRIO_CONFIG.to_string(), t));
        }
        let dropins = Path::new(runtime_config::CRIO_DROPINS);
        if let Ok(rd) = std::fs::read_dir(under_root(root, dropins)) {
            let mut names: Vec<String> = rd
                .flatten()
                .filter(|e| e.path().is_file())
                .map(|e| e.file_name().to_string_lossy().to_string())
                .collect();
            names.sort();
            for n in names {
                let p = dropins.join(&n);
                if let Ok(t) = read_limited(&under_root(root, &p), 1 << 20) {
                    files.push((p.display().to_string(), t));
                }
            }
        }
        let (s, errors) = runtime_config::crio(&files);
        notes.extend(errors);
        s
    };
    let s = if crio_only {
        crio(&mut notes).or_else(|| containerd(&mut notes))
    } else {
        containerd(&mut notes).or_else(|| crio(&mut notes))
    };
    (s, notes)
}

/// Most files one containerd config may pull in through `imports`.
const MAX_CONTAINERD_IMPORTS: usize = 32;

/// A containerd config and the files it imports, in the order containerd
/// loads them: the main file, then each import pattern's matches in name
/// order (imports of imports after their importer), each file once.
fn containerd_files(
    root: &Path,
    path: &str,
    text: String,
    notes: &mut Vec<String>,
) -> Vec<(String, String)> {
    let mut files = vec![(path.to_string(), text)];
    let mut next = 0;
    while next < files.len() {
        let (from, text) = &files[next];
        let patterns = runtime_config::containerd_imports(text, from);
        next += 1;
        let mut found = Vec::new();
        for pattern in patterns {
            let rooted = format!(
                "{}/{}",
                glob::Pattern::escape(&root.display().to_string()).trim_end_matches('/'),
                pattern.trim_start_matches('/')
            );
            let Ok(paths) = glob::glob(&rooted) else {
                notes.push(format!(
                    "containerd import '{pattern}' in {from} is not a valid pattern"
                ));
                continue;
            };
            let mut matched: Vec<PathBuf> = paths.flatten().filter(|p| p.is_file()).collect();
            matched.sort();
            for p in matched {
                let on_node = Path::new("/").join(p.strip_prefix(root).unwrap_or(&p));
                found.push(on_node.display().to_string());
            }
        }
        for on_node in found {
            if files.iter().any(|(p, _)| *p == on_node) {
                continue;
            }
            if files.len() > MAX_CONTAINERD_IMPORTS {
                notes.push(format!(
                    "containerd imports more than {MAX_CONTAINERD_IMPORTS} files from {path}: the rest were not read"
                ));
                return files;
            }
            match read_limited(&under_root(root, Path::new(&on_node)), 1 << 20) {
                Ok(t) => files.push((on_node, t)),
                Err(e) => notes.push(format!("cannot read {on_node}: {}", io_why(&e))),
            }
        }
    }
    files
}

/// Known plugin dirs that exist on the node, k3s's `data/<hash>/bin` included.
fn known_bin_dirs(root: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = runtime_config::KNOWN_BIN_DIRS
        .iter()
        .map(PathBuf::from)
        .collect();
    let k3s = Path::new("/var/lib/rancher/k3s/data");
    if let Ok(rd) = std::fs::read_dir(under_root(root, k3s)) {
        let mut hashes: Vec<PathBuf> = rd
            .flatten()
            .map(|e| k3s.join(e.file_name()).join("bin"))
            .collect();
        hashes.sort();
        out.extend(hashes);
    }
    let mut seen = std::collections::BTreeSet::new();
    out.retain(|d| {
        let real = std::fs::canonicalize(under_root(root, d));
        real.as_ref().is_ok_and(|p| p.is_dir()) && seen.insert(real.ok())
    });
    out
}

/// Which dirs to read: the flags, else the runtime's setting, else the
/// known places (/etc/cni/net.d for configs).
pub fn cni_dirs(opts: &Options) -> CniDirs {
    let root = &opts.host_root;
    let (setting, notes) = if opts.cni_conf_dir.is_some() && opts.cni_bin_dir.is_some() {
        (None, Vec::new())
    } else {
        runtime_setting(root)
    };
    let (conf_dir, conf_source) = match (&opts.cni_conf_dir, setting.as_ref()) {
        (Some(d), _) => (d.clone(), Some("--cni-conf-dir".to_string())),
        (
            None,
            Some(runtime_config::CniSetting {
                conf_dir: Some(d),
                conf_source,
                ..
            }),
        ) => (PathBuf::from(d), conf_source.clone()),
        (None, _) => (PathBuf::from("/etc/cni/net.d"), None),
    };
    let (bin_dirs, bin_source) = match (
        &opts.cni_bin_dir,
        setting.filter(|s| !s.bin_dirs.is_empty()),
    ) {
        (Some(d), _) => (vec![d.clone()], "--cni-bin-dir".to_string()),
        (None, Some(s)) => (s.bin_dirs.iter().map(PathBuf::from).collect(), s.source),
        (None, None) => {
            let found = known_bin_dirs(root);
            let why = "no plugin dir set in a runtime config (containerd config.toml, CRI-O crio.conf): every known place that exists";
            if found.is_empty() {
                let all: Vec<PathBuf> = runtime_config::KNOWN_BIN_DIRS
                    .iter()
                    .map(PathBuf::from)
                    .collect();
                (all, format!("{why}: none does"))
            } else {
                (found, why.to_string())
            }
        }
    };
    CniDirs {
        conf_dir,
        conf_source,
        bin_dirs,
        bin_source,
        notes,
    }
}

/// The CNI section: the config dir and the plugin dirs [`cni_dirs`] picks.
pub fn read_cni(opts: &Options) -> CniInfo {
    let dirs = cni_dirs(opts);
    let conf = under_root(&opts.host_root, &dirs.conf_dir);
    let conf_name = dirs.conf_dir.display().to_string();
    let mut conf_err = None;
    let files = match std::fs::read_dir(&conf) {
        Ok(rd) => rd
            .flatten()
            .filter(|e| e.file_type().map(|t| !t.is_dir()).unwrap_or(false))
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().to_string();
                if !cni::is_config_name(&name) {
                    return None;
                }
                let content = read_limited(&e.path(), 1 << 20).map_err(|e| e.to_string());
                Some((name, content))
            })
            .collect(),
        Err(e) => {
            conf_err = Some(format!(
                "not available: cannot read {} ({})",
                conf.display(),
                io_why(&e)
            ));
            Vec::new()
        }
    };
    // libcni looks for each plugin in the dirs in order: a plugin in any of
    // them is found; a dir that does not exist is skipped, as libcni does.
    let mut read = Vec::new();
    let mut names = Vec::new();
    let mut errors = Vec::new();
    for d in &dirs.bin_dirs {
        let p = under_root(&opts.host_root, d);
        match std::fs::read_dir(&p) {
            Ok(rd) => {
                read.push(d.display().to_string());
                names.extend(
                    rd.flatten()
                        .filter(|e| is_executable_on_host(&opts.host_root, &e.path()))
                        .map(|e| e.file_name().to_string_lossy().to_string()),
                );
            }
            Err(e) => errors.push(format!("{} ({})", p.display(), io_why(&e))),
        }
    }
    let binaries = if read.is_empty() {
        Err(format!(
            "not available: cannot read {} [{}]",
            errors.join(", "),
            dirs.bin_source
        ))
    } else {
        Ok(names)
    };
    let search: Vec<String> = dirs
        .bin_dirs
        .iter()
        .map(|d| d.display().to_string())
        .collect();
    let bin_name = if read.is_empty() {
        search.join(":")
    } else {
        read.join(":")
    };
    let mut info = cni::analyse(&conf_name, &bin_name, files, binaries);
    info.conf_dir_error = conf_err;
    info.conf_dir_source = dirs.conf_source;
    info.bin_dirs = read;
    info.bin_dir_source = Some(dirs.bin_source);
    if !dirs.notes.is_empty() && info.bin_dir_error.is_none() {
        // A runtime config we could not read: the dirs may be a guess.
        info.bin_dir_source = info
            .bin_dir_source
            .map(|s| format!("{s} ({})", dirs.notes.join("; ")));
    }
    info
}

fn io_why(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such directory".into(),
        std::io::ErrorKind::PermissionDenied => {
            "permission denied: run the agent as root or mount the host read-only into it".into()
        }
        _ => e.to_string(),
    }
}

fn read_limited(p: &Path, max: u64) -> std::io::Result<String> {
    let mut s = String::new();
    std::fs::File::open(p)?.take(max).read_to_string(&mut s)?;
    Ok(s)
}

/// An executable file under the host root, following a symlink as the node
/// would: an absolute target (`portmap -> /usr/lib/cni/portmap`) is under
/// the host root, not in the agent's own filesystem.
fn is_executable_on_host(root: &Path, p: &Path) -> bool {
    let mut p = p.to_path_buf();
    for _ in 0..8 {
        match std::fs::read_link(&p) {
            Ok(target) if target.is_absolute() => p = under_root(root, &target),
            Ok(target) => p = p.parent().map_or(target.clone(), |d| d.join(&target)),
            Err(_) => return is_executable(&p),
        }
    }
    false
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

// ------------------------------------------------------------ commands

/// How a tool was found: on our PATH, or the host's own run under chroot.
#[derive(Debug, Clone)]
pub enum Tool {
    Path(PathBuf),
    HostChroot { root: PathBuf, path: PathBuf },
}

impl Tool {
    pub fn describe(&self) -> String {
        match self {
            Tool::Path(p) => p.display().to_string(),
            Tool::HostChroot { root, path } => {
                format!("chroot {} {}", root.display(), path.display())
            }
        }
    }
}

pub fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

/// The host's own copy under the host root, as a path inside the host.
pub fn find_on_host(root: &Path, name: &str) -> Option<PathBuf> {
    [
        "usr/sbin",
        "sbin",
        "usr/bin",
        "bin",
        "usr/local/sbin",
        "usr/local/bin",
    ]
    .iter()
    .map(|d| Path::new("/").join(d).join(name))
    .find(|p| is_executable(&under_root(root, p)))
}

pub fn find_tool(root: &Path, name: &str) -> Result<Tool, String> {
    if let Some(p) = find_in_path(name) {
        return Ok(Tool::Path(p));
    }
    if root != Path::new("/") {
        if let Some(p) = find_on_host(root, name) {
            return Ok(Tool::HostChroot {
                root: root.to_path_buf(),
                path: p,
            });
        }
    }
    Err(format!(
        "not available: no {name} on PATH{}",
        if root != Path::new("/") {
            format!(" nor under the host root {}", root.display())
        } else {
            String::new()
        }
    ))
}

/// Run a tool with a deadline; stdout on success, a reason otherwise.
pub fn run(tool: &Tool, args: &[&str], timeout: Duration) -> Result<String, String> {
    let mut cmd = match tool {
        Tool::Path(p) => Command::new(p),
        Tool::HostChroot { root, path } => {
            let mut c = Command::new(path);
            let root = std::ffi::CString::new(root.as_os_str().as_encoded_bytes())
                .map_err(|_| "host root path contains a NUL byte".to_string())?;
            use std::os::unix::process::CommandExt;
            // SAFETY: chroot and chdir are async-signal-safe; nothing else
            // runs between fork and exec.
            unsafe {
                c.pre_exec(move || {
                    if libc::chroot(root.as_ptr()) != 0 || libc::chdir(c"/".as_ptr()) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            c
        }
    };
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("LC_ALL", "C");
    let what = format!("{} {}", tool.describe(), args.join(" "));
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("not available: cannot run {what}: {e}"))?;
    let mut out = child.stdout.take();
    let mut err = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        if let Some(o) = out.as_mut() {
            let _ = o.take(256 << 20).read_to_end(&mut s);
        }
        s
    });
    let ereader = std::thread::spawn(move || {
        let mut s = Vec::new();
        if let Some(e) = err.as_mut() {
            let _ = e.take(64 << 10).read_to_end(&mut s);
        }
        s
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if started.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "not available: {what} did not finish within {timeout:?}"
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(format!("not available: waiting for {what}: {e}")),
        }
    };
    let stdout = reader.join().unwrap_or_default();
    let stderr = ereader.join().unwrap_or_default();
    if !status.success() {
        let first = String::from_utf8_lossy(&stderr)
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .to_string();
        let hint = if first.contains("ermission denied") || first.contains("you must be root") {
            " (the agent needs root / CAP_NET_ADMIN)"
        } else {
            ""
        };
        return Err(format!(
            "not available: {what} failed ({status}): {first}{hint}"
        ));
    }
    Ok(String::from_utf8_lossy(&stdout).into_owned())
}

// ------------------------------------------------------------ firewall

fn read_firewall(opts: &Options) -> Firewall {
    let mut fw = Firewall::default();
    for (backend, bin) in [
        ("legacy", "iptables-legacy-save"),
        ("nft", "iptables-nft-save"),
    ] {
        let b = read_backend(opts, backend, bin, &mut fw.notes);
        fw.iptables.push(b);
    }
    // IPv6 has its own tables: a dual-stack node can drop IPv6 alone (Docker
    // sets ip6tables' FORWARD policy to DROP too).
    for (backend, bin) in [
        ("legacy", "ip6tables-legacy-save"),
        ("nft", "ip6tables-nft-save"),
    ] {
        let b = read_backend(opts, backend, bin, &mut fw.notes);
        fw.ip6tables.push(b);
    }
    let owned = slim::read_by_iptables(&fw);
    fw.nftables = Some(read_nftables(opts, &owned, &mut fw.notes));
    slim::slim_firewall(&mut fw);
    fw
}

/// One iptables backend's rules through `bin` (`iptables-nft-save`, …), or
/// why they could not be read; caveats about the tool go to `notes`.
fn read_backend(
    opts: &Options,
    backend: &str,
    bin: &str,
    notes: &mut Vec<String>,
) -> IptablesBackend {
    let mut b = IptablesBackend {
        backend: backend.into(),
        ..Default::default()
    };
    match find_tool(&opts.host_root, bin) {
        Err(e) => b.error = Some(e),
        Ok(tool) => {
            b.binary = Some(tool.describe());
            match run(&tool, &[], opts.command_timeout) {
                Err(e) => b.error = Some(e),
                Ok(text) => {
                    let saved = iptables::parse(&text);
                    b.rule_count = saved.rule_count();
                    b.version = saved.version.clone();
                    for n in &saved.notes {
                        if n.contains("incompatible") {
                            notes.push(format!(
                                    "{bin}: \"{n}\": the host's iptables is newer than this one, rules may be misreported"
                                ));
                        } else if n.contains("Warning") {
                            notes.push(format!("{bin}: {n}"));
                        }
                    }
                    b.tables = saved.tables;
                    if let Some(note) = version_note(opts, &tool, bin, b.version.as_deref()) {
                        notes.push(note);
                    }
                }
            }
        }
    }
    b
}

/// nftables, or why it could not be read: `nft -j list tables`, then
/// `nft -j list table FAMILY NAME` for each table iptables-nft-save did not
/// already read (`owned`, [`slim::read_by_iptables`]); those are listed by
/// name only. Translating iptables-nft's own tables to JSON again was most
/// of the cost of host inspection (640 KB of JSON per lab node).
fn read_nftables(
    opts: &Options,
    owned: &[(String, String)],
    notes: &mut Vec<String>,
) -> NftRuleset {
    let tool = match find_tool(&opts.host_root, "nft") {
        Err(e) => {
            return NftRuleset {
                error: Some(e),
                ..Default::default()
            };
        }
        Ok(t) => t,
    };
    let failed = |e: String| NftRuleset {
        binary: Some(tool.describe()),
        error: Some(e),
        ..Default::default()
    };
    let listed = match run(&tool, &["-j", "list", "tables"], opts.command_timeout) {
        Err(e) => return failed(e),
        Ok(text) if text.trim().is_empty() => NftRuleset::default(),
        Ok(text) => match nft::parse(&text) {
            Ok(rs) => rs,
            Err(e) => return failed(format!("not available: {e}")),
        },
    };
    let mut rs = NftRuleset {
        binary: Some(tool.describe()),
        version: listed.version,
        ..Default::default()
    };
    for t in listed.tables {
        if owned.iter().any(|(f, n)| *f == t.family && *n == t.name) {
            rs.tables.push(slim::listed_only(
                &t.family,
                &t.name,
                slim::reader_of(&t.family),
            ));
            continue;
        }
        let args = ["-j", "list", "table", t.family.as_str(), t.name.as_str()];
        let one = run(&tool, &args, opts.command_timeout)
            .and_then(|text| nft::parse(&text).map_err(|e| format!("not available: {e}")));
        match one {
            Ok(mut part) => rs.tables.append(&mut part.tables),
            // Deleted between the two commands: as if listed a moment later.
            Err(e) if e.contains("No such file") => {}
            // Unreadable: its name, and why its chains are missing.
            Err(e) => {
                notes.push(format!("nft table {} {}: {e}", t.family, t.name));
                rs.tables.push(t);
            }
        }
    }
    rs
}

/// When we used our own tool but the host has its own, compare versions:
/// an older iptables-nft misreads rules a newer one wrote.
fn version_note(opts: &Options, used: &Tool, bin: &str, ours: Option<&str>) -> Option<String> {
    if opts.host_root == Path::new("/") || matches!(used, Tool::HostChroot { .. }) {
        return None;
    }
    let host = find_on_host(&opts.host_root, bin)?;
    let tool = Tool::HostChroot {
        root: opts.host_root.clone(),
        path: host,
    };
    let v = run(&tool, &["--version"], Duration::from_secs(5)).ok()?;
    let host_v = v
        .split_whitespace()
        .find(|w| w.starts_with('v'))?
        .to_string();
    let ours_v = ours?.split_whitespace().next()?.to_string();
    (host_v != ours_v).then(|| {
        format!("{bin}: this agent's is {ours_v}, the host's is {host_v}: rules written by a newer iptables may be misreported")
    })
}

// ------------------------------------------------------------ sysctls

/// Read the sysctls that matter into `net.…` keys.
pub fn read_sysctls(proc_sys: &Path) -> BTreeMap<String, String> {
    let mut keys: Vec<String> = [
        "net.ipv4.ip_forward",
        "net.ipv6.conf.all.forwarding",
        "net.bridge.bridge-nf-call-iptables",
        "net.bridge.bridge-nf-call-ip6tables",
        "net.netfilter.nf_conntrack_count",
        "net.netfilter.nf_conntrack_max",
    ]
    .map(str::to_string)
    .to_vec();
    if let Ok(rd) = std::fs::read_dir(proc_sys.join("net/ipv4/conf")) {
        let mut calico = false;
        for e in rd.flatten() {
            let iface = e.file_name().to_string_lossy().into_owned();
            keys.push(format!("net.ipv4.conf.{iface}.rp_filter"));
            // Calico's pod interfaces answer their pod's ARP for its gateway
            // (169.254.1.1) by proxy ARP.
            if crate::inspect::calico::is_workload_interface(&iface) {
                keys.push(format!("net.ipv4.conf.{iface}.proxy_arp"));
                calico = true;
            }
        }
        if calico {
            keys.push("net.ipv4.conf.all.proxy_arp".into());
        }
    }
    let mut out = BTreeMap::new();
    for k in keys {
        // Interface names may contain dots: only the fixed parts map to '/'.
        let per_iface = k.strip_prefix("net.ipv4.conf.").and_then(|r| {
            ["rp_filter", "proxy_arp"]
                .iter()
                .find_map(|leaf| Some((r.strip_suffix(&format!(".{leaf}"))?, *leaf)))
        });
        let path = match per_iface {
            Some((iface, leaf)) => proc_sys.join("net/ipv4/conf").join(iface).join(leaf),
            None => proc_sys.join(k.replace('.', "/")),
        };
        if let Ok(v) = read_limited(&path, 4096) {
            out.insert(k, v.trim().to_string());
        }
    }
    out
}

// ---------------------------------------------------------- IPVS

/// kube-proxy's IPVS table, read only on a node with kube-ipvs0: ours or
/// the host's `ipvsadm -Ln` (numeric, so no DNS lookups).
fn read_ipvs(opts: &Options) -> crate::model::host::Ipvs {
    let out =
        find_tool(&opts.host_root, "ipvsadm").and_then(|t| run(&t, &["-Ln"], opts.command_timeout));
    match out {
        Ok(text) => ipvs::parse(&text),
        Err(e) => crate::model::host::Ipvs {
            error: Some(e),
            ..Default::default()
        },
    }
}

// ---------------------------------------------------------- interfaces

fn read_interfaces(opts: &Options, r: &mut HostReport) {
    let t = opts.command_timeout;
    // Ours, else the host's own through the host root (a minimal agent image).
    let ip = match find_tool(&opts.host_root, "ip") {
        Ok(t) => t,
        Err(why) => {
            r.unavailable.push(format!(
                "interfaces: {why}; read /sys/class/net instead (no addresses, routes or tunnel details)"
            ));
            r.interfaces = sysfs_interfaces(Path::new("/sys/class/net"));
            return;
        }
    };
    let links_json = run(&ip, &["-j", "-d", "link", "show"], t);
    let addr_json = run(&ip, &["-j", "addr", "show"], t);
    match &links_json {
        Ok(l) => match links::parse_links(l, addr_json.as_deref().ok()) {
            Ok(v) => r.interfaces = v,
            Err(e) => r.unavailable.push(format!("interfaces: {e}")),
        },
        Err(e) => r.unavailable.push(format!("interfaces: {e}")),
    }
    if let Err(e) = &addr_json {
        r.unavailable.push(format!("addresses: {e}"));
    }
    // Hairpin from sysfs where iproute2 did not say.
    for i in r
        .interfaces
        .iter_mut()
        .filter(|i| i.master.is_some() && i.hairpin.is_none())
    {
        let p = Path::new("/sys/class/net")
            .join(&i.name)
            .join("brport/hairpin_mode");
        if let Ok(v) = read_limited(&p, 16) {
            i.hairpin = Some(v.trim() != "0");
        }
    }
    for fam in [
        &["-j", "route", "show"][..],
        &["-j", "-6", "route", "show"][..],
    ] {
        match run(&ip, fam, t).and_then(|j| links::parse_routes(&j)) {
            Ok(mut v) => r.routes.append(&mut v),
            Err(e) => r.unavailable.push(format!("routes: {e}")),
        }
    }
}

/// Interfaces from /sys/class/net when `ip` is missing.
pub fn sysfs_interfaces(dir: &Path) -> Vec<crate::model::host::Interface> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<_> = rd
        .flatten()
        .map(|e| {
            let p = e.path();
            let read = |f: &str| {
                read_limited(&p.join(f), 4096)
                    .ok()
                    .map(|s| s.trim().to_string())
            };
            let kind = read("uevent").and_then(|u| {
                u.lines()
                    .find_map(|l| l.strip_prefix("DEVTYPE=").map(str::to_string))
            });
            crate::model::host::Interface {
                name: e.file_name().to_string_lossy().to_string(),
                kind,
                mtu: read("mtu").and_then(|m| m.parse().ok()),
                state: read("operstate").map(|s| s.to_uppercase()),
                master: std::fs::read_link(p.join("master"))
                    .ok()
                    .and_then(|l| l.file_name().map(|n| n.to_string_lossy().to_string())),
                hairpin: read("brport/hairpin_mode").map(|h| h != "0"),
                ..Default::default()
            }
        })
        .collect();
    v.sort_by(|a, b| a.name.cmp(&b.name));
    v
}
