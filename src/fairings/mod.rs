//! Fairings: token rotation, the sweeper of dead sessions, response headers.

pub mod headers;
pub mod metrics;
pub mod revocations;
pub mod rotation;
pub mod sweeper;

pub use headers::SecurityHeaders;
pub use metrics::RequestMetrics;
pub use revocations::RevocationListener;
pub use rotation::TokenRotation;
pub use sweeper::Sweeper;
