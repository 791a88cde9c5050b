//! The `changegate` binary: parse the command line, run it, turn the outcome
//! into an exit code. Everything else lives in the library.

fn main() -> std::process::ExitCode {
    changegate::main(std::env::args_os())
}
