//! `dns-down`: every DNS replica (dnsmasq, standing in for CoreDNS, on
//! node-1 and node-2) is killed: nothing answers through the DNS Service or
//! at the pods.

use super::Fault;
use crate::lab::ctx::LabCtx;
use crate::model::FindingId;
use crate::runtime::{Result, RuntimeError};
use futures::future::BoxFuture;

pub struct DnsDown;

impl Fault for DnsDown {
    fn name(&self) -> &'static str {
        "dns-down"
    }
    fn description(&self) -> &'static str {
        "the cluster DNS servers (both replicas) are stopped"
    }
    fn target(&self) -> &'static str {
        "the DNS pods on node-1 and node-2"
    }
    fn expected(&self) -> FindingId {
        FindingId::DnsUnreachable
    }
    fn apply<'a>(&'a self, lab: &'a LabCtx) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            if lab.dns_pids.is_empty() {
                return Err(RuntimeError::Other(
                    "the lab's DNS servers are not running".into(),
                ));
            }
            for &pid in &lab.dns_pids {
                lab.kill_and_wait(pid).await?;
            }
            Ok(())
        })
    }
}
