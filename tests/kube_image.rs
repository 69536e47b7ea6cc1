//! `kubectl netcheck image` writes an OCI archive that skopeo accepts, whose
//! entrypoint is the agent, and whose root filesystem runs the binary on its
//! own (checked in a chroot when root).

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_kubectl-netcheck");

fn require_lab() -> bool {
    std::env::var("NETCHECK_REQUIRE_LAB").is_ok_and(|v| v == "1")
}

fn skip(why: &str) {
    if require_lab() {
        panic!("NETCHECK_REQUIRE_LAB=1 but {why}");
    }
    eprintln!("skipped: {why}");
}

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn json(out: std::process::Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Unpack the archive's single layer into `root` (what a runtime would do).
fn unpack_rootfs(archive: &Path, root: &Path) {
    let mut outer = tar::Archive::new(std::fs::File::open(archive).unwrap());
    let dir = root.with_extension("layout");
    outer.unpack(&dir).unwrap();
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    let digest = |v: &serde_json::Value| v["digest"].as_str().unwrap()[7..].to_string();
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            dir.join("blobs/sha256")
                .join(digest(&index["manifests"][0])),
        )
        .unwrap(),
    )
    .unwrap();
    let layer = std::fs::File::open(
        dir.join("blobs/sha256")
            .join(digest(&manifest["layers"][0])),
    )
    .unwrap();
    tar::Archive::new(flate2::read::GzDecoder::new(layer))
        .unpack(root)
        .unwrap();
}

#[test]
fn the_image_archive_is_valid_oci_and_runs_the_agent() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("netcheck.tar");
    let out = Command::new(BIN)
        .args(["image", "--output-file"])
        .arg(&archive)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("kind load image-archive"));

    if have("skopeo") {
        let src = format!("oci-archive:{}", archive.display());
        let cfg = json(
            Command::new("skopeo")
                .args(["inspect", "--config", &src])
                .output()
                .unwrap(),
        );
        assert_eq!(
            cfg["config"]["Entrypoint"],
            serde_json::json!(["/usr/local/bin/kubectl-netcheck", "agent", "serve"])
        );
        assert_eq!(cfg["os"], "linux");
        let info = json(
            Command::new("skopeo")
                .args(["inspect", &src])
                .output()
                .unwrap(),
        );
        assert_eq!(info["Layers"].as_array().unwrap().len(), 1);
        // A full copy re-reads and verifies every blob against its digest.
        let dest = tmp.path().join("copied");
        let copy = Command::new("skopeo")
            .args(["copy", &src, &format!("dir:{}", dest.display())])
            .output()
            .unwrap();
        assert!(
            copy.status.success(),
            "{}",
            String::from_utf8_lossy(&copy.stderr)
        );
        assert!(dest.join("manifest.json").exists());
    } else {
        skip("skopeo is not installed (apt-get install skopeo)");
    }

    // The root filesystem alone runs the binary: no base image needed.
    let root = tmp.path().join("rootfs");
    unpack_rootfs(&archive, &root);
    assert!(root.join("usr/local/bin/kubectl-netcheck").exists());
    if !is_root() {
        skip("running the image's binary in a chroot needs root");
        return;
    }
    let run = Command::new("chroot")
        .arg(&root)
        .args(["/usr/local/bin/kubectl-netcheck", "--version"])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&run.stdout).trim(),
        format!("kubectl-netcheck {}", env!("CARGO_PKG_VERSION"))
    );
}
