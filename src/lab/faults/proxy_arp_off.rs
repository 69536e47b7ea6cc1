//! `proxy-arp-off` (calico): proxy_arp = 0 on the `cali` interfaces of the
//! last node's pods, as a `sysctl --system` with a hardening file
//! (`net.ipv4.conf.*.proxy_arp = 0`) run after the pods started does. A
//! Calico pod's gateway, 169.254.1.1, is answered only by that proxy ARP:
//! once the pod's ARP entry for it is gone (the fault flushes it, as its
//! expiry would), the pod reaches nothing and nothing reaches it.

use super::Fault;
use crate::lab::ctx::LabCtx;
use crate::lab::flavours::{Flavour, calico};
use crate::model::FindingId;
use crate::runtime::Result;
use futures::future::BoxFuture;

pub struct ProxyArpOff;

impl Fault for ProxyArpOff {
    fn name(&self) -> &'static str {
        "proxy-arp-off"
    }
    fn description(&self) -> &'static str {
        "proxy_arp = 0 on the cali interfaces of one node's pods: they lose their gateway 169.254.1.1"
    }
    fn target(&self) -> &'static str {
        "the last node's pods"
    }
    fn expected(&self) -> FindingId {
        FindingId::ProxyArpDisabled
    }
    fn applies_to(&self, cni: &dyn Flavour) -> bool {
        cni.name() == calico::Calico.name()
    }
    fn apply<'a>(&'a self, lab: &'a LabCtx) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let i = lab.last_node();
            let pods = calico::workloads(&lab.plan, i);
            let keys: Vec<String> = pods
                .iter()
                .map(|w| format!("net.ipv4.conf.{}.proxy_arp", w.host_if))
                .collect();
            let values: Vec<(&str, &str)> = keys.iter().map(|k| (k.as_str(), "0")).collect();
            lab.sysctl(&lab.plan.node_ns(i), &values).await?;
            for w in &pods {
                lab.ip(&w.netns, &["neigh flush dev eth0".to_string()])
                    .await?;
            }
            Ok(())
        })
    }
}
