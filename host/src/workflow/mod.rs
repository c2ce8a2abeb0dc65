//! The things a user does, each from the blueprint, a target and the
//! account to a typed outcome: [`deploy`], [`status`], [`destroy`], the
//! account view behind adopt/status/destroy ([`account`]), [`adopt`], [`park`] and resume, the LKE
//! target's deploy/status/logs/destroy ([`lke`]), template install
//! ([`template_store`]) and scaffolding ([`scaffold`]). No terminal I/O.

pub mod account;
pub mod adopt;
pub mod deploy;
pub mod destroy;
pub mod dns;
pub mod image;
pub mod lke;
pub mod park;
pub mod project;
pub mod scaffold;
pub mod status;
pub mod template_store;
