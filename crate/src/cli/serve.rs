//! `microlearning serve`: the lab's site and the collection server (see `server/`).

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::error::{LabError, Result};
use crate::server::{ServeOptions, serve};

/// Where studies live unless `--database` says otherwise.
pub const DEFAULT_DATABASE: &str = "sqlite://lab-data/lab.db";

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// `sqlite://PATH` (created on first start) or `postgres://USER[:PASSWORD]@HOST[:PORT]/DB`.
    #[arg(long, default_value = DEFAULT_DATABASE, env = "MICROLEARNING_DATABASE")]
    pub database: String,
    /// Address and port to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", env = "MICROLEARNING_LISTEN")]
    pub listen: SocketAddr,
    /// The built site: the folder with index.html, www/ and data/.
    #[arg(long, default_value = ".")]
    pub site: PathBuf,
}

/// A multi-threaded tokio runtime for the server commands.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| LabError::Collection(format!("could not start the async runtime: {e}")))
}

pub fn run_serve(args: &ServeArgs) -> Result<()> {
    runtime()?
        .block_on(serve(ServeOptions {
            database: args.database.clone(),
            listen: args.listen,
            site: args.site.clone(),
        }))
        .map_err(|e| LabError::Collection(e.to_string()))
}
