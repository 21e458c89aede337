//! The `veriphy-jobs` binary: parse the command line and hand over to the server.

fn main() {
    // The document analyser child (server::sandbox) starts here, before any
    // runtime or thread exists, so the limits it sets cover all it does.
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(veriphy_jobs::server::sandbox::SUBCOMMAND) {
        std::process::exit(veriphy_jobs::server::sandbox::child_main(&args[2..]));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the async runtime starts");
    std::process::exit(runtime.block_on(veriphy_jobs::server::cli::run()));
}
