//! The librdkafka client context and the consumer type built on it: routes
//! librdkafka logs to `tracing`, records lag from statistics, and forwards
//! rebalances to the consume loop.

use crate::metrics::IngestMetrics;
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::statistics::Statistics;
use rdkafka::topic_partition_list::TopicPartitionList;
use std::sync::Arc;
use tokio::sync::mpsc::UnboundedSender as Sender;

/// A change of this member's assignment, seen by the consume loop after the
/// `recv` that triggered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssignmentChange {
    Assigned(Vec<(String, i32)>),
    Revoked(Vec<(String, i32)>),
}

/// The consumer type of the pipeline.
pub type IngestConsumer = StreamConsumer<IngestContext>;

pub struct IngestContext {
    pub(crate) changes: Sender<AssignmentChange>,
    pub(crate) metrics: Arc<IngestMetrics>,
}

fn partitions(tpl: &TopicPartitionList) -> Vec<(String, i32)> {
    tpl.elements()
        .iter()
        .map(|e| (e.topic().to_string(), e.partition()))
        .collect()
}

impl ClientContext for IngestContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error => {
                tracing::error!(target: "librdkafka", facility = fac, "{log_message}")
            }
            RDKafkaLogLevel::Warning => {
                tracing::warn!(target: "librdkafka", facility = fac, "{log_message}")
            }
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::info!(target: "librdkafka", facility = fac, "{log_message}")
            }
            RDKafkaLogLevel::Debug => {
                tracing::debug!(target: "librdkafka", facility = fac, "{log_message}")
            }
        }
    }

    fn stats(&self, statistics: Statistics) {
        // Brokers learnt from metadata have node ids >= 0 (bootstrap entries
        // are -1); one of them up ends an outage even on idle topics.
        if statistics
            .brokers
            .values()
            .any(|b| b.nodeid >= 0 && b.state == "UP")
        {
            self.metrics.mark_brokers_up();
        }
        let Ok(assigned) = self.metrics.assigned.lock().map(|a| a.clone()) else {
            return;
        };
        let mut lag = std::collections::BTreeMap::new();
        for (topic, t) in &statistics.topics {
            for (p, part) in &t.partitions {
                if *p >= 0 && assigned.iter().any(|(at, ap)| at == topic && ap == p) {
                    lag.insert((topic.clone(), *p), part.consumer_lag.max(0));
                }
            }
        }
        if let Ok(mut l) = self.metrics.lag.lock() {
            *l = lag;
        }
    }

    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        self.metrics
            .consumer_errors
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if error.rdkafka_error_code() == Some(rdkafka::types::RDKafkaErrorCode::AllBrokersDown) {
            self.metrics.mark_brokers_down();
        }
        tracing::warn!(target: "librdkafka", %error, "{reason}");
    }
}

impl ConsumerContext for IngestContext {
    fn pre_rebalance(&self, _c: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            let parts = partitions(tpl);
            self.metrics
                .group_member
                .store(false, std::sync::atomic::Ordering::Relaxed);
            tracing::info!(partitions = ?parts, "partitions revoked");
            let _ = self.changes.send(AssignmentChange::Revoked(parts));
        }
    }

    fn post_rebalance(&self, _c: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(tpl) => {
                let parts = partitions(tpl);
                // librdkafka calls back on every completed rebalance, with an
                // empty list for a member left without partitions. The
                // pipeline marks the member placed once it owns these.
                tracing::info!(partitions = ?parts, "partitions assigned");
                let _ = self.changes.send(AssignmentChange::Assigned(parts));
            }
            Rebalance::Error(e) => tracing::warn!(error = %e, "rebalance error"),
            Rebalance::Revoke(_) => {}
        }
    }
}
