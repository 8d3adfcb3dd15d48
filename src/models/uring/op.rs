//! What each request is, carried in its `user_data` and read back from
//! its completions.
//!
//! A completion says only its request's 64-bit `user_data`: here the kind
//! of request, the slab key of the listener or connection it belongs to,
//! and 16 bits of that entry's unique id. A slab key is reused only after
//! every request of its previous owner has completed, so a completion can
//! never reach a new owner; the id bits check that, cheaply, anyway.

/// The kinds of request the model submits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// A listener's multishot accept.
    Accept = 1,
    /// A connection's multishot recv.
    Recv = 2,
    /// A connection's one send in flight.
    Send = 3,
    /// A cancellation of one of the above (its own completion is ignored).
    Cancel = 4,
    /// The multishot poll on the epoll descriptor that carries signals
    /// and UDP sockets.
    Poll = 5,
}

/// Packs `op`, a slab `key` and the entry's `id` into a `user_data`.
pub fn pack(op: Op, key: usize, id: u64) -> u64 {
    debug_assert!(key < 1 << 32);
    (key as u64) << 32 | (id & 0xffff) << 8 | op as u64
}

/// Unpacks a `user_data`: the op, the slab key, and the id bits to
/// compare with [`id_bits`] of the entry found there.
pub fn unpack(data: u64) -> (Option<Op>, usize, u64) {
    let op = match data & 0xff {
        1 => Some(Op::Accept),
        2 => Some(Op::Recv),
        3 => Some(Op::Send),
        4 => Some(Op::Cancel),
        5 => Some(Op::Poll),
        _ => None,
    };
    (op, (data >> 32) as usize, (data >> 8) & 0xffff)
}

/// The bits of an entry's id that [`pack`] keeps.
pub fn id_bits(id: u64) -> u64 {
    id & 0xffff
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for (op, key, id) in [
            (Op::Recv, 0, 1),
            (Op::Send, 123_456, 70_000),
            (Op::Poll, 0, 0),
        ] {
            let (o, k, i) = unpack(pack(op, key, id));
            assert_eq!((o, k, i), (Some(op), key, id_bits(id)));
        }
    }
}
