//! Where the container runtime looks for CNI plugins and configs, from its
//! own config file: containerd's `config.toml` (the CRI plugin's `cni`
//! section: `bin_dir`, `bin_dirs` since containerd 2.1, `conf_dir`) and
//! CRI-O's `crio.conf` with its drop-ins (`[crio.network]`: `plugin_dirs`,
//! the older `plugin_dir`, `network_dir`). Pure: text in, settings out; the
//! collector reads the files and decides what to fall back to.
//!
//! libcni searches the runtime's bin dirs in order for each plugin
//! (`failed to find plugin "x" in path [/usr/lib/cni]`), so those dirs, not
//! /opt/cni/bin, are where a plugin must be.

use toml::{Table, Value};

/// What one runtime config says about CNI.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CniSetting {
    /// Plugin dirs in search order, as written (trailing `/` removed).
    pub bin_dirs: Vec<String>,
    /// Where the bin dirs were read: `bin_dir in /etc/containerd/config.toml
    /// (plugins."io.containerd.grpc.v1.cri".cni)` (empty: not set).
    pub source: String,
    /// The config dir, when set.
    pub conf_dir: Option<String>,
    /// Where the config dir was read: `conf_dir in …`, `network_dir in …`.
    pub conf_source: Option<String>,
}

/// containerd's config files, in the order they are tried: k3s and RKE2 run
/// their own containerd with a generated config; plain containerd reads
/// /etc/containerd/config.toml.
pub const CONTAINERD_CONFIGS: [&str; 3] = [
    "/var/lib/rancher/k3s/agent/etc/containerd/config.toml",
    "/var/lib/rancher/rke2/agent/etc/containerd/config.toml",
    "/etc/containerd/config.toml",
];

/// CRI-O's main config; drop-ins in `crio.conf.d/` override it, in name order.
pub const CRIO_CONFIG: &str = "/etc/crio/crio.conf";
pub const CRIO_DROPINS: &str = "/etc/crio/crio.conf.d";

/// Where plugins are when no runtime setting says: upstream's default,
/// Debian's and Fedora's packages, OpenShift (Multus copies them there),
/// GKE, k3s (`data/current/bin`, newer k3s `data/cni`; older releases only
/// `data/<hash>/bin`, which the collector lists).
pub const KNOWN_BIN_DIRS: [&str; 7] = [
    "/opt/cni/bin",
    "/usr/lib/cni",
    "/usr/libexec/cni",
    "/var/lib/cni/bin",
    "/home/kubernetes/bin",
    "/var/lib/rancher/k3s/data/current/bin",
    "/var/lib/rancher/k3s/data/cni",
];

/// The CRI plugin's section names, by config version: v1 (containerd ≤1.4
/// default), v2 (1.5–1.7, and k3s), v3 (containerd 2.x).
const CRI_SECTIONS: [(&str, &str); 3] = [
    ("io.containerd.cri.v1.runtime", "version 3"),
    ("io.containerd.grpc.v1.cri", "version 2"),
    ("cri", "version 1"),
];

fn parse(text: &str, path: &str) -> Result<Table, String> {
    text.parse::<Table>()
        .map_err(|e| format!("{path} is not valid TOML: {}", first_line(&e.to_string())))
}

fn first_line(s: &str) -> &str {
    s.lines().find(|l| !l.trim().is_empty()).unwrap_or(s).trim()
}

fn dir(s: &str) -> Option<String> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let t = s.trim_end_matches('/');
    Some(if t.is_empty() { "/" } else { t }.to_string())
}

fn dirs_of(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => dir(s).into_iter().collect(),
        Some(Value::Array(a)) => {
            let mut out: Vec<String> = Vec::new();
            for d in a.iter().filter_map(Value::as_str).filter_map(dir) {
                if !out.contains(&d) {
                    out.push(d);
                }
            }
            out
        }
        _ => Vec::new(),
    }
}

/// Whether containerd's CRI plugin is switched off (Docker's own
/// containerd ships `disabled_plugins = ["cri"]`): its settings are not
/// the kubelet's then.
pub fn containerd_cri_disabled(t: &Table) -> bool {
    t.get("disabled_plugins")
        .and_then(Value::as_array)
        .is_some_and(|a| {
            a.iter().filter_map(Value::as_str).any(|p| {
                matches!(
                    p,
                    "cri" | "io.containerd.grpc.v1.cri" | "io.containerd.cri.v1.runtime"
                )
            })
        })
}

/// The CNI setting in one containerd `config.toml`. `Ok(None)`: the file
/// does not set the bin dir (containerd's built-in default applies, which
/// distributions patch: Debian's is /usr/lib/cni), or the CRI plugin is
/// disabled. `Err`: not TOML.
pub fn containerd(text: &str, path: &str) -> Result<Option<CniSetting>, String> {
    let t = parse(text, path)?;
    if containerd_cri_disabled(&t) {
        return Ok(None);
    }
    Ok(cri_cni(&t, path))
}

/// The CRI plugin's `cni` section of one parsed containerd config.
fn cri_cni(t: &Table, path: &str) -> Option<CniSetting> {
    let plugins = t.get("plugins").and_then(Value::as_table)?;
    for (section, _version) in CRI_SECTIONS {
        let Some(cni) = plugins
            .get(section)
            .and_then(Value::as_table)
            .and_then(|s| s.get("cni"))
            .and_then(Value::as_table)
        else {
            continue;
        };
        // containerd 2.1+: `bin_dirs` wins over the deprecated `bin_dir`.
        let (key, bin_dirs) = match dirs_of(cni.get("bin_dirs")) {
            d if !d.is_empty() => ("bin_dirs", d),
            _ => ("bin_dir", dirs_of(cni.get("bin_dir"))),
        };
        let conf_dir = cni.get("conf_dir").and_then(Value::as_str).and_then(dir);
        if bin_dirs.is_empty() && conf_dir.is_none() {
            continue;
        }
        let place = format!("{path} (plugins.\"{section}\".cni)");
        return Some(CniSetting {
            source: if bin_dirs.is_empty() {
                String::new()
            } else {
                format!("{key} in {place}")
            },
            bin_dirs,
            conf_source: conf_dir.as_ref().map(|_| format!("conf_dir in {place}")),
            conf_dir,
        });
    }
    None
}

/// The files a containerd config imports (`imports = [...]`, e.g. Talos's
/// `/etc/cri/conf.d/*.part` or a distribution's `/etc/containerd/conf.d/*.toml`),
/// as glob patterns made absolute against the importing file's directory,
/// as containerd resolves them. Empty when the file is not TOML.
pub fn containerd_imports(text: &str, path: &str) -> Vec<String> {
    let Ok(t) = text.parse::<Table>() else {
        return Vec::new();
    };
    let base = std::path::Path::new(path)
        .parent()
        .unwrap_or(std::path::Path::new("/"));
    t.get("imports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .map(|s| base.join(s.trim()).display().to_string())
        .collect()
}

/// containerd's CNI setting from its main config followed by the files it
/// imports, in the order containerd loads them (`(path, text)`, the main
/// config first). containerd merges each import over what came before, so
/// a key an import sets wins; `disabled_plugins` adds up, so the CRI plugin
/// is off when any file turns it off. Files that are not TOML are reported
/// and skipped (containerd itself would refuse to start on them).
pub fn containerd_merged(files: &[(String, String)]) -> (Option<CniSetting>, Vec<String>) {
    let mut merged: Option<CniSetting> = None;
    let mut errors = Vec::new();
    for (path, text) in files {
        let t = match parse(text, path) {
            Ok(t) => t,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        if containerd_cri_disabled(&t) {
            return (None, errors);
        }
        let Some(s) = cri_cni(&t, path) else {
            continue;
        };
        let m = merged.get_or_insert_with(CniSetting::default);
        if !s.bin_dirs.is_empty() {
            m.bin_dirs = s.bin_dirs;
            m.source = s.source;
        }
        if s.conf_dir.is_some() {
            m.conf_dir = s.conf_dir;
            m.conf_source = s.conf_source;
        }
    }
    (merged, errors)
}

/// The CNI setting of CRI-O from its files in the order CRI-O reads them
/// (crio.conf, then each drop-in by name): a later file overrides a key an
/// earlier one set. Files that are not TOML are reported, not fatal.
pub fn crio(files: &[(String, String)]) -> (Option<CniSetting>, Vec<String>) {
    let mut bin: Option<(Vec<String>, String)> = None;
    let mut conf: Option<(String, String)> = None;
    let mut errors = Vec::new();
    for (path, text) in files {
        let t = match parse(text, path) {
            Ok(t) => t,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let Some(net) = t
            .get("crio")
            .and_then(Value::as_table)
            .and_then(|c| c.get("network"))
            .and_then(Value::as_table)
        else {
            continue;
        };
        for key in ["plugin_dir", "plugin_dirs"] {
            let d = dirs_of(net.get(key));
            if !d.is_empty() {
                bin = Some((d, format!("{key} in {path} ([crio.network])")));
            }
        }
        if let Some(d) = net.get("network_dir").and_then(Value::as_str).and_then(dir) {
            conf = Some((d, format!("network_dir in {path} ([crio.network])")));
        }
    }
    if bin.is_none() && conf.is_none() {
        return (None, errors);
    }
    let (bin_dirs, source) = bin.unwrap_or_default();
    let (conf_dir, conf_source) = conf.unzip();
    let setting = CniSetting {
        bin_dirs,
        source,
        conf_dir,
        conf_source,
    };
    (Some(setting), errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// containerd 1.6/1.7 (`containerd config default`, version 2), as
    /// Debian and kubeadm guides leave it, with the dir changed.
    const V2: &str = r#"
disabled_plugins = []
imports = []
oom_score = 0
root = "/var/lib/containerd"
state = "/run/containerd"
version = 2

[grpc]
  address = "/run/containerd/containerd.sock"

[plugins]

  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "registry.k8s.io/pause:3.6"

    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "/etc/cni/net.d"
      conf_template = ""
      ip_pref = ""
      max_conf_num = 1

    [plugins."io.containerd.grpc.v1.cri".containerd]
      default_runtime_name = "runc"
"#;

    /// containerd 2.x (version 3): the CNI settings moved to the runtime
    /// half of the split CRI plugin; 2.1 added `bin_dirs`.
    const V3: &str = r#"
version = 3
root = '/var/lib/containerd'

[plugins]
  [plugins.'io.containerd.cri.v1.images']
    snapshotter = 'overlayfs'

  [plugins.'io.containerd.cri.v1.runtime']
    enable_selinux = false

    [plugins.'io.containerd.cri.v1.runtime'.cni]
      bin_dir = ''
      bin_dirs = ['/opt/cni/bin', '/usr/libexec/cni/']
      conf_dir = '/etc/cni/net.d'
      max_conf_num = 1
"#;

    /// k3s's generated config (containerd 1.7, version 2): plugins under the
    /// k3s data dir of the running release, configs under the agent dir.
    const K3S: &str = r#"
# File generated by k3s. DO NOT EDIT. Use config.toml.tmpl instead.
version = 2

[plugins."io.containerd.internal.v1.opt"]
  path = "/var/lib/rancher/k3s/agent/containerd"
[plugins."io.containerd.grpc.v1.cri"]
  stream_server_address = "127.0.0.1"
  stream_server_port = "10010"
  enable_selinux = false
  sandbox_image = "rancher/mirrored-pause:3.6"

[plugins."io.containerd.grpc.v1.cri".containerd]
  snapshotter = "overlayfs"
  disable_snapshot_annotations = true

[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = "/var/lib/rancher/k3s/data/9f1a4b2c7d3e/bin"
  conf_dir = "/var/lib/rancher/k3s/agent/etc/cni/net.d"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
"#;

    #[test]
    fn containerd_1_6_and_1_7_version_2_bin_dir() {
        let s = containerd(V2, "/etc/containerd/config.toml")
            .unwrap()
            .unwrap();
        assert_eq!(s.bin_dirs, vec!["/usr/lib/cni"]);
        assert_eq!(s.conf_dir.as_deref(), Some("/etc/cni/net.d"));
        assert_eq!(
            s.source,
            "bin_dir in /etc/containerd/config.toml (plugins.\"io.containerd.grpc.v1.cri\".cni)"
        );
        assert_eq!(
            s.conf_source.as_deref(),
            Some(
                "conf_dir in /etc/containerd/config.toml (plugins.\"io.containerd.grpc.v1.cri\".cni)"
            )
        );
    }

    #[test]
    fn containerd_2_version_3_bin_dirs_win_over_the_empty_bin_dir() {
        let s = containerd(V3, "/etc/containerd/config.toml")
            .unwrap()
            .unwrap();
        assert_eq!(s.bin_dirs, vec!["/opt/cni/bin", "/usr/libexec/cni"]);
        assert!(s.source.starts_with("bin_dirs in "), "{}", s.source);
        assert!(s.source.contains("io.containerd.cri.v1.runtime"));
        // 2.0's single bin_dir in the same section.
        let v30 = V3
            .replace("bin_dir = ''", "bin_dir = '/usr/lib/cni'")
            .replace("bin_dirs = ['/opt/cni/bin', '/usr/libexec/cni/']", "");
        let s = containerd(&v30, "c.toml").unwrap().unwrap();
        assert_eq!(s.bin_dirs, vec!["/usr/lib/cni"]);
    }

    #[test]
    fn k3s_generated_config_points_into_its_data_dir() {
        let s = containerd(K3S, "/var/lib/rancher/k3s/agent/etc/containerd/config.toml")
            .unwrap()
            .unwrap();
        assert_eq!(
            s.bin_dirs,
            vec!["/var/lib/rancher/k3s/data/9f1a4b2c7d3e/bin"]
        );
        assert_eq!(
            s.conf_dir.as_deref(),
            Some("/var/lib/rancher/k3s/agent/etc/cni/net.d")
        );
    }

    #[test]
    fn containerd_version_1_and_unset_and_disabled_cri() {
        let v1 = "[plugins.cri.cni]\nbin_dir = \"/opt/cni/bin/\"\n";
        let s = containerd(v1, "c.toml").unwrap().unwrap();
        assert_eq!(s.bin_dirs, vec!["/opt/cni/bin"]);
        assert!(s.source.contains("plugins.\"cri\".cni"));
        // No cni section: the built-in default, which is not ours to guess.
        let unset = "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\"]\nsandbox_image = \"x\"\n";
        assert_eq!(containerd(unset, "c.toml").unwrap(), None);
        assert_eq!(containerd("", "c.toml").unwrap(), None);
        // Docker's containerd: the CRI plugin is off, its settings are not the kubelet's.
        let docker =
            format!("disabled_plugins = [\"cri\"]\n{V2}").replace("disabled_plugins = []\n", "");
        assert_eq!(containerd(&docker, "c.toml").unwrap(), None);
        let e = containerd("version = = 2", "/etc/containerd/config.toml").unwrap_err();
        assert!(
            e.starts_with("/etc/containerd/config.toml is not valid TOML"),
            "{e}"
        );
    }

    #[test]
    fn crio_plugin_dirs_with_drop_ins_overriding() {
        let main = r#"
[crio]
root = "/var/lib/containers/storage"

[crio.runtime]
default_runtime = "crun"

[crio.network]
network_dir = "/etc/cni/net.d/"
plugin_dirs = [
	"/opt/cni/bin/",
	"/usr/libexec/cni/",
]
"#;
        // OpenShift's drop-in: Multus copies the plugins to /var/lib/cni/bin.
        let openshift = r#"
[crio.network]
plugin_dirs = ["/var/lib/cni/bin", "/usr/libexec/cni"]
"#;
        let files = vec![
            ("/etc/crio/crio.conf".to_string(), main.to_string()),
            (
                "/etc/crio/crio.conf.d/00-default".to_string(),
                openshift.to_string(),
            ),
            (
                "/etc/crio/crio.conf.d/99-broken.conf".to_string(),
                "[crio.network\n".to_string(),
            ),
        ];
        let (s, errors) = crio(&files);
        let s = s.unwrap();
        assert_eq!(s.bin_dirs, vec!["/var/lib/cni/bin", "/usr/libexec/cni"]);
        assert_eq!(s.conf_dir.as_deref(), Some("/etc/cni/net.d"));
        assert_eq!(
            s.source,
            "plugin_dirs in /etc/crio/crio.conf.d/00-default ([crio.network])"
        );
        assert_eq!(
            s.conf_source.as_deref(),
            Some("network_dir in /etc/crio/crio.conf ([crio.network])")
        );
        assert_eq!(errors.len(), 1);
        assert!(errors[0].contains("99-broken.conf"), "{errors:?}");
        // Only the main file, with the older single plugin_dir.
        let (s, _) = crio(&[(
            "/etc/crio/crio.conf".into(),
            "[crio.network]\nplugin_dir = \"/usr/libexec/cni\"\n".into(),
        )]);
        assert_eq!(s.unwrap().bin_dirs, vec!["/usr/libexec/cni"]);
        assert_eq!(crio(&[]).0, None);
    }

    #[test]
    fn containerd_imports_resolve_against_the_config_dir_and_override_it() {
        let main =
            "version = 2\nimports = [\"/etc/containerd/conf.d/*.toml\", \"cni.toml\", \"\"]\n";
        assert_eq!(
            containerd_imports(main, "/etc/containerd/config.toml"),
            vec!["/etc/containerd/conf.d/*.toml", "/etc/containerd/cni.toml"]
        );
        assert!(containerd_imports("imports = [", "/etc/containerd/config.toml").is_empty());
        // The main config sets both dirs; a drop-in moves the plugins only
        // (as Talos's /etc/cri/conf.d parts do); a broken drop-in is reported.
        let files = vec![
            ("/etc/containerd/config.toml".to_string(), V2.to_string()),
            (
                "/etc/containerd/conf.d/10-cni.toml".to_string(),
                "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".cni]\nbin_dir = \"/opt/cni/bin\"\n".to_string(),
            ),
            ("/etc/containerd/conf.d/99-x.toml".to_string(), "[plugins\n".to_string()),
        ];
        let (s, errors) = containerd_merged(&files);
        let s = s.expect("a setting");
        assert_eq!(s.bin_dirs, vec!["/opt/cni/bin"]);
        assert!(s.source.contains("conf.d/10-cni.toml"), "{}", s.source);
        assert_eq!(s.conf_dir.as_deref(), Some("/etc/cni/net.d"));
        assert!(
            s.conf_source
                .as_deref()
                .is_some_and(|c| c.contains("/etc/containerd/config.toml")),
            "{s:?}"
        );
        assert_eq!(errors.len(), 1);
        assert!(errors[0].contains("99-x.toml"), "{errors:?}");
        // A drop-in that disables CRI wins: the settings are not the kubelet's.
        let mut off = files.clone();
        off.push((
            "/etc/containerd/conf.d/zz.toml".into(),
            "disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n".into(),
        ));
        assert_eq!(containerd_merged(&off).0, None);
        // Only the main file: the same as reading it alone.
        assert_eq!(
            containerd_merged(&files[..1]).0,
            containerd(V2, "/etc/containerd/config.toml").unwrap()
        );
    }
}
