//! completions/ holds what `kubectl-netcheck completion SHELL` prints, so a
//! flag added to the CLI reaches the shells. Regenerate after a CLI change:
//!     NETCHECK_UPDATE_COMPLETIONS=1 cargo test --test completions

use std::path::Path;
use std::process::Command;

const SHELLS: [(&str, &str); 4] = [
    ("bash", "kubectl-netcheck.bash"),
    ("zsh", "_kubectl-netcheck"),
    ("fish", "kubectl-netcheck.fish"),
    ("powershell", "_kubectl-netcheck.ps1"),
];

#[test]
fn completions_are_what_the_binary_generates() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("completions");
    let update = std::env::var_os("NETCHECK_UPDATE_COMPLETIONS").is_some();
    let mut stale = Vec::new();
    for (shell, file) in SHELLS {
        let out = Command::new(env!("CARGO_BIN_EXE_kubectl-netcheck"))
            .args(["completion", shell])
            .output()
            .expect("the binary runs");
        assert_eq!(out.status.code(), Some(0), "completion {shell} failed");
        let generated = String::from_utf8(out.stdout).expect("UTF-8");
        assert!(
            generated.contains("output-file") && generated.contains("fail-on"),
            "{shell}: the completion does not know the run flags"
        );
        let path = dir.join(file);
        if update {
            std::fs::write(&path, &generated).expect("write completions");
            continue;
        }
        let saved = std::fs::read_to_string(&path).unwrap_or_default();
        if saved != generated {
            stale.push(file);
        }
    }
    assert!(
        stale.is_empty(),
        "completions/{stale:?} differ from `kubectl-netcheck completion`; regenerate: NETCHECK_UPDATE_COMPLETIONS=1 cargo test --test completions"
    );
}
