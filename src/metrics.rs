//! Prometheus metrics, served as text at `GET /metrics`.

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

/// Every metric the server keeps.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// Answers by route template, method and status.
    pub requests: IntCounterVec,
    /// Signins by result (`success`, `failure`, `throttled`).
    pub signins: IntCounterVec,
    pub tokens_issued: IntCounter,
    /// Refused bearer requests by reason.
    pub tokens_refused: IntCounterVec,
    /// Live sessions, counted in the database at each scrape.
    pub live_sessions: IntGauge,
    /// Seconds spent waiting for a password-hashing slot.
    pub hash_wait: Histogram,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("bearer_auth".into()), None)?;
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP answers by route, method and status",
            ),
            &["route", "method", "status"],
        )?;
        let signins = IntCounterVec::new(
            Opts::new("signins_total", "Signin attempts by result"),
            &["result"],
        )?;
        let tokens_issued = IntCounter::new("tokens_issued_total", "Tokens issued")?;
        let tokens_refused = IntCounterVec::new(
            Opts::new("tokens_refused_total", "Bearer requests refused, by reason"),
            &["reason"],
        )?;
        let live_sessions = IntGauge::new("live_sessions", "Live sessions in the database")?;
        let hash_wait = Histogram::with_opts(
            HistogramOpts::new(
                "password_hash_wait_seconds",
                "Time waiting for a password-hashing slot",
            )
            .buckets(vec![
                0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(signins.clone()))?;
        registry.register(Box::new(tokens_issued.clone()))?;
        registry.register(Box::new(tokens_refused.clone()))?;
        registry.register(Box::new(live_sessions.clone()))?;
        registry.register(Box::new(hash_wait.clone()))?;
        Ok(Self {
            registry,
            requests,
            signins,
            tokens_issued,
            tokens_refused,
            live_sessions,
            hash_wait,
        })
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> Result<String, prometheus::Error> {
        let mut buffer = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buffer)?;
        String::from_utf8(buffer).map_err(|e| prometheus::Error::Msg(e.to_string()))
    }
}
