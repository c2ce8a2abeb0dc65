//! What turns a blueprint into something that runs. Today one target, a
//! Linode VM booted by cloud-init ([`vm`]); LKE will sit beside it.

pub mod vm;
