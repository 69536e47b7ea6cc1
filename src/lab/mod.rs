//! The lab runtime: a cluster's network built from Linux network namespaces.

/// Host faults as functions over a node namespace and root dir (wired into
/// the lab's fault units once they exist).
pub mod host_faults;
