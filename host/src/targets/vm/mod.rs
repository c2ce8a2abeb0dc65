//! The VM target: the boot script and cloud-config a fresh Linode runs
//! ([`boot`], [`cloud_init`]), the Cloud Firewall's rules ([`firewall`]),
//! and the instance's boot log over ssh ([`ssh`]).

pub mod boot;
pub mod cloud_init;
pub mod firewall;
pub mod gpu_image;
pub mod ssh;
