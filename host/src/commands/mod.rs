//! One module per command: parse results in, core calls, rendered output out.

pub mod deploy;
pub mod destroy;
pub mod init;
pub mod status;
pub mod templates;

use anyhow::Result;

use crate::linode::LinodeClient;
use crate::output::Style;
use crate::settings::CliConfig;
use crate::template::{installed_dir, Catalog};

/// What every command gets.
pub struct Ctx {
    pub style: Style,
    pub as_user: Option<String>,
}

impl Ctx {
    pub fn config(&self) -> Result<CliConfig> {
        CliConfig::load(self.as_user.as_deref())
    }

    pub fn client(&self, config: &CliConfig) -> Result<LinodeClient> {
        LinodeClient::new(&config.api())
    }

    /// Stock plus installed templates; broken installed ones are warned about.
    pub fn catalog(&self) -> Result<Catalog> {
        let catalog = Catalog::load(&installed_dir()?);
        for p in &catalog.problems {
            eprintln!("warning: skipping installed template: {p}");
        }
        Ok(catalog)
    }
}

/// A runtime for the commands that talk HTTP.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
