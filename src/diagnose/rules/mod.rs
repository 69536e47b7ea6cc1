//! The diagnosis rules, one file each. Add a rule: write the file, list it here.

use super::Rule;

/// Every rule; `diagnose` sorts them by rank.
pub fn all() -> &'static [&'static dyn Rule] {
    &[]
}
