//! Path MTU: one ICMP echo with DF set at the configured size first; when it
//! answers, the path carries the full MTU and the probe is done (two packets
//! with the warm-up). Only when it does not answer within half a retry
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

use super::icmp::{Event, IcmpPool, MIN_PAYLOAD};
use super::{Attempts, error, from_io, ms};
use crate::model::{Outcome, ProbeResult};
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::time::{Duration, Instant};

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

pub(super) async fn probe(
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
    let min = min.max(smallest);
    let sizes = sizes(min, max);
    let mut state: BTreeMap<u16, SizeState> =
        sizes.iter().map(|s| (*s, SizeState::default())).collect();
    let (mut reg, mut rx) = sock.register(target);
    let mut keys: HashMap<u32, (u16, Instant)> = HashMap::new();

    // Warm-up: one small echo first, so that the neighbour entry towards the
    // target (or its gateway) is resolved before the burst. Packets sent to an
    // unresolved neighbour wait in a small queue, and a burst of large ones
    // overflows it: the kernel drops the oldest, here the largest size.
    let key = reg.new_key();
    let warm_sent = Instant::now();
    keys.insert(key, (min, warm_sent));
    if let Err(e) = reg.socket().send(target, key, min).await {
        return from_io(id, "ICMP send", &e);
    }
    let warm_until = (tokio::time::Instant::now() + attempts.interval / 4).min(deadline);
    if let Ok(Some(ev)) = tokio::time::timeout_at(warm_until, rx.recv()).await {
        match ev {
            Event::Reply { at, .. } => {
                if let Some(s) = state.get_mut(&min) {
                    s.answered = Some(at.saturating_duration_since(warm_sent));
                }
            }
            Event::Error {
                detail,
                too_big: false,
                ..
            } => {
                let mut r = ProbeResult::new(id, Outcome::Unreachable);
                r.detail = Some(detail);
                return r;
            }
            Event::Error { .. } => {}
        }
    }
    let mut next_round = tokio::time::Instant::now();
    let mut rounds = 0u32;
    // The fast path: one echo at `max` first. On a healthy path it answers
    // and the probe is done with two packets; only when it does not (within
    // half a retry interval) does the sweep of every size go out.
    let mut quick = true;

    let best = |state: &BTreeMap<u16, SizeState>| {
        state
            .iter()
            .rev()
            .find(|(_, s)| s.answered.is_some())
            .map(|(size, _)| *size)
    };
    // Done when nothing larger than the best answer can still come back.
    let settled = |state: &BTreeMap<u16, SizeState>| match best(state) {
        Some(b) => state
            .range(b + 1..)
            .all(|(_, s)| s.dead.is_some() || s.answered.is_some()),
        None => state.values().all(|s| s.dead.is_some()),
    };

    loop {
        if settled(&state) {
            break;
        }
        if rounds < attempts.count && tokio::time::Instant::now() >= next_round {
            let floor = best(&state).unwrap_or(0);
            let todo: Vec<u16> = if quick {
                quick = false;
                next_round += attempts.interval / 2;
                vec![max]
            } else {
                rounds += 1;
                next_round += attempts.interval;
                state
                    .range(floor + 1..)
                    .rev()
                    .filter(|(_, s)| s.answered.is_none() && s.dead.is_none())
                    .map(|(size, _)| *size)
                    .collect()
            };
            for size in todo {
                let key = reg.new_key();
                keys.insert(key, (size, Instant::now()));
                match reg.socket().send(target, key, size).await {
                    Ok(()) => {}
                    Err(e) if e.raw_os_error() == Some(libc::EMSGSIZE) => {
                        if let Some(s) = state.get_mut(&size) {
                            s.dead = Some("larger than the local interface MTU".into());
                        }
                    }
                    Err(e) => return from_io(id, "ICMP send", &e),
                }
            }
            continue;
        }
        let wait = if rounds < attempts.count {
            next_round.min(deadline)
        } else {
            deadline
        };
        tokio::select! {
            // Answers first: on a starved agent the deadline and a queue of
            // replies become ready together, and the replies must count.
            biased;
            ev = rx.recv() => match ev {
                Some(Event::Reply { key, at }) => {
                    if let Some((size, sent)) = keys.get(&key)
                        && let Some(s) = state.get_mut(size)
                        && s.answered.is_none()
                    {
                        s.answered = Some(at.saturating_duration_since(*sent));
                    }
                }
                Some(Event::Error { key, detail, too_big }) => {
                    let Some((size, _)) = keys.get(&key) else { continue };
                    if !too_big && best(&state).is_none() {
                        // The host or network is unreachable at any size.
                        let mut r = ProbeResult::new(id, Outcome::Unreachable);
                        r.detail = Some(detail);
                        return r;
                    }
                    if let Some(s) = state.get_mut(size) {
                        s.dead = Some(detail);
                    }
                }
                None => return error(id, "the ICMP receiver stopped"),
            },
            _ = tokio::time::sleep_until(wait) => {
                if tokio::time::Instant::now() >= deadline {
                    break;
                }
            }
        }
    }

    // Replies the receive task already handed over still count.
    while let Ok(ev) = rx.try_recv() {
        if let Event::Reply { key, at } = ev
            && let Some((size, sent)) = keys.get(&key)
            && let Some(s) = state.get_mut(size)
            && s.answered.is_none()
        {
            s.answered = Some(at.saturating_duration_since(*sent));
        }
    }
    match best(&state) {
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
            r.latency_ms = state.get(&b).and_then(|s| s.answered).map(ms);
            if b < max {
                let local = state
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
            if state.values().all(|s| s.dead.is_some()) {
                let why = state
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
