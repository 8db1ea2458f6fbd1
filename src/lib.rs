//! infergate: a performance gate for LLM inference endpoints.

pub mod client;
pub mod datagen;
pub mod loadgen;
pub mod plan;
pub mod recorder;
pub mod scenario;
pub mod schedule;
pub mod sim;
pub mod execute;
pub mod gate;
pub mod harness;
pub mod outputs;
pub mod run;
