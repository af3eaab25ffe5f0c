fn main() -> std::process::ExitCode {
    feedloop_cli::main()
}
