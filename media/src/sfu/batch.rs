//! UDP datagrams leave in batches: polling the transports queues them, and one `sendmmsg`
//! then hands up to [`BATCH`] to the kernel. One video frame to 400 subscribers is about
//! 1,200 datagrams, and a `sendto` each was a large share of forwarding's cost. A full
//! batch leaves at once, so the first subscribers' copies of a frame do not wait for the
//! last subscribers' to be made.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::Instant;

use prometheus::Histogram;
use socket2::SockAddr;
use tokio::io::Interest;
use tokio::net::UdpSocket;

/// Datagrams per `sendmmsg` (the kernel takes at most `UIO_MAXIOV`, 1024).
const BATCH: usize = 64;

/// Datagrams queued for the UDP socket, in the order they were queued.
pub(super) struct Datagrams {
    queued: Vec<(SockAddr, Vec<u8>)>,
    /// While subscribers' copies of a frame are queued: when the packet completing the
    /// frame was read. Each copy's time from then to the socket goes to `copy_delay`.
    copies_of: Option<Instant>,
    copy_delay: Histogram,
}

impl Datagrams {
    pub(super) fn new(copy_delay: Histogram) -> Self {
        Self {
            queued: Vec::new(),
            copies_of: None,
            copy_delay,
        }
    }

    /// Queues a datagram; a full batch goes to the kernel now.
    pub(super) fn push(&mut self, socket: &UdpSocket, destination: SocketAddr, contents: Vec<u8>) {
        self.queued.push((SockAddr::from(destination), contents));
        if self.queued.len() >= BATCH {
            self.flush(socket);
        }
    }

    /// What is queued from now on is copies of a frame completed by a packet read at
    /// `read` (`None`: not copies).
    pub(super) fn copies_of(&mut self, read: Option<Instant>) {
        self.copies_of = read;
    }

    /// Sends every queued datagram without waiting. A full socket buffer loses the rest,
    /// as the network could (NACK and keyframe requests repair it); a datagram the
    /// kernel refuses on its own (an unreachable address) is skipped.
    pub(super) fn flush(&mut self, socket: &UdpSocket) {
        let mut sent = 0;
        while sent < self.queued.len() {
            let end = self.queued.len().min(sent + BATCH);
            match send(socket, &self.queued[sent..end]) {
                Ok(n) => {
                    if let Some(read) = self.copies_of {
                        let delay = super::now().duration_since(read).as_secs_f64();
                        (0..n).for_each(|_| self.copy_delay.observe(delay));
                    }
                    sent += n.max(1);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    tracing::debug!(error = %e, "udp send");
                    sent += 1;
                }
            }
        }
        self.queued.clear();
    }
}

/// Sends `datagrams` with one `sendmmsg`; answers how many the kernel took (from the
/// first on), or the first one's error.
fn send(socket: &UdpSocket, datagrams: &[(SockAddr, Vec<u8>)]) -> io::Result<usize> {
    let mut buffers: Vec<libc::iovec> = datagrams
        .iter()
        .map(|(_, contents)| libc::iovec {
            iov_base: contents.as_ptr() as *mut libc::c_void,
            iov_len: contents.len(),
        })
        .collect();
    let mut headers: Vec<libc::mmsghdr> = datagrams
        .iter()
        .zip(buffers.iter_mut())
        .map(|((destination, _), buffer)| {
            // SAFETY: msghdr is plain data, and all-zero is its empty value.
            let mut header: libc::msghdr = unsafe { std::mem::zeroed() };
            header.msg_name = destination.as_ptr() as *mut libc::c_void;
            header.msg_namelen = destination.len();
            header.msg_iov = buffer;
            header.msg_iovlen = 1;
            libc::mmsghdr {
                msg_hdr: header,
                msg_len: 0,
            }
        })
        .collect();
    socket.try_io(Interest::WRITABLE, || {
        // SAFETY: every header points at an address and a buffer borrowed from
        // `datagrams`, which outlive the call; the kernel only reads them.
        let sent = unsafe {
            libc::sendmmsg(
                socket.as_raw_fd(),
                headers.as_mut_ptr(),
                headers.len() as libc::c_uint,
                libc::MSG_DONTWAIT,
            )
        };
        if sent < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(sent as usize)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus::HistogramOpts;

    fn copy_delay() -> Histogram {
        Histogram::with_opts(HistogramOpts::new("copy_delay", "test")).unwrap()
    }

    /// More datagrams than one batch, to two receivers, arrive whole and in order; full
    /// batches leave as they fill, the rest at the flush.
    #[tokio::test]
    async fn every_queued_datagram_arrives_in_order() {
        let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let first = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let second = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut datagrams = Datagrams::new(copy_delay());
        let count = BATCH * 2 + 5;
        sender.writable().await.unwrap();
        for i in 0..count {
            let to = if i % 2 == 0 { &first } else { &second };
            let contents = format!("datagram {i}").into_bytes();
            datagrams.push(&sender, to.local_addr().unwrap(), contents);
        }
        assert_eq!(datagrams.queued.len(), 5, "two full batches already sent");
        datagrams.flush(&sender);
        assert!(datagrams.queued.is_empty());
        let mut buf = [0u8; 64];
        for i in 0..count {
            let from = if i % 2 == 0 { &first } else { &second };
            let n = from.recv(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], format!("datagram {i}").as_bytes());
        }
    }

    /// Each copy of a frame is timed from the read of its packet, and nothing else is.
    #[tokio::test]
    async fn only_copies_of_a_frame_are_timed_each_once() {
        let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let to = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let delay = copy_delay();
        let mut datagrams = Datagrams::new(delay.clone());
        sender.writable().await.unwrap();
        datagrams.push(&sender, to.local_addr().unwrap(), b"stun".to_vec());
        datagrams.flush(&sender);
        assert_eq!(delay.get_sample_count(), 0);

        let read = super::super::now();
        datagrams.copies_of(Some(read));
        for _ in 0..BATCH + 3 {
            datagrams.push(&sender, to.local_addr().unwrap(), b"copy".to_vec());
        }
        assert_eq!(
            delay.get_sample_count(),
            BATCH as u64,
            "a full batch is timed as it leaves"
        );
        datagrams.flush(&sender);
        datagrams.copies_of(None);
        assert_eq!(delay.get_sample_count(), BATCH as u64 + 3);
        let elapsed = super::super::now().duration_since(read).as_secs_f64();
        assert!(delay.get_sample_sum() <= elapsed * (BATCH + 3) as f64);
    }
}
