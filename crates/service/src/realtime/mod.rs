//! Real-time delivery: posts, notifications and conversation updates pushed to connected
//! clients the moment they are stored (DESIGN.md, "Real-time delivery").
//!
//! Use cases publish small [`Event`]s to the node's hub after their write succeeds;
//! front ends open a [`Subscription`] per connection and receive [`StreamMessage`]s that
//! have already been through the visibility rule for their viewer. The streaming API
//! (WebSocket and Server-Sent Events) only converts and writes them.

mod hub;
mod relay;
mod streams;

pub(crate) use hub::Hub;
pub use hub::{Event, PostRef};
pub(crate) use relay::Relay;
pub use streams::{StreamClosed, StreamEvent, StreamMessage, StreamSpec, Subscription};
