//! Servers and files shared by the integration tests: a server that misbehaves on purpose, a real
//! S3-compatible store, and real tokenizers.

pub mod fault_server;
pub mod s3_server;
pub mod tokenizers;
