//! Path MTU. The largest size is the MTU of our own interface toward the
//! target, read inside the pod ([`interface_mtu`]) unless the plan gives
//! `max`: that is what the pod sends with, and what the path must carry. It
//! is reported as `interfaceMtu` with every MTU result.
//!
//! One ICMP echo with DF set at that size first; when it answers, the path
//! carries the full MTU and the probe is done (two packets with the warm-up). Only when it does not answer within half a retry
//! interval do echoes at many sizes go out at once, and the largest size
//! answered is the path MTU. A blackhole (large packets vanish without
//! "fragmentation needed") shows as larger sizes never answering.
//!
//! Sizes are total IP packet sizes: `max`, then every 8 bytes down to `min`,
//! plus the MTUs real networks use (1500, 1450 VXLAN, 1420 WireGuard, …) that
//! fall in between, so that common path MTUs are found exactly. A small echo
//! goes first and the burst follows its answer (or a quarter of the retry
//! interval), so the burst never waits for address resolution. Retries
//! resend only the sizes above the best answer so far; the probe stops early
//! when `max` answers or every larger size failed locally (bigger than our
//! own interface) or with "too big". It costs at most one timeout.

use super::icmp::{Event, IcmpPool, MIN_PAYLOAD, Registration};
use super::{Attempts, error, from_io, ms};
use crate::model::{Outcome, ProbeResult};
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// MTUs seen in the wild; probed exactly when inside `min..=max`.
const COMMON_MTUS: &[u16] = &[
    9001, 9000, 8950, 1500, 1492, 1480, 1460, 1450, 1440, 1420, 1400, 1380, 1360, 1350, 1300, 1280,
    1200, 1000, 576,
];
const STEP: u16 = 8;

/// The sizes to try, largest first.
pub(super) fn sizes(min: u16, max: u16) -> Vec<u16> {
    let mut s: Vec<u16> = Vec::new();
    let mut size = max;
    loop {
        s.push(size);
        if size < min.saturating_add(STEP) {
            break;
        }
        size -= STEP;
    }
    s.push(min);
    s.extend(
        COMMON_MTUS
            .iter()
            .copied()
            .filter(|m| (min..=max).contains(m)),
    );
    s.sort_unstable_by(|a, b| b.cmp(a));
    s.dedup();
    s
}

#[derive(Default)]
struct SizeState {
    answered: Option<Duration>,
    /// Why this size can never answer (bigger than our interface, "too big").
    dead: Option<String>,
}

/// The MTU of our own interface toward `target`, as the kernel uses it for
/// packets to it: a UDP socket connected to the target (connect only looks
/// the route up; no packet is sent) and `getsockopt(IP_MTU)` (`IPV6_MTU`).
///
/// Chosen over `/sys/class/net/IF/mtu` of the route's egress device because
/// it is the route's MTU, not only the device's: it follows policy routing
/// and a route's own `mtu` attribute (some CNIs set the pod MTU on routes
/// rather than on eth0), needs neither route parsing nor /sys in the
/// container, and is exactly the size the pod's applications send. When the
/// kernel has already learned a smaller path MTU toward the target from an
/// ICMP "fragmentation needed", it answers that: path MTU discovery works
/// there, so that smaller size is the truth and no blackhole.
pub(super) fn interface_mtu(target: IpAddr) -> std::io::Result<u16> {
    use std::os::fd::AsRawFd;
    let bind: std::net::SocketAddr = if target.is_ipv6() {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    };
    let sock = std::net::UdpSocket::bind(bind)?;
    // The discard port: nothing is ever sent to it.
    sock.connect((target, 9))?;
    let (level, name) = if target.is_ipv6() {
        (libc::IPPROTO_IPV6, libc::IPV6_MTU)
    } else {
        (libc::IPPROTO_IP, libc::IP_MTU)
    };
    let mut mtu: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: a valid socket, and an int-sized out buffer with its length.
    let rc = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            level,
            name,
            (&mut mtu as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // Loopback says 65536; no IP packet is larger than 65535.
    u16::try_from(mtu.min(i32::from(u16::MAX))).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("the kernel reported an MTU of {mtu}"),
        )
    })
}

/// Reads the interface MTU, then runs the steps.
pub(super) async fn probe(
    pool: &IcmpPool,
    id: &str,
    target: IpAddr,
    min: u16,
    max: Option<u16>,
    attempts: Attempts,
    deadline: tokio::time::Instant,
) -> ProbeResult {
    let iface = interface_mtu(target);
    let (min, max) = match (max, &iface) {
        (Some(max), _) => (min, max),
        // The floor never lies above what the interface can send.
        (None, Ok(m)) => (min.min(*m), *m),
        (None, Err(e)) => {
            return error(
                id,
                format!(
                    "could not read the MTU of this pod's interface toward {target} \
                     (getsockopt IP_MTU on a connected UDP socket): {e}"
                ),
            );
        }
    };
    let mut r = sweep_sizes(pool, id, target, min, max, attempts, deadline).await;
    r.interface_mtu = iface.ok();
    r
}

/// The probe's steps, in order: [`Sweep::warm_up`], [`Sweep::fast_path`],
/// [`Sweep::sweep`] (only when the fast path left sizes open), [`Sweep::result`].
/// A step that must end the probe early returns its result as `Err`.
async fn sweep_sizes(
    pool: &IcmpPool,
    id: &str,
    target: IpAddr,
    min: u16,
    max: u16,
    attempts: Attempts,
    deadline: tokio::time::Instant,
) -> ProbeResult {
    if min > max {
        return error(id, format!("MTU probe with min {min} above max {max}"));
    }
    let sock = match pool.get(target.is_ipv6()).await {
        Ok(s) => s,
        Err(e) => return error(id, e),
    };
    let smallest = sock.headers() + MIN_PAYLOAD;
    if max < smallest {
        return error(
            id,
            format!("MTU probe max {max} is below the smallest echo ({smallest} bytes)"),
        );
    }
    let (reg, rx) = sock.register(target);
    let mut s = Sweep {
        id,
        target,
        min: min.max(smallest),
        max,
        state: BTreeMap::new(),
        reg,
        rx,
        keys: HashMap::new(),
    };
    s.state = sizes(s.min, max)
        .into_iter()
        .map(|size| (size, SizeState::default()))
        .collect();
    let steps = async {
        s.warm_up(attempts, deadline).await?;
        let next_round = s.fast_path(attempts, deadline).await?;
        s.sweep(next_round, attempts, deadline).await
    };
    match steps.await {
        Ok(()) => {
            s.drain();
            s.result()
        }
        Err(r) => r,
    }
}

/// One MTU probe in progress: every size's state, and the echoes in flight.
struct Sweep<'a> {
    id: &'a str,
    target: IpAddr,
    /// The smallest size (at least the smallest echo the socket can send).
    min: u16,
    max: u16,
    state: BTreeMap<u16, SizeState>,
    reg: Registration,
    rx: mpsc::UnboundedReceiver<Event>,
    /// Echo key → its size and when it was sent.
    keys: HashMap<u32, (u16, Instant)>,
}

impl Sweep<'_> {
    /// One small echo first, so that the neighbour entry towards the target
    /// (or its gateway) is resolved before the burst. Packets sent to an
    /// unresolved neighbour wait in a small queue, and a burst of large ones
    /// overflows it: the kernel drops the oldest, here the largest size.
    async fn warm_up(
        &mut self,
        attempts: Attempts,
        deadline: tokio::time::Instant,
    ) -> Result<(), ProbeResult> {
        let key = self.reg.new_key();
        let warm_sent = Instant::now();
        self.keys.insert(key, (self.min, warm_sent));
        match self.reg.socket().send(self.target, key, self.min).await {
            Err(e) if !lost(&e) => return Err(from_io(self.id, "ICMP send", &e)),
            _ => {}
        }
        let warm_until = (tokio::time::Instant::now() + attempts.interval / 4).min(deadline);
        if let Ok(Some(ev)) = tokio::time::timeout_at(warm_until, self.rx.recv()).await {
            match ev {
                Event::Reply { at, .. } => {
                    if let Some(s) = self.state.get_mut(&self.min) {
                        s.answered = Some(at.saturating_duration_since(warm_sent));
                    }
                }
                Event::Error {
                    detail,
                    too_big: false,
                    ..
                } => return Err(unreachable(self.id, detail)),
                Event::Error { .. } => {}
            }
        }
        Ok(())
    }

    /// One echo at `max` first. On a healthy path it answers and the probe is
    /// done with two packets; only when it does not (within half a retry
    /// interval) does the sweep of every size go out. Returns when the sweep's
    /// first round is due.
    async fn fast_path(
        &mut self,
        attempts: Attempts,
        deadline: tokio::time::Instant,
    ) -> Result<tokio::time::Instant, ProbeResult> {
        let mut next_round = tokio::time::Instant::now();
        if self.settled() || attempts.count == 0 {
            return Ok(next_round);
        }
        self.send(&[self.max]).await?;
        next_round += attempts.interval / 2;
        self.listen_until(next_round.min(deadline)).await?;
        Ok(next_round)
    }

    /// Up to `attempts.count` rounds, one retry interval apart, each sending
    /// every size above the best answer so far that is still open; then the
    /// answers until the deadline, or until nothing larger can come back.
    async fn sweep(
        &mut self,
        mut next_round: tokio::time::Instant,
        attempts: Attempts,
        deadline: tokio::time::Instant,
    ) -> Result<(), ProbeResult> {
        let mut rounds = 0u32;
        while !self.settled() && tokio::time::Instant::now() < deadline {
            let until = if rounds < attempts.count {
                if tokio::time::Instant::now() >= next_round {
                    rounds += 1;
                    next_round += attempts.interval;
                    let todo = self.open_above_best();
                    self.send(&todo).await?;
                    continue;
                }
                next_round.min(deadline)
            } else {
                deadline
            };
            self.listen_until(until).await?;
        }
        Ok(())
    }

    /// The sizes above the best answer that neither answered nor died, largest first.
    fn open_above_best(&self) -> Vec<u16> {
        let floor = self.best().unwrap_or(0);
        self.state
            .range(floor + 1..)
            .rev()
            .filter(|(_, s)| s.answered.is_none() && s.dead.is_none())
            .map(|(size, _)| *size)
            .collect()
    }

    /// Send one echo per size; a size larger than our own interface dies here.
    async fn send(&mut self, sizes: &[u16]) -> Result<(), ProbeResult> {
        for &size in sizes {
            let key = self.reg.new_key();
            self.keys.insert(key, (size, Instant::now()));
            match self.reg.socket().send(self.target, key, size).await {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::EMSGSIZE) => {
                    if let Some(s) = self.state.get_mut(&size) {
                        s.dead = Some("larger than the local interface MTU".into());
                    }
                }
                // Dropped on the way out: like any lost echo, it does not answer.
                Err(e) if lost(&e) => {}
                Err(e) => return Err(from_io(self.id, "ICMP send", &e)),
            }
        }
        Ok(())
    }

    /// Take answers until `until`, or until the probe is settled.
    async fn listen_until(&mut self, until: tokio::time::Instant) -> Result<(), ProbeResult> {
        while !self.settled() {
            tokio::select! {
                // Answers first: on a starved agent the deadline and a queue of
                // replies become ready together, and the replies must count.
                biased;
                ev = self.rx.recv() => match ev {
                    Some(Event::Reply { key, at }) => self.answered(key, at),
                    Some(Event::Error { key, detail, too_big }) => {
                        let Some((size, _)) = self.keys.get(&key) else { continue };
                        if !too_big && self.best().is_none() {
                            // The host or network is unreachable at any size.
                            return Err(unreachable(self.id, detail));
                        }
                        if let Some(s) = self.state.get_mut(size) {
                            s.dead = Some(detail);
                        }
                    }
                    None => return Err(error(self.id, "the ICMP receiver stopped")),
                },
                _ = tokio::time::sleep_until(until) => return Ok(()),
            }
        }
        Ok(())
    }

    fn answered(&mut self, key: u32, at: Instant) {
        if let Some((size, sent)) = self.keys.get(&key)
            && let Some(s) = self.state.get_mut(size)
            && s.answered.is_none()
        {
            s.answered = Some(at.saturating_duration_since(*sent));
        }
    }

    /// Replies the receive task already handed over still count.
    fn drain(&mut self) {
        while let Ok(ev) = self.rx.try_recv() {
            if let Event::Reply { key, at } = ev {
                self.answered(key, at);
            }
        }
    }

    /// The largest size answered.
    fn best(&self) -> Option<u16> {
        self.state
            .iter()
            .rev()
            .find(|(_, s)| s.answered.is_some())
            .map(|(size, _)| *size)
    }

    /// Done when nothing larger than the best answer can still come back.
    fn settled(&self) -> bool {
        match self.best() {
            Some(b) => self
                .state
                .range(b + 1..)
                .all(|(_, s)| s.dead.is_some() || s.answered.is_some()),
            None => self.state.values().all(|s| s.dead.is_some()),
        }
    }

    /// What the sizes that answered say.
    fn result(&self) -> ProbeResult {
        let (id, min, max) = (self.id, self.min, self.max);
        match self.best() {
            // Nothing above the smallest size answered. A real blackhole leaves
            // every size below the path MTU answering, and no pod network has a
            // path MTU at the IPv4 minimum; a starved node (replies lost in
            // full queues, where small packets still fit) or a path that stopped
            // answering looks like this. Calling it an MTU would be a false
            // mtu-blackhole: it is a timeout.
            Some(b) if b == min && b < max => {
                let mut r = ProbeResult::new(id, Outcome::Timeout);
                r.detail = Some(format!(
                    "only {min}-byte echoes answered, no larger size of the sweep: the path or \
                     the node stopped answering, which is not an MTU limit"
                ));
                r
            }
            Some(b) => {
                let mut r = ProbeResult::new(id, Outcome::Ok);
                r.path_mtu = Some(b);
                r.latency_ms = self.state.get(&b).and_then(|s| s.answered).map(ms);
                if b < max {
                    let local = self
                        .state
                        .range(b + 1..)
                        .find_map(|(size, s)| s.dead.as_ref().map(|d| format!("{size}: {d}")));
                    r.detail = Some(match local {
                        Some(why) => format!("largest answered {b} of {max} bytes; {why}"),
                        None => format!(
                            "largest answered {b} of {max} bytes; larger packets with DF set got no answer"
                        ),
                    });
                }
                r
            }
            None => {
                if self.state.values().all(|s| s.dead.is_some()) {
                    let why = self
                        .state
                        .values()
                        .find_map(|s| s.dead.clone())
                        .unwrap_or_default();
                    return error(id, format!("no size could be sent: {why}"));
                }
                let mut r = ProbeResult::new(id, Outcome::Timeout);
                r.detail = Some(format!(
                    "no echo of any size from {min} to {max} bytes came back"
                ));
                r
            }
        }
    }
}

/// A send the kernel dropped on our side ([`super::dropped_locally`]): a
/// full queue, or a veth whose peer does not take a frame that large (the
/// kernel says so for ICMPv6; for IPv4 it drops silently). Not an error of
/// the probe: that echo is lost, as on the wire.
fn lost(e: &std::io::Error) -> bool {
    super::dropped_locally(e)
}

fn unreachable(id: &str, detail: String) -> ProbeResult {
    let mut r = ProbeResult::new(id, Outcome::Unreachable);
    r.detail = Some(detail);
    r
}
