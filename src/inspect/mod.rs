//! Host inspection: parsers for CNI config, iptables-save, nft JSON, sysctls,
//! interfaces; produces `model::host::HostReport`.
//!
//! The parsers are pure (text in, data out) and tested on captured output;
//! [`collect`] does the I/O (files under the host root, the tools, /proc/sys)
//! and [`query`] answers the questions the host rules ask.

pub mod calico;
pub mod captures;
pub mod cluster_facts;
pub mod cni;
#[cfg(target_os = "linux")]
pub mod collect;
pub mod iptables;
pub mod ipvs;
pub mod links;
pub mod nft;
pub mod query;
pub mod recognise;
pub mod runtime_config;
pub mod slim;
#[cfg(test)]
pub(crate) mod tests;
