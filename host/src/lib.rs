//! linode-ai: deploy AI demo apps to a fresh Linode with cloud-init.
//!
//! Core modules (no terminal I/O): [`template`], [`stack`], [`catalog`],
//! [`manifest`], [`envfile`], [`secrets`], [`settings`], [`paths`],
//! [`files`], [`yaml`], [`cloud_init`], [`boot`], [`proxy`], [`firewall`],
//! [`naming`], [`registry`], [`linode`], [`account`], [`health`], [`hooks`],
//! [`deploy`], [`status`], [`destroy`], [`ssh`], [`state`], [`sanitize`],
//! [`shell`], [`suggest`]. The command layer ([`cli`], [`commands`], [`output`]) parses,
//! calls the core and prints.

pub mod account;
pub mod boot;
pub mod catalog;
pub mod cli;
pub mod cloud_init;
pub mod commands;
pub mod deploy;
pub mod destroy;
pub mod envfile;
pub mod files;
pub mod firewall;
pub mod health;
pub mod hook_build;
pub mod hooks;
pub mod linode;
pub mod manifest;
pub mod naming;
pub mod output;
pub mod paths;
pub mod proxy;
pub mod registry;
pub mod sanitize;
pub mod scaffold;
pub mod secrets;
pub mod settings;
pub mod shell;
pub mod ssh;
pub mod ssh_keys;
pub mod stack;
pub mod state;
pub mod status;
pub mod suggest;
pub mod template;
pub mod template_store;
pub mod yaml;
