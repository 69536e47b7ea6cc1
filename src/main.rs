fn main() -> std::process::ExitCode {
    netcheck::cli::main()
}
