//! The `quiver` binary: all of it lives in the `quiver-cli` library crate.

fn main() -> std::process::ExitCode {
    quiver_cli::main()
}
