//! What turns a blueprint into something that runs: a Linode VM booted by
//! cloud-init ([`vm`]), or Kubernetes objects for an LKE cluster ([`lke`]).

pub mod lke;
pub mod vm;
