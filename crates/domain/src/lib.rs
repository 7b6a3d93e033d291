//! Starling's domain: identifiers, models and the rules of microsharing, with no I/O.
//!
//! Everything here is pure so that it can be unit- and property-tested in isolation;
//! the service layer feeds it facts loaded from the store.

pub mod account;
pub mod email;
pub mod group;
pub mod id;
pub mod list;
pub mod push;
pub mod scope;
pub mod tag;
pub mod text;
pub mod visibility;
