//! Prometheus sources: the text exposition format pulled from `/metrics` endpoints.

pub mod parser;
pub mod remote_write;
pub mod scrape;

pub use parser::ingest_text;
pub use scrape::scrape;
