//! The seeded fault schedule and how each fault is injected and healed.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::json;

use crate::deployment::Deployment;
use crate::proxy::SlowLink;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// SIGKILL the leader, start it again after the hold.
    KillLeader,
    /// SIGKILL a follower, start it again after the hold.
    KillFollower,
    /// Cut every Raft link of the leader (both ways) for the hold.
    PartitionLeader,
    /// Cut every Raft link of a follower for the hold.
    PartitionFollower,
    /// SIGKILL an edge (its sessions reconnect), start it again after the hold.
    RestartEdge,
    /// Cut an edge off every cluster node (both ways) for the hold: its sessions stay
    /// connected, its sends and its feed wait.
    PartitionEdge,
    /// The app server's clock is off by this many seconds for the hold.
    StepClock(i64),
    /// Every Raft link slowed for the hold: [`SLOW_LINK`].
    SlowLinks,
    /// The disks of the leader and a follower sync their Raft logs [`SLOW_FSYNC`] late
    /// for the hold. (A slow disk under one node barely shows: a commit needs a
    /// majority's syncs, and the leader's own is not waited for when two followers have
    /// theirs.)
    SlowFsync,
    /// A follower's disk filled to half its reserve of free space for the hold: it takes
    /// no entries (the others commit without it), then catches up.
    FillDisk,
    /// SIGKILL the nav and an edge together, start both again after the hold: the
    /// edge's sessions reconnect with no nav answering (those that ask the nav, from its
    /// last answer, to the other edge once the dead one fails).
    KillNav,
    /// The leader's clock jumps [`CLOCK_JUMP`] ahead for the hold, then back to true
    /// time: its stamps stay at the newest it gave until its clock catches up, and those
    /// of a successor on true time too.
    JumpClock,
}

/// How far a node's clock jumps: an NTP step of a badly drifted machine.
pub const CLOCK_JUMP: Duration = Duration::from_secs(15);

/// A disk in trouble: each sync of the log takes this much longer.
pub const SLOW_FSYNC: Duration = Duration::from_millis(150);

/// A congested network between the nodes: 30 ms and up to 30 ms of jitter each way, and
/// one chunk in 50 stalled 250 ms more, as a lost packet's retransmission would.
pub const SLOW_LINK: SlowLink = SlowLink {
    delay: Duration::from_millis(30),
    jitter: Duration::from_millis(30),
    stall_one_in: 50,
    stall: Duration::from_millis(250),
};

impl Fault {
    pub fn name(self) -> &'static str {
        match self {
            Fault::KillLeader => "kill-leader",
            Fault::KillFollower => "kill-follower",
            Fault::PartitionLeader => "partition-leader",
            Fault::PartitionFollower => "partition-follower",
            Fault::RestartEdge => "restart-edge",
            Fault::PartitionEdge => "partition-edge",
            Fault::StepClock(_) => "step-clock",
            Fault::SlowLinks => "slow-links",
            Fault::SlowFsync => "slow-fsync",
            Fault::FillDisk => "fill-disk",
            Fault::KillNav => "kill-nav",
            Fault::JumpClock => "jump-clock",
        }
    }
}

/// `count` faults (at least 10) in a seeded order: always two leader kills, a leader
/// partition and slow links, the rest drawn from every kind; then an edge partition
/// for every ten of them, a slow fsync, a nav kill and a clock jump for every twenty and, with
/// `full_disks`, a full disk for every twenty, at seeded places (streams of their own,
/// so the kinds before them keep the order they had for a seed).
pub fn schedule(seed: u64, count: usize, full_disks: bool) -> Vec<Fault> {
    let mut faults = first_kinds(seed, count);
    let first = faults.len();
    let inserted = [
        (0xed6e, Fault::PartitionEdge, 10),
        (0x5f5c, Fault::SlowFsync, 20),
        (0x0a5e, Fault::KillNav, 20),
        (0xc10c, Fault::JumpClock, 20),
        (0xd15c, Fault::FillDisk, 20),
    ];
    for (stream, fault, every) in inserted
        .into_iter()
        .filter(|(_, fault, _)| full_disks || *fault != Fault::FillDisk)
    {
        let mut rng = StdRng::seed_from_u64(seed ^ stream);
        for _ in 0..first.div_ceil(every) {
            let at = rng.random_range(0..=faults.len());
            faults.insert(at, fault);
        }
    }
    faults
}

fn first_kinds(seed: u64, count: usize) -> Vec<Fault> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut faults = vec![
        Fault::KillLeader,
        Fault::KillLeader,
        Fault::PartitionLeader,
        Fault::PartitionFollower,
        Fault::RestartEdge,
        Fault::StepClock(-90),
        Fault::StepClock(600),
        Fault::SlowLinks,
    ];
    while faults.len() < count.max(10) {
        faults.push(match rng.random_range(0..8) {
            0 => Fault::KillLeader,
            1 => Fault::KillFollower,
            2 => Fault::PartitionLeader,
            3 => Fault::PartitionFollower,
            4 => Fault::RestartEdge,
            5 => Fault::StepClock(rng.random_range(-240..240)),
            6 => Fault::SlowLinks,
            _ => Fault::StepClock(if rng.random_bool(0.5) { -900 } else { 900 }),
        });
    }
    faults.shuffle(&mut rng);
    faults
}

/// Injects `fault`, keeps it for `hold`, heals it. Prints one JSON progress line.
pub async fn inflict(
    deployment: &mut Deployment,
    fault: Fault,
    hold: Duration,
    clock_offset: &AtomicI64,
    rng: &mut StdRng,
    at_ms: u64,
) -> anyhow::Result<()> {
    let leader = deployment.wait_for_leader(Duration::from_secs(30)).await?;
    let ids: Vec<u64> = deployment.nodes.iter().map(|n| n.id).collect();
    let followers: Vec<u64> = ids.iter().copied().filter(|id| *id != leader).collect();
    let follower = followers[rng.random_range(0..followers.len())];
    let edge = rng.random_range(0..deployment.edges.len());
    let subject = match fault {
        Fault::KillLeader | Fault::PartitionLeader | Fault::JumpClock => json!({ "node": leader }),
        Fault::SlowFsync => json!({ "nodes": [leader, follower] }),
        Fault::KillFollower | Fault::PartitionFollower | Fault::FillDisk => {
            json!({ "node": follower })
        }
        Fault::RestartEdge | Fault::PartitionEdge => json!({ "edge": edge }),
        Fault::KillNav => json!({ "nav": 0, "edge": edge }),
        Fault::StepClock(secs) => json!({ "clock_offset_s": secs }),
        Fault::SlowLinks => json!({ "links": "all" }),
    };
    eprintln!(
        "{}",
        json!({ "fault": fault.name(), "at_ms": at_ms, "hold_ms": hold.as_millis() as u64, "on": subject })
    );
    match fault {
        Fault::KillLeader | Fault::KillFollower => {
            let node = if fault == Fault::KillLeader {
                leader
            } else {
                follower
            };
            deployment.kill_node(node);
            tokio::time::sleep(hold).await;
            deployment.start_node(node)?;
        }
        Fault::PartitionLeader | Fault::PartitionFollower => {
            let node = if fault == Fault::PartitionLeader {
                leader
            } else {
                follower
            };
            deployment.isolate(Some(node));
            tokio::time::sleep(hold).await;
            deployment.isolate(None);
        }
        Fault::RestartEdge => {
            deployment.kill_edge(edge);
            tokio::time::sleep(hold).await;
            deployment.start_edge(edge).await?;
        }
        Fault::PartitionEdge => {
            deployment.cut_edge(edge, true);
            tokio::time::sleep(hold).await;
            deployment.cut_edge(edge, false);
        }
        Fault::StepClock(secs) => {
            clock_offset.store(secs, Ordering::Relaxed);
            tokio::time::sleep(hold).await;
            clock_offset.store(0, Ordering::Relaxed);
        }
        Fault::SlowLinks => {
            deployment.slow_links(Some(SLOW_LINK));
            tokio::time::sleep(hold).await;
            deployment.slow_links(None);
        }
        Fault::SlowFsync => {
            deployment.slow_fsync(&[leader, follower], Some(SLOW_FSYNC))?;
            tokio::time::sleep(hold).await;
            deployment.slow_fsync(&[leader, follower], None)?;
        }
        Fault::FillDisk => {
            deployment.fill_disk(follower, true)?;
            tokio::time::sleep(hold).await;
            deployment.fill_disk(follower, false)?;
        }
        Fault::KillNav => {
            deployment.kill_nav();
            deployment.kill_edge(edge);
            tokio::time::sleep(hold).await;
            deployment.start_edge(edge).await?;
            deployment.start_nav().await?;
        }
        Fault::JumpClock => {
            deployment.jump_clock(leader, Some(CLOCK_JUMP.as_millis() as i64))?;
            tokio::time::sleep(hold).await;
            deployment.jump_clock(leader, None)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schedule_always_has_two_leader_kills_and_a_partition() {
        for seed in 0..50 {
            let faults = schedule(seed, 12, false);
            assert_eq!(faults.len(), 17);
            let kills = faults.iter().filter(|f| **f == Fault::KillLeader).count();
            assert!(kills >= 2, "seed {seed}: {faults:?}");
            assert!(faults.contains(&Fault::PartitionLeader), "seed {seed}");
            assert!(faults.contains(&Fault::SlowLinks), "seed {seed}");
            let edge_cuts = faults
                .iter()
                .filter(|f| **f == Fault::PartitionEdge)
                .count();
            assert_eq!(edge_cuts, 2, "seed {seed}: one per ten others");
            for kind in [Fault::SlowFsync, Fault::KillNav, Fault::JumpClock] {
                let n = faults.iter().filter(|f| **f == kind).count();
                assert_eq!(n, 1, "seed {seed}: one {kind:?} per twenty others");
            }
            let others: Vec<Fault> = faults
                .into_iter()
                .filter(|f| {
                    !matches!(
                        f,
                        Fault::PartitionEdge | Fault::SlowFsync | Fault::KillNav | Fault::JumpClock
                    )
                })
                .collect();
            assert_eq!(
                others,
                first_kinds(seed, 12),
                "the other kinds keep their order"
            );
        }
        assert_eq!(schedule(7, 3, false).len(), 14);
        assert_eq!(schedule(7, 12, false), schedule(7, 12, false));
        let with_full_disks = schedule(7, 12, true);
        assert_eq!(with_full_disks.len(), 18);
        let without: Vec<Fault> = with_full_disks
            .into_iter()
            .filter(|f| *f != Fault::FillDisk)
            .collect();
        assert_eq!(without, schedule(7, 12, false), "the other faults stay");
    }
}
