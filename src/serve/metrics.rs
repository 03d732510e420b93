//! `GET /metrics` in the Prometheus text format: requests by endpoint and
//! status, latency histograms, each model's queue depth and the sizes of
//! the batches it decoded (the `prometheus-client` crate, the Prometheus
//! project's own Rust client, keeps the format right).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Answer {
    endpoint: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Endpoint {
    endpoint: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Model {
    model: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// The server's counters, shared by the request handlers and the model workers.
pub struct Metrics {
    registry: Registry,
    requests: Family<Answer, Counter>,
    latency: Histograms<Endpoint>,
    queue_depth: Family<Model, Gauge>,
    batch_texts: Histograms<Model>,
}

fn latency_buckets() -> Histogram {
    // 0.25 ms to about 16 s.
    Histogram::new(exponential_buckets(0.000_25, 2.0, 17))
}

fn batch_buckets() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 2.0, 10))
}

/// One model's series: clones share the registered values.
#[derive(Clone, Debug)]
pub struct ModelMetrics {
    queue_depth: Gauge,
    batch_texts: Histogram,
}

impl ModelMetrics {
    /// A request joined the queue.
    pub fn queued(&self) {
        self.queue_depth.inc();
    }

    /// A request left the queue (taken by the worker, or refused).
    pub fn dequeued(&self) {
        self.queue_depth.dec();
    }

    /// One batch of `texts` computed together.
    pub fn batch(&self, texts: usize) {
        self.batch_texts.observe(texts as f64);
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("attend");
        let requests = Family::<Answer, Counter>::default();
        let latency: Histograms<Endpoint> = Family::new_with_constructor(latency_buckets);
        let queue_depth = Family::<Model, Gauge>::default();
        let batch_texts: Histograms<Model> = Family::new_with_constructor(batch_buckets);
        registry.register(
            "http_requests",
            "HTTP requests answered, by endpoint and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time from a request's arrival to its answer",
            latency.clone(),
        );
        registry.register(
            "queue_depth",
            "Requests waiting for a model",
            queue_depth.clone(),
        );
        registry.register(
            "batch_texts",
            "Texts (or queries) a model computed together",
            batch_texts.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            queue_depth,
            batch_texts,
        }
    }
}

impl Metrics {
    /// One answered request.
    pub fn answered(&self, endpoint: &str, status: u16, seconds: f64) {
        let endpoint = endpoint.to_string();
        self.requests
            .get_or_create(&Answer {
                endpoint: endpoint.clone(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&Endpoint { endpoint })
            .observe(seconds);
    }

    /// `model`'s own series (its queue depth and batch sizes), made once
    /// when its worker starts, so a request touches no label map.
    pub fn model(&self, model: &str) -> ModelMetrics {
        let label = Model {
            model: model.to_string(),
        };
        ModelMetrics {
            queue_depth: self.queue_depth.get_or_create(&label).clone(),
            batch_texts: self.batch_texts.get_or_create(&label).clone(),
        }
    }

    /// Everything, in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendered_metrics_count_what_happened() {
        let m = Metrics::default();
        m.answered("/v1/translate", 200, 0.003);
        m.answered("/v1/translate", 200, 0.004);
        m.answered("/v1/translate", 503, 0.0001);
        let model = m.model("fr-en");
        for _ in 0..4 {
            model.queued();
        }
        model.dequeued();
        m.model("fr-en").batch(17);
        let text = m.render();
        assert!(
            text.contains(
                "attend_http_requests_total{endpoint=\"/v1/translate\",status=\"200\"} 2"
            ),
            "{text}"
        );
        assert!(
            text.contains("attend_queue_depth{model=\"fr-en\"} 3"),
            "{text}"
        );
        assert!(
            text.contains("attend_batch_texts_count{model=\"fr-en\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("attend_http_request_duration_seconds_bucket"),
            "{text}"
        );
    }
}
