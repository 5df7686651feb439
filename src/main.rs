use std::process::ExitCode;

fn main() -> ExitCode {
    let matches = wirelab::cli::command().get_matches();
    let cli = match <wirelab::cli::Cli as clap::FromArgMatches>::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    match wirelab::cmd::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // A closed pipe (`wirelab ... | head`) is the reader's choice, not a failure.
            if let Some(io) = err.downcast_ref::<std::io::Error>() {
                if io.kind() == std::io::ErrorKind::BrokenPipe {
                    return ExitCode::SUCCESS;
                }
            }
            eprintln!("wirelab: {err:#}");
            ExitCode::from(wirelab::exit::code_for(&err))
        }
    }
}
