//! infergate: a performance gate for LLM inference endpoints.

pub mod client;
pub mod datagen;
pub mod execute;
pub mod gate;
pub mod harness;
pub mod loadgen;
pub mod outputs;
pub mod plan;
pub mod recorder;
pub mod run;
pub mod scenario;
pub mod schedule;
pub mod sim;
