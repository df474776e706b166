//! The unbounded channel of the std-threads peer ([`crate::threads_peer`]):
//! one trait, implemented for flume and for crossbeam-channel.

use std::fmt::Debug;

/// An unbounded MPMC channel crate: what the std-threads workloads use.
pub trait Chan: 'static {
    type Tx<T: Send + 'static>: Clone + Send + 'static;
    type Rx<T: Send + 'static>: Send + 'static;
    type SendError<T: Send + 'static>: Debug;

    fn unbounded<T: Send + 'static>() -> (Self::Tx<T>, Self::Rx<T>);
    fn send<T: Send + 'static>(tx: &Self::Tx<T>, value: T) -> Result<(), Self::SendError<T>>;
    /// Blocks for the next value; `None` once every sender is gone.
    fn recv<T: Send + 'static>(rx: &Self::Rx<T>) -> Option<T>;
}

/// Implements [`Chan`] for `$name` with crate `$krate`, whose API
/// (`unbounded`, `Sender::send`, `Receiver::recv`) both crates share.
macro_rules! chan {
    ($name:ident, $krate:ident) => {
        pub enum $name {}

        impl Chan for $name {
            type Tx<T: Send + 'static> = $krate::Sender<T>;
            type Rx<T: Send + 'static> = $krate::Receiver<T>;
            type SendError<T: Send + 'static> = $krate::SendError<T>;

            #[inline]
            fn unbounded<T: Send + 'static>() -> (Self::Tx<T>, Self::Rx<T>) {
                $krate::unbounded()
            }

            #[inline]
            fn send<T: Send + 'static>(
                tx: &Self::Tx<T>,
                value: T,
            ) -> Result<(), Self::SendError<T>> {
                tx.send(value)
            }

            #[inline]
            fn recv<T: Send + 'static>(rx: &Self::Rx<T>) -> Option<T> {
                rx.recv().ok()
            }
        }
    };
}

chan!(Flume, flume);
chan!(Crossbeam, crossbeam_channel);
