//! Host inspection: parsers for CNI config, iptables-save, nft JSON, sysctls,
//! interfaces; produces `model::host::HostReport`.
