//! The production node: the engine on real sockets, driven by smol (feature `node`).
//!
//! One task, the [`driver`], owns the [`Engine`](crate::Engine). It is fed by the UDP socket,
//! the TCP gossip listener on the same port ([`transport::inbound`]), a timer at the engine's
//! `poll_timeout()`, and a control channel ([`control`]) through which the HTTP
//! [`gateway`] asks for snapshots and passes on operator commands. Its loop follows quinn's
//! driver: handle one input, flush what the engine sent, then check timers against our own
//! [`ProcessClock`](clock::ProcessClock) — never trusting a waker to say that time has passed.
//!
//! Output leaves through [`transport::QueuedNetwork`]: datagrams go straight to the UDP socket
//! (dropped and counted if the kernel buffer is full), stream frames to a per-peer
//! [`transport::pool::StreamPool`] of reused TCP connections with bounded queues and timeouts,
//! so a slow or dead peer never blocks the engine or grows memory.
//!
//! State that must survive a restart (member id, incarnation, the member view, the rumor
//! store) lives in the data dir ([`persist`]), written atomically and read back at start (rumors
//! through `Engine::import_rumors`); a corrupt file is moved aside. Mutating gateway requests
//! need the control secret ([`secret`]). Ring keys come from `--ring-key` and can be changed on
//! a running node through the gateway (install, use, remove); [`sealed`] opens service configs
//! and files sealed to a service key this node holds. [`cli`] holds the `engine-node` command
//! line and [`client`] its gateway-speaking and key-generating subcommands.

pub mod cli;
pub mod client;
pub mod clock;
pub mod control;
pub mod driver;
pub mod gateway;
pub mod persist;
pub mod run;
pub mod sealed;
pub mod secret;
pub mod transport;
