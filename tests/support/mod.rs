//! Test kit for integration tests: start the real `softswitch` binary with
//! its own ports and data directory, and a small SIP/RTP user agent that
//! speaks plain text over real sockets (independent of the code under test).

#![allow(dead_code)]

pub mod agent;
pub mod idp;
pub mod web;

mod cdr;
mod http;
mod rtp;
mod server;
mod sip;

// Each test binary uses part of the kit.
#[allow(unused_imports)]
pub use {cdr::*, http::*, rtp::*, server::*, sip::*};

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
