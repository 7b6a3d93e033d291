//! Text rules for posts (being written).
