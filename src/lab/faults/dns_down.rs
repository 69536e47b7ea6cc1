//! `dns-down`: the DNS server (dnsmasq, standing in for CoreDNS on node-1)
//! is killed: nothing answers through the DNS Service or at the pod.

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
        "the cluster DNS server is stopped"
    }
    fn target(&self) -> &'static str {
        "the DNS pod on node-1"
    }
    fn expected(&self) -> FindingId {
        FindingId::DnsUnreachable
    }
    fn apply<'a>(&'a self, lab: &'a LabCtx) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let pid = lab
                .dns_pid
                .ok_or_else(|| RuntimeError::Other("the lab's DNS server is not running".into()))?;
            lab.kill_and_wait(pid).await
        })
    }
}
