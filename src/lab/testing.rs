//! Helpers for tests that build labs (they need root).

/// True when the test may build a lab. Without root it prints why the test
/// is skipped and returns false, or panics when NETCHECK_REQUIRE_LAB=1 (CI,
/// where a skipped lab test would hide a failure).
pub fn require_root() -> bool {
    if super::runtime::is_root() {
        return true;
    }
    let why = "skipped: the lab needs root (network namespaces)";
    if std::env::var("NETCHECK_REQUIRE_LAB").as_deref() == Ok("1") {
        panic!("{why}, and NETCHECK_REQUIRE_LAB=1 says it must run here");
    }
    eprintln!("{why}");
    false
}
