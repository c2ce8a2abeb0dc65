//! linode-ai: deploy AI demo apps to a fresh Linode with cloud-init.
//!
//! Core modules (no terminal I/O): [`template`], [`manifest`], [`envfile`],
//! [`settings`], [`cloud_init`], [`naming`], [`registry`], [`linode`],
//! [`health`], [`hooks`], [`deploy`], [`status`]. The command layer
//! ([`cli`], [`commands`], [`output`]) parses, calls the core and prints.

pub mod cli;
pub mod cloud_init;
pub mod commands;
pub mod deploy;
pub mod envfile;
pub mod health;
pub mod hooks;
pub mod linode;
pub mod manifest;
pub mod naming;
pub mod output;
pub mod registry;
pub mod settings;
pub mod status;
pub mod template;
pub mod template_store;
