//! The `veriphy-jobs` binary: parse the command line and hand over to the server.

#[tokio::main]
async fn main() {
    std::process::exit(veriphy_jobs::server::cli::run().await);
}
