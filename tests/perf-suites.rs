//! Every scenario in `suites/` as a test case: `cargo test --test perf-suites`.
//! Your own repository can do the same with its own directory.

fn main() -> std::process::ExitCode {
    infergate::harness::main("suites")
}
