//! Runtime configuration, all from the environment (and the command line).

use std::path::PathBuf;

/// Settings the server and worker read at start.
#[derive(Debug, Clone)]
pub struct Config {
    /// External PostgreSQL; `None` means the embedded default under `data_dir`.
    pub database_url: Option<String>,
    /// Where the embedded cluster (and later, stored files) live.
    pub data_dir: PathBuf,
    /// The URL people use to reach the console; https turns on `__Host-`/Secure cookies.
    pub public_url: Option<String>,
    /// Whether `serve` also runs a queue worker (`VERIPHY_WORKER`, default on).
    pub in_process_worker: bool,
}

impl Config {
    /// Reads `DATABASE_URL`, `VERIPHY_DATA_DIR` (default `./data`) and `VERIPHY_PUBLIC_URL`.
    pub fn from_env() -> Self {
        let non_empty = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        Config {
            database_url: non_empty("DATABASE_URL"),
            data_dir: non_empty("VERIPHY_DATA_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("data")),
            public_url: non_empty("VERIPHY_PUBLIC_URL"),
            in_process_worker: !non_empty("VERIPHY_WORKER").is_some_and(|v| {
                matches!(
                    v.trim().to_ascii_lowercase().as_str(),
                    "off" | "0" | "false" | "no"
                )
            }),
        }
    }

    /// Whether cookies must be `Secure` (the console is served over https).
    pub fn secure_cookies(&self) -> bool {
        self.public_url
            .as_deref()
            .is_some_and(|url| url.starts_with("https://"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_public_url_means_secure_cookies() {
        let mut config = Config {
            database_url: None,
            data_dir: "data".into(),
            public_url: None,
            in_process_worker: true,
        };
        assert!(!config.secure_cookies());
        config.public_url = Some("https://jobs.veriphy.example".into());
        assert!(config.secure_cookies());
        config.public_url = Some("http://127.0.0.1:3000".into());
        assert!(!config.secure_cookies());
    }
}
