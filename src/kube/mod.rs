//! The Kubernetes runtime (kube-rs): discovery, preflight, deploy, exec, cleanup.
