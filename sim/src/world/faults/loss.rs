//! Message loss on the simulated network, as TCP experiences it.
//!
//! turmoil's own loss (`Sim::set_link_fail_rate`) drops a segment outright, and its TCP
//! never retransmits: the receiver keeps waiting for the missing sequence number and the
//! connection stalls for good. Real TCP retransmits, so a lost segment costs time, not
//! bytes: the stream stops until the retransmission timeout fires (Linux's floor of
//! 200 ms on round trips as short as the simulated ones; 1 s for a SYN), doubling each
//! time the retransmission is lost too, and everything sent behind it waits (head-of-line
//! blocking). That is what this model injects. After each step it looks at the segments
//! that entered each lossy link, draws for each whether it was lost (the world's seeded
//! RNG, in turmoil's link order, so runs repeat), and for a loss holds the link for the
//! retransmission delay, then releases everything held in order.
//!
//! Approximations, all on the harsh side: a hold stalls both directions of the link and
//! every connection on it, not just the one that lost a segment; segments sent while a
//! link is held are not drawn again; a loss whose retransmissions are lost
//! `BACKOFFS_MAX` times in a row holds the link until the fault heals (real TCP would
//! keep retrying with an ever longer timeout). Links an explicit partition cuts are left
//! to the partition: holding or releasing one would undo it in turmoil.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use serde::Serialize;
use turmoil::{Protocol, Segment};

/// The retransmission timeout of an established connection: Linux's floor, which the
/// simulated 1-3 ms round trips never lift it above.
const RTO_MIN_MS: u64 = 200;
/// The initial retransmission timeout (RFC 6298), which a lost SYN waits.
const RTO_SYN_MS: u64 = 1_000;
/// Retransmissions lost in a row after which the link stays held until the fault heals.
const BACKOFFS_MAX: u32 = 6;
/// Mixed into the run's seed so loss draws are independent of the other seeded streams.
const SEED_SALT: u64 = 0x1055_5eed_1055_5eed;

/// A link as turmoil keys it: the two addresses, smaller first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Link(IpAddr, IpAddr);

impl Link {
    fn new(a: IpAddr, b: IpAddr) -> Self {
        if a < b { Link(a, b) } else { Link(b, a) }
    }
}

/// A segment's identity while it crosses a link, so one is drawn only once however
/// many steps it stays in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct SegmentId {
    src: SocketAddr,
    dst: SocketAddr,
    kind: u8,
    seq: u64,
}

impl SegmentId {
    fn of(src: SocketAddr, dst: SocketAddr, protocol: &Protocol, position: usize) -> Self {
        let (kind, seq) = match protocol {
            Protocol::Tcp(Segment::Syn(_)) => (0, 0),
            Protocol::Tcp(Segment::Data(seq, _)) => (1, *seq),
            Protocol::Tcp(Segment::Fin(seq)) => (2, *seq),
            Protocol::Tcp(Segment::Rst) => (3, 0),
            // The world sends no UDP; a datagram has no identity, its position stands in.
            Protocol::Udp(_) => (4, u64::try_from(position).unwrap_or(u64::MAX)),
        };
        SegmentId {
            src,
            dst,
            kind,
            seq,
        }
    }

    fn is_syn(&self) -> bool {
        self.kind == 0
    }
}

/// How long a held link stays held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hold {
    Until(u64),
    UntilHealed,
}

/// A link some loss fault covers.
struct LossyLink {
    /// Host names, for turmoil's hold and release.
    ends: (String, String),
    /// Each covering fault's rate, by fault index.
    rates: BTreeMap<usize, f64>,
    hold: Option<(Hold, u64)>,
    /// Segments in flight after the previous step (already drawn).
    seen: BTreeSet<SegmentId>,
}

impl LossyLink {
    /// Overlapping faults lose independently.
    fn rate(&self) -> f64 {
        1.0 - self.rates.values().map(|rate| 1.0 - rate).product::<f64>()
    }

    /// The fault a stall on this link is counted for: the first covering it.
    fn fault(&self) -> usize {
        *self
            .rates
            .keys()
            .next()
            .expect("a lossy link has a covering fault")
    }
}

/// What one loss fault did, reported when it heals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LossStats {
    /// Links it covered.
    pub links: usize,
    /// Segments drawn.
    pub segments: u64,
    /// Segments lost.
    pub lost: u64,
    /// Times a link was held for a retransmission.
    pub stalls: u64,
    /// Milliseconds links spent held, summed over links.
    pub stalled_ms: u64,
}

/// The active loss faults and the links they hold.
pub struct LossModel {
    rng: ChaCha8Rng,
    links: BTreeMap<Link, LossyLink>,
    /// Links an explicit partition cuts, with how many partitions cut each.
    partitioned: BTreeMap<Link, u32>,
    stats: BTreeMap<usize, LossStats>,
}

impl LossModel {
    /// A model drawing from the run's seed.
    pub fn new(seed: u64) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed ^ SEED_SALT),
            links: BTreeMap::new(),
            partitioned: BTreeMap::new(),
            stats: BTreeMap::new(),
        }
    }

    /// Fault `fault` starts losing segments on `pairs` with probability `rate`.
    pub fn start(
        &mut self,
        sim: &turmoil::Sim<'static>,
        fault: usize,
        rate: f64,
        pairs: &[(String, String)],
    ) {
        assert!(rate > 0.0 && rate <= 1.0, "validated: rate in (0, 1]");
        let mut covered = BTreeSet::new();
        for (a, b) in pairs {
            let link = Link::new(sim.lookup(a.as_str()), sim.lookup(b.as_str()));
            covered.insert(link);
            let lossy = self.links.entry(link).or_insert_with(|| LossyLink {
                ends: (a.clone(), b.clone()),
                rates: BTreeMap::new(),
                hold: None,
                seen: BTreeSet::new(),
            });
            lossy.rates.insert(fault, rate);
        }
        self.stats.entry(fault).or_default().links = covered.len();
    }

    /// Fault `fault` heals: links it alone covered are released. Returns what it did.
    pub fn end(&mut self, sim: &turmoil::Sim<'static>, fault: usize, now_ms: u64) -> LossStats {
        let ending: Vec<Link> = self
            .links
            .iter()
            .filter(|(_, lossy)| lossy.rates.contains_key(&fault))
            .map(|(link, _)| *link)
            .collect();
        for link in ending {
            let lossy = self.links.get_mut(&link).expect("collected above");
            if lossy.rates.len() > 1 {
                // Another fault still covers the link and keeps any hold.
                lossy.rates.remove(&fault);
            } else {
                self.stop_hold(sim, link, now_ms);
                self.links.remove(&link);
            }
        }
        self.stats.remove(&fault).unwrap_or_default()
    }

    /// A partition starts cutting `pairs`: the partition owns those links now, so any
    /// hold ends first (turmoil's partition then drops what the hold kept in flight).
    pub fn partition_started(
        &mut self,
        sim: &turmoil::Sim<'static>,
        pairs: &[(String, String)],
        now_ms: u64,
    ) {
        for (a, b) in pairs {
            let link = Link::new(sim.lookup(a.as_str()), sim.lookup(b.as_str()));
            if self.links.contains_key(&link) {
                // Released before it counts as partitioned, so turmoil is told.
                self.stop_hold(sim, link, now_ms);
            }
            *self.partitioned.entry(link).or_default() += 1;
        }
    }

    /// A partition of `pairs` heals.
    pub fn partition_ended(&mut self, sim: &turmoil::Sim<'static>, pairs: &[(String, String)]) {
        for (a, b) in pairs {
            let link = Link::new(sim.lookup(a.as_str()), sim.lookup(b.as_str()));
            if let Some(count) = self.partitioned.get_mut(&link) {
                *count -= 1;
                if *count == 0 {
                    self.partitioned.remove(&link);
                }
            }
        }
    }

    /// After a step: releases holds that are due, then draws for the segments that
    /// entered each lossy link and holds the links that lost one.
    pub fn after_step(&mut self, sim: &turmoil::Sim<'static>, now_ms: u64) {
        if self.links.is_empty() {
            return;
        }
        let due: Vec<Link> = self
            .links
            .iter()
            .filter(|(_, lossy)| matches!(lossy.hold, Some((Hold::Until(at), _)) if at <= now_ms))
            .map(|(link, _)| *link)
            .collect();
        for link in due {
            self.stop_hold(sim, link, now_ms);
        }
        for (link, segments) in self.in_flight(sim) {
            let stall = self.draw(link, segments);
            if let Some(stall) = stall {
                self.start_hold(sim, link, now_ms, stall);
            }
        }
    }

    /// The segments in flight on each lossy link that is neither held nor partitioned,
    /// in turmoil's link order.
    fn in_flight(&self, sim: &turmoil::Sim<'static>) -> Vec<(Link, Vec<SegmentId>)> {
        let mut found = Vec::new();
        sim.links(|links| {
            for link_iter in links {
                let (a, b) = link_iter.pair();
                let link = Link::new(a, b);
                let watched = self.links.get(&link).is_some_and(|l| l.hold.is_none())
                    && !self.partitioned.contains_key(&link);
                if !watched {
                    continue;
                }
                let segments = link_iter
                    .enumerate()
                    .map(|(i, sent)| {
                        let (src, dst) = sent.pair();
                        SegmentId::of(src, dst, sent.protocol(), i)
                    })
                    .collect();
                found.push((link, segments));
            }
        });
        found
    }

    /// Draws for each segment not drawn before; the longest stall a loss causes.
    fn draw(&mut self, link: Link, segments: Vec<SegmentId>) -> Option<Hold> {
        let lossy = self
            .links
            .get_mut(&link)
            .expect("only lossy links are listed");
        let rate = lossy.rate();
        let stats = self.stats.entry(lossy.fault()).or_default();
        let mut stall: Option<Hold> = None;
        for segment in segments.iter().filter(|s| !lossy.seen.contains(s)) {
            stats.segments += 1;
            if unit(&mut self.rng) >= rate {
                continue;
            }
            stats.lost += 1;
            let first_rto_ms = if segment.is_syn() {
                RTO_SYN_MS
            } else {
                RTO_MIN_MS
            };
            let this = retransmission_delay(&mut self.rng, rate, first_rto_ms);
            stall = Some(match (stall, this) {
                (Some(Hold::UntilHealed), _) | (_, Hold::UntilHealed) => Hold::UntilHealed,
                (Some(Hold::Until(a)), Hold::Until(b)) => Hold::Until(a.max(b)),
                (None, this) => this,
            });
        }
        lossy.seen = segments.into_iter().collect();
        stall
    }

    fn start_hold(&mut self, sim: &turmoil::Sim<'static>, link: Link, now_ms: u64, stall: Hold) {
        let lossy = self
            .links
            .get_mut(&link)
            .expect("only lossy links are held");
        let hold = match stall {
            Hold::Until(delay_ms) => Hold::Until(now_ms.saturating_add(delay_ms)),
            Hold::UntilHealed => Hold::UntilHealed,
        };
        lossy.hold = Some((hold, now_ms));
        lossy.seen.clear();
        sim.hold(lossy.ends.0.as_str(), lossy.ends.1.as_str());
        self.stats.entry(lossy.fault()).or_default().stalls += 1;
    }

    fn stop_hold(&mut self, sim: &turmoil::Sim<'static>, link: Link, now_ms: u64) {
        let lossy = self
            .links
            .get_mut(&link)
            .expect("only lossy links are held");
        let Some((_, since_ms)) = lossy.hold.take() else {
            return;
        };
        if !self.partitioned.contains_key(&link) {
            sim.release(lossy.ends.0.as_str(), lossy.ends.1.as_str());
        }
        let stats = self.stats.entry(lossy.fault()).or_default();
        stats.stalled_ms += now_ms.saturating_sub(since_ms);
    }
}

/// How long a lost segment holds its stream: the retransmission timeout, doubled for
/// each retransmission lost too; past `BACKOFFS_MAX` of them, until the fault heals.
fn retransmission_delay(rng: &mut ChaCha8Rng, rate: f64, first_rto_ms: u64) -> Hold {
    let mut delay_ms = first_rto_ms;
    let mut rto_ms = first_rto_ms;
    for _ in 0..BACKOFFS_MAX {
        if unit(rng) >= rate {
            return Hold::Until(delay_ms);
        }
        rto_ms *= 2;
        delay_ms += rto_ms;
    }
    Hold::UntilHealed
}

/// A uniform draw in [0, 1) from the top 53 bits.
fn unit(rng: &mut ChaCha8Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_segment_waits_the_timeout_doubling_per_lost_retransmission() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        // Nothing is lost again at a tiny rate: one timeout.
        assert_eq!(
            retransmission_delay(&mut rng, 1e-12, RTO_MIN_MS),
            Hold::Until(200)
        );
        // Everything is lost again at rate 1: the link stays held until the fault heals.
        assert_eq!(
            retransmission_delay(&mut rng, 1.0, RTO_MIN_MS),
            Hold::UntilHealed
        );
    }

    #[test]
    fn delays_are_sums_of_doubling_timeouts() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let allowed: Vec<u64> = (1..=BACKOFFS_MAX)
            .map(|k| RTO_SYN_MS * ((1 << k) - 1))
            .collect();
        for _ in 0..200 {
            match retransmission_delay(&mut rng, 0.5, RTO_SYN_MS) {
                Hold::Until(ms) => assert!(allowed.contains(&ms), "{ms} ms"),
                Hold::UntilHealed => {}
            }
        }
    }

    #[test]
    fn overlapping_faults_lose_independently() {
        let link = LossyLink {
            ends: ("a".into(), "b".into()),
            rates: BTreeMap::from([(0, 0.5), (3, 0.5)]),
            hold: None,
            seen: BTreeSet::new(),
        };
        assert!((link.rate() - 0.75).abs() < 1e-12);
        assert_eq!(link.fault(), 0);
    }
}
