//! [`Lease`]: at most one holder at a time for a named role (the window jobs
//! and scheduled exports), kept in object storage with an expiry, built only on
//! create-if-absent and whole-object writes — so it works on every backend
//! feedloop stores to (a local directory, S3, GCS, Azure), no lock service needed.
//!
//! # Protocol
//!
//! ```text
//! leases/<name>/<epoch:020>.claim   who holds epoch N (create-if-absent: one winner per epoch)
//! leases/<name>/<epoch:020>.beat    the holder's heartbeat {seq, released} (only the holder writes it)
//! ```
//!
//! * **Acquire**: with no claim yet, create epoch 1. A follower watches the
//!   latest epoch's heartbeat; when its `seq` has not changed for `ttl` *on the
//!   follower's own clock* (no clock sync between machines is assumed), or the
//!   holder wrote `released`, the follower creates epoch N + 1. Create-if-absent
//!   lets exactly one follower win it.
//! * **Hold**: the holder bumps its heartbeat every `ttl / 5` and believes it
//!   holds the lease only until `t0 + 2/3 · ttl`, where `t0` is when its last
//!   successful renewal *started*. A follower cannot take over before
//!   `t0 + ttl` (it saw that heartbeat after `t0` and waits a full `ttl`), so
//!   there is `ttl / 3` of slack for work already under way and clock-rate drift.
//! * **Lose**: a holder that sees a higher epoch, or cannot renew in time, stops.
//! * **Release**: on a clean shutdown the holder writes `released`, and a
//!   follower takes over at its next poll instead of waiting for the expiry.
//! * A claim whose holder has this instance's id (a restart with a stable
//!   `instance_id`, e.g. a StatefulSet pod name) is taken over at once.
//!
//! The lease keeps duties single, not data correct: everything the holder writes
//! is idempotent (create-if-absent history files, a state file it re-reads on
//! acquiring), so a paused holder overlapping its successor for a moment cannot
//! duplicate or lose a window.

use crate::store::{PutOutcome, Storage, StorageError};
use bytes::Bytes;
use object_store::path::Path;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

#[derive(Debug, Serialize, Deserialize)]
struct Claim {
    holder: String,
    epoch: u64,
    claimed_at_ms: i64,
}

#[derive(Debug, Serialize, Deserialize)]
struct Beat {
    holder: String,
    epoch: u64,
    seq: u64,
    at_ms: i64,
    #[serde(default)]
    released: bool,
}

/// What [`Lease::poll`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseStatus {
    /// This instance holds the lease at `epoch`.
    Held { epoch: u64 },
    /// Another instance holds it (or nobody yet and this instance lost the race).
    Follower {
        /// The holder's id, when its claim could be read.
        holder: Option<String>,
        epoch: u64,
    },
}

enum Role {
    Leader { epoch: u64, valid_until: Instant },
    Follower,
}

/// A named lease in a [`Storage`]; call [`Lease::poll`] every
/// [`Lease::renew_interval`].
pub struct Lease {
    storage: Storage,
    dir: String,
    holder: String,
    ttl: Duration,
    role: Role,
    seq: u64,
    /// (epoch, heartbeat seq, when this instance first saw that pair).
    observed: Option<(u64, u64, Instant)>,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("dir", &self.dir)
            .field("holder", &self.holder)
            .field("ttl", &self.ttl)
            .field("held", &self.held())
            .finish()
    }
}

fn claim_path(dir: &str, epoch: u64) -> Path {
    Path::from(format!("{dir}/{epoch:020}.claim"))
}

fn beat_path(dir: &str, epoch: u64) -> Path {
    Path::from(format!("{dir}/{epoch:020}.beat"))
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Lease {
    /// A lease named `name` (e.g. `jobs`) for the instance `holder`, expiring
    /// `ttl` after its holder stops renewing it.
    pub fn new(storage: Storage, name: &str, holder: impl Into<String>, ttl: Duration) -> Lease {
        // The name comes from code, not from events; keep it one path segment anyway.
        let name: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        Lease {
            storage,
            dir: crate::layout::lease_dir(&name),
            holder: holder.into(),
            ttl: ttl.max(Duration::from_millis(100)),
            role: Role::Follower,
            seq: 0,
            observed: None,
        }
    }

    /// This instance's id.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// How often [`Lease::poll`] should run.
    pub fn renew_interval(&self) -> Duration {
        self.ttl / 5
    }

    /// The epoch this instance holds, if it holds the lease right now.
    pub fn held(&self) -> Option<u64> {
        match self.role {
            Role::Leader { epoch, valid_until } if Instant::now() < valid_until => Some(epoch),
            _ => None,
        }
    }

    /// The instant until which this instance may act as the holder.
    pub fn valid_until(&self) -> Option<Instant> {
        match self.role {
            Role::Leader { valid_until, .. } => Some(valid_until),
            Role::Follower => None,
        }
    }

    fn hold_for(&self) -> Duration {
        self.ttl * 2 / 3
    }

    /// One step of the protocol: renews the lease when held, otherwise takes it
    /// when it is free or expired.
    pub async fn poll(&mut self) -> Result<LeaseStatus, StorageError> {
        let t0 = Instant::now();
        let latest = self.latest_epoch().await?;
        let Some(epoch) = latest else {
            return self.try_claim(1, t0).await;
        };
        if let Role::Leader { epoch: mine, .. } = self.role {
            if epoch == mine {
                self.seq += 1;
                self.write_beat(mine, false).await?;
                self.role = Role::Leader {
                    epoch: mine,
                    valid_until: t0 + self.hold_for(),
                };
                return Ok(LeaseStatus::Held { epoch: mine });
            }
            tracing::warn!(lease = %self.dir, epoch = mine, newer = epoch, "lease lost to a newer epoch");
            self.role = Role::Follower;
            self.observed = None;
        }
        let claim: Option<Claim> = self
            .storage
            .get_if_exists(&claim_path(&self.dir, epoch))
            .await?
            .and_then(|b| serde_json::from_slice(&b).ok());
        let holder = claim.map(|c| c.holder);
        if holder.as_deref() == Some(self.holder.as_str()) {
            // Our own id from before a restart: nobody else may use it.
            return self.try_claim(epoch + 1, t0).await;
        }
        let beat: Option<Beat> = self
            .storage
            .get_if_exists(&beat_path(&self.dir, epoch))
            .await?
            .and_then(|b| serde_json::from_slice(&b).ok());
        let (seq, released) = beat.map(|b| (b.seq, b.released)).unwrap_or((0, false));
        let expired = match self.observed {
            Some((e, s, since)) if e == epoch && s == seq => t0.duration_since(since) >= self.ttl,
            _ => {
                self.observed = Some((epoch, seq, t0));
                false
            }
        };
        if released || expired {
            tracing::info!(lease = %self.dir, epoch, holder = ?holder, released, "lease free; claiming it");
            return self.try_claim(epoch + 1, t0).await;
        }
        Ok(LeaseStatus::Follower { holder, epoch })
    }

    /// Gives the lease up (clean shutdown) so a follower takes it at once.
    pub async fn release(&mut self) -> Result<(), StorageError> {
        if let Role::Leader { epoch, .. } = self.role {
            self.role = Role::Follower;
            self.seq += 1;
            self.write_beat(epoch, true).await?;
            tracing::info!(lease = %self.dir, epoch, "lease released");
        }
        Ok(())
    }

    async fn latest_epoch(&self) -> Result<Option<u64>, StorageError> {
        let objects = self
            .storage
            .list(&Path::from(self.dir.as_str()), None)
            .await?;
        Ok(objects
            .iter()
            .filter_map(|m| m.location.filename()?.strip_suffix(".claim")?.parse().ok())
            .max())
    }

    async fn write_beat(&self, epoch: u64, released: bool) -> Result<(), StorageError> {
        let beat = Beat {
            holder: self.holder.clone(),
            epoch,
            seq: self.seq,
            at_ms: now_ms(),
            released,
        };
        self.storage
            .put_overwrite(&beat_path(&self.dir, epoch), json(&beat))
            .await
    }

    async fn try_claim(&mut self, epoch: u64, t0: Instant) -> Result<LeaseStatus, StorageError> {
        let claim = Claim {
            holder: self.holder.clone(),
            epoch,
            claimed_at_ms: now_ms(),
        };
        match self
            .storage
            .put_if_absent(&claim_path(&self.dir, epoch), json(&claim))
            .await?
        {
            PutOutcome::Created => {
                self.role = Role::Leader {
                    epoch,
                    valid_until: t0 + self.hold_for(),
                };
                self.seq = 0;
                self.observed = None;
                self.write_beat(epoch, false).await?;
                tracing::info!(lease = %self.dir, epoch, holder = %self.holder, "lease acquired");
                self.forget_before(epoch.saturating_sub(1)).await;
                Ok(LeaseStatus::Held { epoch })
            }
            PutOutcome::AlreadyExists => {
                self.observed = None;
                Ok(LeaseStatus::Follower {
                    holder: None,
                    epoch,
                })
            }
        }
    }

    /// Deletes the records of epochs before `epoch` (best effort: they are only
    /// history once a newer claim exists).
    async fn forget_before(&self, epoch: u64) {
        let Ok(objects) = self
            .storage
            .list(&Path::from(self.dir.as_str()), None)
            .await
        else {
            return;
        };
        for m in objects {
            let old = m
                .location
                .filename()
                .and_then(|f| f.split('.').next())
                .and_then(|e| e.parse::<u64>().ok())
                .is_some_and(|e| e < epoch);
            if old {
                let _ = self.storage.delete(&m.location).await;
            }
        }
    }
}

fn json<T: Serialize>(v: &T) -> Bytes {
    // Serialising these plain structs cannot fail.
    Bytes::from(serde_json::to_vec(v).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(s: &Storage, who: &str, ttl_ms: u64) -> Lease {
        Lease::new(s.clone(), "jobs", who, Duration::from_millis(ttl_ms))
    }

    async fn check_one_holder(storage: Storage) {
        // A ttl well above a poll's storage round trips (a list, a beat with
        // fsyncs), so a slow disk does not make the holder doubt itself.
        let mut a = lease(&storage, "a", 1000);
        let mut b = lease(&storage, "b", 1000);
        assert_eq!(a.poll().await.unwrap(), LeaseStatus::Held { epoch: 1 });
        assert!(matches!(
            b.poll().await.unwrap(),
            LeaseStatus::Follower { epoch: 1, .. }
        ));
        // `a` renews: `b` never takes over, however long it polls.
        let mut last_renewal = Instant::now();
        for _ in 0..10 {
            tokio::time::sleep(Duration::from_millis(60)).await;
            last_renewal = Instant::now();
            assert_eq!(a.poll().await.unwrap(), LeaseStatus::Held { epoch: 1 });
            assert!(matches!(
                b.poll().await.unwrap(),
                LeaseStatus::Follower { .. }
            ));
            assert!(a.held().is_some() && b.held().is_none());
        }
        // `a` stops renewing (a crash): its own view expires first, then `b` takes over.
        let took_over = loop {
            tokio::time::sleep(Duration::from_millis(20)).await;
            if let LeaseStatus::Held { epoch } = b.poll().await.unwrap() {
                break (epoch, last_renewal.elapsed());
            }
            assert!(
                last_renewal.elapsed() < Duration::from_secs(10),
                "no takeover"
            );
        };
        assert_eq!(took_over.0, 2);
        assert!(
            took_over.1 >= Duration::from_millis(1000),
            "took over before the ttl: {:?}",
            took_over.1
        );
        assert!(
            a.held().is_none(),
            "the old holder must have stopped before the takeover"
        );
        // The old holder comes back: it sees the newer epoch and steps down.
        assert!(matches!(
            a.poll().await.unwrap(),
            LeaseStatus::Follower { epoch: 2, .. }
        ));
        assert!(a.held().is_none());
        // A clean release hands over at the follower's next poll.
        b.release().await.unwrap();
        assert!(b.held().is_none());
        assert_eq!(a.poll().await.unwrap(), LeaseStatus::Held { epoch: 3 });
    }

    #[tokio::test]
    async fn one_holder_expiry_takeover_and_release_local() {
        let dir = tempfile::tempdir().unwrap();
        check_one_holder(Storage::open(dir.path().to_str().unwrap(), []).unwrap()).await;
    }

    #[tokio::test]
    async fn one_holder_expiry_takeover_and_release_memory() {
        check_one_holder(Storage::open("memory:///", []).unwrap()).await;
    }

    #[tokio::test]
    async fn racing_followers_elect_exactly_one() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(dir.path().to_str().unwrap(), []).unwrap();
        let mut handles = Vec::new();
        for i in 0..8 {
            let mut l = lease(&storage, &format!("i{i}"), 10_000);
            handles.push(tokio::spawn(async move { l.poll().await.unwrap() }));
        }
        let mut held = 0;
        for h in handles {
            if matches!(h.await.unwrap(), LeaseStatus::Held { .. }) {
                held += 1;
            }
        }
        assert_eq!(held, 1);
    }

    #[tokio::test]
    async fn a_restart_with_the_same_id_takes_its_lease_back_at_once() {
        let storage = Storage::open("memory:///", []).unwrap();
        let mut a = lease(&storage, "pod-0", 60_000);
        assert_eq!(a.poll().await.unwrap(), LeaseStatus::Held { epoch: 1 });
        drop(a);
        let mut again = lease(&storage, "pod-0", 60_000);
        assert_eq!(again.poll().await.unwrap(), LeaseStatus::Held { epoch: 2 });
        let mut other = lease(&storage, "pod-1", 60_000);
        assert!(matches!(
            other.poll().await.unwrap(),
            LeaseStatus::Follower { epoch: 2, .. }
        ));
    }
}
