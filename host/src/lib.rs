//! linode-ai: deploy AI demo apps to a fresh Linode with cloud-init.
//!
//! The layers, top to bottom (a module uses only the ones below it):
//!
//! - [`cli`], [`commands`], [`output`]: parse, call one workflow, print. The
//!   only layer that does terminal I/O.
//! - [`workflow`]: deploy, status, destroy, adopt (the account view), template
//!   install and scaffolding. Uses the blueprint, a target and the account.
//! - [`hooks`]: the sandboxed WebAssembly hooks that customise a rendering and
//!   the health verdict (and their build).
//! - [`targets`]: what turns a blueprint into something that runs; today
//!   [`targets::vm`] (the boot script, cloud-config, the firewall, ssh).
//! - [`blueprint`]: the template, its validated service graph, the proxy's
//!   routes and Caddyfile, the env and generated secrets. Names no target.
//! - [`linode`]: the Linode API client and its types.
//! - The outside world and plain helpers: [`registry`], [`health`],
//!   [`settings`], [`paths`], [`files`], [`ssh_keys`], [`naming`], [`state`],
//!   [`sanitize`], [`shell`], [`suggest`], [`yaml`].

pub mod cli;
pub mod commands;
pub mod output;

pub mod workflow;

pub mod hooks;

pub mod targets;

pub mod blueprint;

pub mod linode;

pub mod files;
pub mod health;
pub mod naming;
pub mod paths;
pub mod registry;
pub mod rt;
pub mod sanitize;
pub mod settings;
pub mod shell;
pub mod ssh_keys;
pub mod state;
pub mod suggest;
pub mod yaml;

#[cfg(test)]
mod layers;
