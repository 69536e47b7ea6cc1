//! docs/findings/<id>.md exists for every finding ID, no page is orphaned,
//! each page has the sections a reader needs, the index lists every ID, and
//! every link between pages resolves.

use netcheck::model::FindingId;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/findings")
}

#[test]
fn every_finding_has_a_complete_page() {
    for id in FindingId::ALL {
        let path = dir().join(format!("{id}.md"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}; every finding ID needs a page", path.display()));
        assert!(text.starts_with(&format!("# `{id}`\n")), "{id}: title");
        for section in [
            "## What it means",
            "## Evidence in the report",
            "## Confirm by hand",
            "## Fix",
        ] {
            let body = text
                .split(section)
                .nth(1)
                .unwrap_or_else(|| panic!("{id}: no {section:?}"));
            let body = body.split("\n## ").next().unwrap_or_default();
            assert!(body.trim().len() > 40, "{id}: {section:?} is nearly empty");
        }
        let confirm = text.split("## Confirm by hand").nth(1).unwrap_or_default();
        assert!(
            confirm.contains("```"),
            "{id}: confirming needs real commands"
        );
    }
}

#[test]
fn no_page_is_orphaned_and_the_index_lists_every_id() {
    let known: BTreeSet<String> = FindingId::ALL.iter().map(|i| i.to_string()).collect();
    for e in std::fs::read_dir(dir())
        .expect("docs/findings exists")
        .flatten()
    {
        let name = e.file_name().to_string_lossy().to_string();
        if name == "README.md" {
            continue;
        }
        let id = name.strip_suffix(".md").unwrap_or(&name);
        assert!(
            known.contains(id),
            "docs/findings/{name} names no finding ID in src/model/finding.rs"
        );
    }
    let index = std::fs::read_to_string(dir().join("README.md")).expect("index");
    for id in &known {
        assert!(
            index.contains(&format!("[`{id}`]({id}.md)")),
            "index misses {id}"
        );
    }
}

#[test]
fn links_between_pages_resolve() {
    for e in std::fs::read_dir(dir())
        .expect("docs/findings exists")
        .flatten()
    {
        let text = std::fs::read_to_string(e.path()).expect("readable");
        for (i, _) in text.match_indices("](") {
            let rest = &text[i + 2..];
            let target = &rest[..rest.find(')').unwrap_or(0)];
            if target.starts_with("http") || !target.ends_with(".md") {
                continue;
            }
            assert!(
                dir().join(target).exists(),
                "{}: link to missing {target}",
                e.path().display()
            );
        }
    }
}
