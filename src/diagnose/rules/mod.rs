//! The diagnosis rules, one file each. Add a rule: write the file, list it here.

use super::Rule;

pub mod policy_blocks_dns;
pub mod unexpected_allow;
pub mod unexpected_block;

/// Every rule; `diagnose` sorts them by rank.
pub fn all() -> &'static [&'static dyn Rule] {
    &[
        &policy_blocks_dns::PolicyBlocksDns,
        &unexpected_allow::UnexpectedAllow,
        &unexpected_block::UnexpectedBlock,
    ]
}
