//! The `infergate` binary: the command line lives in the library (`infergate::cli`).

fn main() -> std::process::ExitCode {
    infergate::cli::main()
}
