//! What an engine asks of one generator connection, whatever carries it: a
//! byte stream ([`super::conn::Conn`], TCP or Unix) or datagrams
//! ([`super::datagram::DatagramConn`], UDP).
//!
//! The engine is generic over this trait rather than holding trait objects
//! or an enum, so each kind gets its own copy of the loop: the stream hot
//! path (`flush`, `read`) costs exactly what it did before UDP existed, and
//! the datagram-only work (loss deadlines) is compiled out of the stream
//! engine through [`Link::LOSSY`].
//!
//! # Contract
//! - Requests are issued with [`Link::issue`] and put on the wire by
//!   [`Link::flush`]; every reply (intact or not) that belongs to an issued
//!   request comes back once through [`Link::read`]'s `done`.
//! - A stream link never loses a request: a missing reply is a fault
//!   (truncation). A lossy link gives up on a request after its loss
//!   deadline and hands it back through [`Link::expire`]; the engine counts
//!   it lost and, in closed loop, reuses its slot.

use std::collections::VecDeque;
use std::io;

use mio::event::Source;

use crate::run::result::Counters;
use crate::target::Target;
use crate::verify::Verdict;

/// Timing of one request whose reply has not fully arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Inflight {
    /// When the schedule meant to send it (ns since the run's base instant).
    pub intended: u64,
    /// When it was handed to the connection's send path.
    pub sent: u64,
}

/// What a [`Link::read`] found besides replies.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadEnd {
    /// The socket has no more bytes for now.
    Drained,
    /// The server closed its side.
    Eof,
}

/// Where a [`Link::read`] puts what it found.
pub struct Found<'a> {
    /// Each reply to a request of the connection, with its verdict.
    pub replies: &'a mut Vec<(Inflight, Verdict)>,
    /// The counts of bytes that answer no outstanding request.
    pub counters: &'a mut Counters,
}

/// The timing a lossy link gives a damaged datagram that answers no
/// request: it lies after every window, so the engine counts the fault but
/// never a reply, and frees no closed-loop slot for it.
pub const STRAY: Inflight = Inflight {
    intended: u64::MAX,
    sent: u64::MAX,
};

/// What every link of a run is opened with.
#[derive(Clone, Debug)]
pub struct Dial {
    /// The server.
    pub target: Target,
    /// Connections across all engines (for the schedule's interleaving).
    pub peers: u32,
    /// Request size in bytes.
    pub size: usize,
    /// udp: how long (ns) a request waits for its reply before it is lost;
    /// stream links ignore it.
    pub loss_timeout: u64,
}

/// What every link keeps the same way, so that the trait's accessors are
/// written once (as its provided methods).
#[derive(Debug)]
pub struct LinkState {
    /// Global connection index, carried in every request header.
    pub id: u32,
    /// False once the connection has failed or been closed.
    pub open: bool,
    /// Open loop only: intended times of requests that are due but not yet
    /// issued because the connection has no room ([`Link::has_room`]).
    pub backlog: VecDeque<u64>,
    /// Whether the socket is registered for writable events.
    pub write_interest: bool,
}

impl LinkState {
    /// An open link `id`, registered for writable events, nothing due.
    pub fn new(id: u32) -> LinkState {
        LinkState {
            id,
            open: true,
            backlog: VecDeque::new(),
            write_interest: true,
        }
    }
}

/// One generator connection as the engine drives it.
pub trait Link: Sized {
    /// The registered socket.
    type Socket: Source;

    /// True when requests may be lost and expire (datagrams). False lets
    /// the compiler drop every expiry step from the stream engine.
    const LOSSY: bool;

    /// Starts connecting to `dial`'s target as global connection `id` of
    /// its peers.
    fn open(dial: &Dial, id: u32) -> io::Result<Self>;

    /// The socket, to register with the poller.
    fn socket(&mut self) -> &mut Self::Socket;

    /// True once the connection is usable; false while a handshake is in
    /// progress. Called on readiness events until it returns true.
    ///
    /// # Errors
    /// The connect failed.
    fn established(&self) -> io::Result<bool>;

    /// Called once when [`Link::established`] first returns true: socket
    /// options that only apply to a connected socket (TCP_NODELAY).
    fn tune(&self) -> io::Result<()>;

    /// What every link keeps alike (see [`LinkState`]).
    fn state(&self) -> &LinkState;

    /// The same, to change.
    fn state_mut(&mut self) -> &mut LinkState;

    /// Global connection index.
    fn id(&self) -> u32 {
        self.state().id
    }

    /// False once the connection has failed or been closed.
    fn is_open(&self) -> bool {
        self.state().open
    }

    /// Marks the connection closed, shuts the socket and forgets every
    /// request; returns how many were outstanding.
    fn close(&mut self) -> u64;

    /// Open loop: intended times of requests due but not yet issued.
    fn backlog(&mut self) -> &mut VecDeque<u64> {
        &mut self.state_mut().backlog
    }

    /// Backlogged requests intended inside `[from, to)`.
    fn unsent_in(&self, from: u64, to: u64) -> u64;

    /// True when another request may be issued now.
    fn has_room(&self) -> bool;

    /// Records a request intended at `intended`, issued at `now`.
    fn issue(&mut self, intended: u64, now: u64);

    /// Puts issued requests on the wire until the socket would block.
    fn flush(&mut self) -> io::Result<()>;

    /// Bytes issued but not yet taken by the socket.
    fn unsent(&self) -> usize;

    /// Whether the socket is registered for writable events.
    fn write_interest(&self) -> bool {
        self.state().write_interest
    }

    /// Records the registration.
    fn set_write_interest(&mut self, on: bool) {
        self.state_mut().write_interest = on;
    }

    /// Reads what the socket holds and pushes each reply to a request of
    /// this connection, with its verdict, to `to.replies`. Bytes that answer
    /// no outstanding request are accounted in `to.counters` (and, when they
    /// are damage, pushed to the replies with a timing that lies outside any
    /// window so they are counted as faults but never as replies).
    ///
    /// # Errors
    /// Socket errors, and stream bytes no echo could have sent.
    fn read(&mut self, scratch: &mut [u8], closing: bool, to: Found) -> io::Result<ReadEnd>;

    /// Bytes moved either way so far (the drain's sign of life).
    fn moved(&self) -> u64;

    /// Bytes received from the server so far.
    fn received(&self) -> u64;

    /// True when no request is awaiting its reply.
    fn drained(&self) -> bool;

    /// Requests awaiting their replies.
    fn outstanding(&self) -> u64;

    /// Why the replies still outstanding when the drain gave up are
    /// missing, for the error message (e.g. bytes of a partial reply).
    fn missing_detail(&self) -> String;

    /// A reply in progress whose bytes are wrong but too few to have been
    /// judged, with its verdict, forgotten here; for the engine giving up
    /// on the connection. Datagrams are judged whole, so lossy links have
    /// none.
    fn take_damage(&mut self) -> Option<(Inflight, Verdict)>;

    /// Lossy links: hands every request whose loss deadline is at or
    /// before `now` to `lost`, oldest first, and forgets it (a reply that
    /// comes later is counted late). Stream links never lose a request.
    fn expire(&mut self, now: u64, lost: &mut Vec<Inflight>);

    /// Lossy links: the earliest loss deadline of a request still waiting.
    fn next_expiry(&self) -> Option<u64>;
}
