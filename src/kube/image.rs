//! The probe image as an OCI image archive, written from the running binary:
//! no Docker needed, loadable with `ctr images import` and `kind load image-archive`.
//!
//! Layout (OCI image-layout 1.0 in a tar): `oci-layout`, `index.json`,
//! `blobs/sha256/<config, manifest, layer>`. One gzip layer holds the binary at
//! /usr/local/bin/kubectl-netcheck and, when the binary is dynamically linked,
//! the shared libraries it has loaded (from /proc/self/maps) and its ELF
//! interpreter at their own paths, so the image runs without a base image.

use anyhow::{Context, Result};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

pub const MEDIA_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const MEDIA_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MEDIA_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const MEDIA_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// What went into the archive.
#[derive(Debug, Clone)]
pub struct Written {
    pub reference: String,
    pub manifest_digest: String,
    pub files: Vec<String>,
    pub statically_linked: bool,
}

fn sha256_hex(b: &[u8]) -> String {
    format!("{:x}", Sha256::digest(b))
}

/// The ELF interpreter (PT_INTERP) of a 64-bit little-endian ELF, if any.
pub fn elf_interpreter(elf: &[u8]) -> Option<String> {
    if elf.len() < 64 || &elf[..4] != b"\x7fELF" || elf[4] != 2 || elf[5] != 1 {
        return None;
    }
    let u16_at = |o: usize| elf.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u64_at = |o: usize| {
        elf.get(o..o + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
    };
    let phoff = u64_at(0x20)? as usize;
    let phentsize = u16_at(0x36)? as usize;
    let phnum = u16_at(0x38)? as usize;
    for i in 0..phnum {
        let ph = phoff.checked_add(i.checked_mul(phentsize)?)?;
        let p_type = elf
            .get(ph..ph + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))?;
        if p_type == 3 {
            let off = u64_at(ph + 8)? as usize;
            let size = u64_at(ph + 32)? as usize;
            let raw = elf.get(off..off.checked_add(size)?)?;
            let s = raw.split(|b| *b == 0).next()?;
            return String::from_utf8(s.to_vec()).ok();
        }
    }
    None
}

/// Shared objects mapped into this process (absolute paths of `*.so*` files).
pub fn loaded_libraries(maps: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = maps
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .filter(|p| p.starts_with('/') && p.contains(".so"))
        .map(PathBuf::from)
        .collect();
    out.sort();
    out.dedup();
    out
}

fn add_file(
    tar: &mut tar::Builder<impl std::io::Write>,
    path: &str,
    data: &[u8],
    mode: u32,
) -> Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(mode);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut h, path.trim_start_matches('/'), data)
        .with_context(|| format!("adding {path} to the image"))
}

fn add_dirs(
    tar: &mut tar::Builder<impl std::io::Write>,
    path: &str,
    done: &mut std::collections::BTreeSet<String>,
) -> Result<()> {
    let p = Path::new(path.trim_start_matches('/'));
    let mut acc = PathBuf::new();
    for c in p.parent().into_iter().flat_map(|p| p.components()) {
        acc.push(c);
        let s = format!("{}/", acc.display());
        if done.insert(s.clone()) {
            let mut h = tar::Header::new_gnu();
            h.set_size(0);
            h.set_mode(0o755);
            h.set_mtime(0);
            h.set_entry_type(tar::EntryType::Directory);
            tar.append_data(&mut h, &s, std::io::empty())
                .with_context(|| format!("adding {s} to the image"))?;
        }
    }
    Ok(())
}

/// The uncompressed layer tar and the files in it.
fn layer(binary: &[u8], libs: &[(String, Vec<u8>)]) -> Result<(Vec<u8>, Vec<String>)> {
    let mut tar = tar::Builder::new(Vec::new());
    let mut dirs = Default::default();
    let mut files = Vec::new();
    add_dirs(&mut tar, super::manifests::BIN, &mut dirs)?;
    add_file(&mut tar, super::manifests::BIN, binary, 0o755)?;
    files.push(super::manifests::BIN.to_string());
    for (path, data) in libs {
        add_dirs(&mut tar, path, &mut dirs)?;
        add_file(&mut tar, path, data, 0o755)?;
        files.push(path.clone());
    }
    // /tmp for anything that wants a scratch dir.
    add_dirs(&mut tar, "/tmp/x", &mut dirs)?;
    Ok((tar.into_inner().context("finishing the layer")?, files))
}

fn oci_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "arm" => "arm",
        "s390x" => "s390x",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// Build the archive from a binary and the libraries it needs.
pub fn build_archive(
    binary: &[u8],
    libs: &[(String, Vec<u8>)],
    reference: &str,
) -> Result<(Vec<u8>, Written)> {
    use std::io::Write;
    let (layer_tar, files) = layer(binary, libs)?;
    let diff_id = format!("sha256:{}", sha256_hex(&layer_tar));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&layer_tar).context("compressing the layer")?;
    let layer_gz = gz.finish().context("compressing the layer")?;
    let layer_digest = sha256_hex(&layer_gz);

    let config = serde_json::to_vec(&json!({
        "architecture": oci_arch(),
        "os": "linux",
        "config": {
            "Entrypoint": [super::manifests::BIN, "agent", "serve"],
            "Env": ["PATH=/usr/local/bin:/usr/bin:/bin"],
            "WorkingDir": "/",
            "Labels": {
                "org.opencontainers.image.title": "kubectl-netcheck agent",
                "org.opencontainers.image.version": env!("CARGO_PKG_VERSION")
            }
        },
        "rootfs": { "type": "layers", "diff_ids": [diff_id] },
        "history": [{ "created_by": "kubectl netcheck image" }]
    }))?;
    let config_digest = sha256_hex(&config);
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": MEDIA_MANIFEST,
        "config": { "mediaType": MEDIA_CONFIG, "digest": format!("sha256:{config_digest}"), "size": config.len() },
        "layers": [{ "mediaType": MEDIA_LAYER, "digest": format!("sha256:{layer_digest}"), "size": layer_gz.len() }]
    }))?;
    let manifest_digest = sha256_hex(&manifest);
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": MEDIA_INDEX,
        "manifests": [{
            "mediaType": MEDIA_MANIFEST,
            "digest": format!("sha256:{manifest_digest}"),
            "size": manifest.len(),
            "platform": { "architecture": oci_arch(), "os": "linux" },
            "annotations": {
                // containerd (ctr import, kind load) names the image from these.
                "io.containerd.image.name": reference,
                "org.opencontainers.image.ref.name": reference
            }
        }]
    }))?;

    let mut out = tar::Builder::new(Vec::new());
    add_file(
        &mut out,
        "oci-layout",
        br#"{"imageLayoutVersion":"1.0.0"}"#,
        0o644,
    )?;
    add_file(&mut out, "index.json", &index, 0o644)?;
    let mut dirs = Default::default();
    add_dirs(&mut out, "blobs/sha256/x", &mut dirs)?;
    add_file(
        &mut out,
        &format!("blobs/sha256/{config_digest}"),
        &config,
        0o644,
    )?;
    add_file(
        &mut out,
        &format!("blobs/sha256/{manifest_digest}"),
        &manifest,
        0o644,
    )?;
    add_file(
        &mut out,
        &format!("blobs/sha256/{layer_digest}"),
        &layer_gz,
        0o644,
    )?;
    let bytes = out.into_inner().context("finishing the archive")?;
    Ok((
        bytes,
        Written {
            reference: reference.to_string(),
            manifest_digest: format!("sha256:{manifest_digest}"),
            statically_linked: libs.is_empty(),
            files,
        },
    ))
}

/// Write the image of the running binary to `out`.
pub fn write_running_binary(out: &Path, reference: &str) -> Result<Written> {
    let exe = std::env::current_exe().context("finding the running binary")?;
    let binary = std::fs::read(&exe).with_context(|| format!("reading {}", exe.display()))?;
    let mut libs: Vec<(String, Vec<u8>)> = Vec::new();
    if let Some(interp) = elf_interpreter(&binary) {
        // Dynamically linked: bring the loader and every library this process
        // has mapped, at the paths the loader looks for them.
        let data = std::fs::read(&interp)
            .with_context(|| format!("reading the ELF interpreter {interp}"))?;
        libs.push((interp.clone(), data));
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
        for lib in loaded_libraries(&maps) {
            let p = lib.display().to_string();
            if p == interp || libs.iter().any(|(q, _)| *q == p) {
                continue;
            }
            let data = std::fs::read(&lib).with_context(|| format!("reading the library {p}"))?;
            libs.push((p, data));
        }
    }
    let (bytes, written) = build_archive(&binary, &libs, reference)?;
    std::fs::write(out, bytes).with_context(|| format!("writing {}", out.display()))?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_interpreter_of_this_test_binary() {
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        match elf_interpreter(&exe) {
            Some(i) => assert!(i.starts_with('/') && i.contains("ld"), "{i}"),
            None => eprintln!("this test binary is statically linked"),
        }
        assert_eq!(elf_interpreter(b"not an elf"), None);
        assert_eq!(elf_interpreter(&[0x7f, b'E', b'L', b'F', 2, 1, 0, 0]), None);
    }

    #[test]
    fn libraries_from_maps() {
        let maps = "7f00-7f01 r--p 00000000 08:01 123 /usr/lib/x86_64-linux-gnu/libc.so.6\n\
                    7f01-7f02 r-xp 00001000 08:01 123 /usr/lib/x86_64-linux-gnu/libc.so.6\n\
                    7f02-7f03 rw-p 00000000 00:00 0 [heap]\n\
                    7f03-7f04 r-xp 00000000 08:01 9 /usr/local/bin/kubectl-netcheck\n";
        assert_eq!(
            loaded_libraries(maps),
            vec![PathBuf::from("/usr/lib/x86_64-linux-gnu/libc.so.6")]
        );
    }

    #[test]
    fn archive_has_layout_index_and_digests_that_match() {
        use std::io::Read;
        let (bytes, w) = build_archive(b"#!binary", &[], "example.test/nc:1").unwrap();
        let mut ar = tar::Archive::new(&bytes[..]);
        let mut files = std::collections::BTreeMap::new();
        for e in ar.entries().unwrap() {
            let mut e = e.unwrap();
            let p = e.path().unwrap().display().to_string();
            let mut b = Vec::new();
            e.read_to_end(&mut b).unwrap();
            files.insert(p, b);
        }
        assert!(files.contains_key("oci-layout"));
        let index: serde_json::Value = serde_json::from_slice(&files["index.json"]).unwrap();
        let m = &index["manifests"][0];
        assert_eq!(
            m["annotations"]["org.opencontainers.image.ref.name"],
            "example.test/nc:1"
        );
        let digest = m["digest"].as_str().unwrap();
        assert_eq!(digest, w.manifest_digest);
        let manifest = &files[&format!("blobs/sha256/{}", &digest[7..])];
        assert_eq!(format!("sha256:{}", sha256_hex(manifest)), digest);
        let manifest: serde_json::Value = serde_json::from_slice(manifest).unwrap();
        let cfg = &files[&format!(
            "blobs/sha256/{}",
            &manifest["config"]["digest"].as_str().unwrap()[7..]
        )];
        let cfg: serde_json::Value = serde_json::from_slice(cfg).unwrap();
        assert_eq!(
            cfg["config"]["Entrypoint"],
            json!([super::super::manifests::BIN, "agent", "serve"])
        );
        let layer = &files[&format!(
            "blobs/sha256/{}",
            &manifest["layers"][0]["digest"].as_str().unwrap()[7..]
        )];
        let mut un = Vec::new();
        flate2::read::GzDecoder::new(&layer[..])
            .read_to_end(&mut un)
            .unwrap();
        assert_eq!(
            cfg["rootfs"]["diff_ids"][0],
            format!("sha256:{}", sha256_hex(&un))
        );
        let mut inner = tar::Archive::new(&un[..]);
        let mut found = false;
        for e in inner.entries().unwrap() {
            let mut e = e.unwrap();
            if e.path().unwrap().display().to_string() == "usr/local/bin/kubectl-netcheck" {
                assert_eq!(e.header().mode().unwrap() & 0o111, 0o111);
                let mut b = Vec::new();
                e.read_to_end(&mut b).unwrap();
                assert_eq!(b, b"#!binary");
                found = true;
            }
        }
        assert!(found);
        assert!(w.statically_linked);
    }
}
