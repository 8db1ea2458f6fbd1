//! Servers shared by several test binaries.

pub mod fault_server;
