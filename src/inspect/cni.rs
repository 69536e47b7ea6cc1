//! CNI configuration as libcni (and containerd's go-cni) reads it: the files
//! with extension `.conf`, `.conflist` or `.json`, sorted bytewise, the first
//! one that parses is the network every pod on the node gets.

use crate::model::host::{CniFile, CniInfo, CniIpam, CniPlugin};
use serde_json::{Map, Value};

/// The extensions libcni's `ConfFiles` is asked for by containerd and CRI-O.
pub const EXTENSIONS: [&str; 3] = ["conf", "conflist", "json"];

/// Whether libcni would look at a file of this name.
pub fn is_config_name(name: &str) -> bool {
    std::path::Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| EXTENSIONS.contains(&e))
}

/// Parse one config file as libcni would. `name` decides `.conflist` vs
/// `.conf`/`.json`; a file libcni rejects carries `error: invalid: why`.
pub fn parse_file(name: &str, text: &str) -> CniFile {
    let mut f = CniFile {
        file: name.to_string(),
        ..Default::default()
    };
    let v: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            f.error = Some(format!("invalid: not JSON ({e})"));
            return f;
        }
    };
    let Some(obj) = v.as_object() else {
        f.error = Some("invalid: the file is JSON but not an object".into());
        return f;
    };
    f.name = obj.get("name").and_then(Value::as_str).map(str::to_string);
    f.cni_version = obj
        .get("cniVersion")
        .and_then(Value::as_str)
        .map(str::to_string);
    let is_list = name.ends_with(".conflist");
    if is_list {
        if !obj.contains_key("name") {
            f.error = Some("invalid: error parsing configuration list: no name".into());
            return f;
        }
        if f.name.is_none() {
            f.error = Some("invalid: error parsing configuration list: invalid name type".into());
            return f;
        }
        let Some(raw) = obj.get("plugins") else {
            f.error = Some("invalid: error parsing configuration list: no 'plugins' key".into());
            return f;
        };
        let Some(list) = raw.as_array() else {
            f.error =
                Some("invalid: error parsing configuration list: invalid 'plugins' type".into());
            return f;
        };
        if list.is_empty() {
            f.error = Some("invalid: error parsing configuration list: no plugins in list".into());
            return f;
        }
        for (i, p) in list.iter().enumerate() {
            match p.as_object().map(plugin) {
                Some(Ok(p)) => f.plugins.push(p),
                Some(Err(why)) => {
                    f.error = Some(format!("invalid: plugin {i}: {why}"));
                    return f;
                }
                None => {
                    f.error = Some(format!("invalid: plugin {i} is not an object"));
                    return f;
                }
            }
        }
    } else {
        match plugin(obj) {
            Ok(p) => f.plugins.push(p),
            Err(why) => {
                let hint = if obj.contains_key("plugins") {
                    " (this is a plugin list: libcni only reads lists from .conflist files; rename it)"
                } else {
                    ""
                };
                f.error = Some(format!("invalid: {why}{hint}"));
            }
        }
    }
    f
}

fn plugin(obj: &Map<String, Value>) -> Result<CniPlugin, String> {
    let plugin_type = match obj.get("type") {
        Some(Value::String(t)) if !t.is_empty() => t.clone(),
        _ => return Err("error parsing configuration: missing 'type'".into()),
    };
    let mtu = obj.get("mtu").and_then(mtu_of);
    let delegate = if plugin_type == "flannel" {
        // flannel's CNI plugin delegates to bridge unless told otherwise and
        // always gives the delegate host-local IPAM with the node's subnet.
        let d = obj.get("delegate").and_then(Value::as_object);
        let mut dp = CniPlugin {
            plugin_type: d
                .and_then(|d| d.get("type"))
                .and_then(Value::as_str)
                .unwrap_or("bridge")
                .to_string(),
            ..Default::default()
        };
        if let Some(d) = d {
            dp.mtu = d.get("mtu").and_then(mtu_of);
            dp.bridge = d.get("bridge").and_then(Value::as_str).map(str::to_string);
            dp.hairpin_mode = d.get("hairpinMode").and_then(Value::as_bool);
        }
        if dp.plugin_type == "bridge" && dp.bridge.is_none() {
            dp.bridge = Some("cni0".into());
        }
        dp.ipam = Some(CniIpam {
            ipam_type: Some("host-local".into()),
            subnets: vec!["flannel subnet (/run/flannel/subnet.env)".into()],
        });
        Some(Box::new(dp))
    } else {
        None
    };
    let bridge = obj
        .get("bridge")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| (plugin_type == "bridge").then(|| "cni0".to_string()));
    Ok(CniPlugin {
        plugin_type,
        mtu,
        bridge,
        hairpin_mode: obj.get("hairpinMode").and_then(Value::as_bool),
        ipam: obj.get("ipam").and_then(Value::as_object).map(ipam),
        delegate,
    })
}

/// An MTU as a number, or as the string AWS VPC CNI's template leaves
/// (`"mtu": "9001"`); 0 (Calico's "detect it") is no MTU.
fn mtu_of(v: &Value) -> Option<u32> {
    let n = v.as_u64().or_else(|| v.as_str()?.trim().parse().ok())?;
    u32::try_from(n).ok().filter(|m| *m > 0)
}

fn ipam(obj: &Map<String, Value>) -> CniIpam {
    let mut subnets = Vec::new();
    let mut push = |v: &Value| {
        if let Some(s) = v.as_str() {
            if !subnets.iter().any(|x| x == s) {
                subnets.push(s.to_string());
            }
        }
    };
    for key in ["subnet", "subnet6"] {
        if let Some(v) = obj.get(key) {
            push(v);
        }
    }
    // host-local `ranges: [[{subnet}]]`, whereabouts/calico `ranges: [{subnet}]`.
    if let Some(ranges) = obj.get("ranges").and_then(Value::as_array) {
        for r in ranges {
            let set: Vec<&Value> = match r {
                Value::Array(a) => a.iter().collect(),
                other => vec![other],
            };
            for s in set {
                if let Some(v) = s.get("subnet") {
                    push(v);
                }
            }
        }
    }
    // Calico: `ipv4_pools: ["198.18.0.0/17"]`, `ipv6_pools`.
    for key in ["ipv4_pools", "ipv6_pools"] {
        if let Some(a) = obj.get(key).and_then(Value::as_array) {
            a.iter().for_each(&mut push);
        }
    }
    if let Some(v) = obj.get("range") {
        push(v);
    }
    CniIpam {
        ipam_type: obj.get("type").and_then(Value::as_str).map(str::to_string),
        subnets,
    }
}

/// Plugin binaries a config needs: every plugin type, IPAM type and delegate.
pub fn required_binaries(f: &CniFile) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |s: &str| {
        if !s.is_empty() && !out.iter().any(|o| o == s) {
            out.push(s.to_string());
        }
    };
    fn walk(p: &CniPlugin, add: &mut dyn FnMut(&str)) {
        add(&p.plugin_type);
        if let Some(t) = p.ipam.as_ref().and_then(|i| i.ipam_type.as_deref()) {
            add(t);
        }
        if let Some(d) = &p.delegate {
            walk(d, add);
        }
    }
    for p in &f.plugins {
        walk(p, &mut add);
    }
    out
}

/// Build the CNI section from the files read (name, contents or read error)
/// and the bin dir listing. Pure: the collector does the I/O.
pub fn analyse(
    conf_dir: &str,
    bin_dir: &str,
    files: Vec<(String, Result<String, String>)>,
    binaries: Result<Vec<String>, String>,
) -> CniInfo {
    let mut files: Vec<(String, Result<String, String>)> = files
        .into_iter()
        .filter(|(n, _)| is_config_name(n))
        .collect();
    // go-cni: sort.Strings (bytewise), then the first that loads.
    files.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut info = CniInfo {
        conf_dir: conf_dir.to_string(),
        bin_dir: bin_dir.to_string(),
        ..Default::default()
    };
    for (name, content) in files {
        let f = match content {
            Ok(text) => parse_file(&name, &text),
            Err(why) => CniFile {
                file: name,
                error: Some(format!("unreadable: {why}")),
                ..Default::default()
            },
        };
        info.files.push(f);
    }
    info.selected = info
        .files
        .iter()
        .find(|f| f.is_valid())
        .map(|f| f.file.clone());
    match binaries {
        Ok(mut b) => {
            b.sort();
            b.dedup();
            info.binaries = b;
            if let Some(sel) = info.selected_file() {
                info.missing_plugins = required_binaries(sel)
                    .into_iter()
                    .filter(|p| !info.binaries.iter().any(|b| b == p))
                    .collect();
            }
        }
        Err(why) => info.bin_dir_error = Some(why),
    }
    info
}
