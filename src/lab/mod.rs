//! The lab runtime: a cluster's network built from Linux network namespaces.
