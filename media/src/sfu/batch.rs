//! UDP datagrams leave in batches: polling the transports queues them, and one `sendmmsg`
//! then hands up to [`BATCH`] to the kernel. One video frame to 400 subscribers is about
//! 1,200 datagrams, and a `sendto` each was a large share of forwarding's cost. A full
//! batch leaves at once, so the first subscribers' copies of a frame do not wait for the
//! last subscribers' to be made.
//!
//! Consecutive datagrams to one client (the packets of one video frame) go as one message
//! that the kernel cuts back into them (UDP segmentation offload, `UDP_SEGMENT`): the IP
//! stack is walked once for the frame, not once per packet.

use std::io;
use std::net::SocketAddr;
use std::ops::Range;
use std::os::fd::AsRawFd;
use std::time::Instant;

use prometheus::Histogram;
use socket2::SockAddr;
use tokio::io::Interest;
use tokio::net::UdpSocket;

/// Datagrams per `sendmmsg` (the kernel takes at most `UIO_MAXIOV`, 1024).
const BATCH: usize = 64;
/// Most datagrams one segmented message may carry (the kernel's `UDP_MAX_SEGMENTS`).
const MAX_SEGMENTS: usize = 64;
/// Most bytes one segmented message may carry (under a UDP payload's 65,507).
const MAX_MESSAGE_BYTES: usize = 65_000;

/// Datagrams queued for the UDP socket, in the order they were queued.
pub(super) struct Datagrams {
    queued: Vec<(SockAddr, Vec<u8>)>,
    /// While subscribers' copies of a frame are queued: when the packet completing the
    /// frame was read. Each copy's time from then to the socket goes to `copy_delay`.
    copies_of: Option<Instant>,
    copy_delay: Histogram,
    /// Whether runs of datagrams to one client go as one segmented message; off once the
    /// socket refuses it (a kernel or interface without UDP segmentation offload).
    segmenting: bool,
}

impl Datagrams {
    pub(super) fn new(copy_delay: Histogram) -> Self {
        Self {
            queued: Vec::new(),
            copies_of: None,
            copy_delay,
            segmenting: true,
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
            match send(socket, &self.queued[sent..end], self.segmenting) {
                Ok(n) => {
                    if let Some(read) = self.copies_of {
                        let delay = super::now().duration_since(read).as_secs_f64();
                        (0..n).for_each(|_| self.copy_delay.observe(delay));
                    }
                    sent += n.max(1);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                // Sent again one by one.
                Err(e) if self.segmenting && refuses_segmenting(&e) => {
                    tracing::warn!(error = %e, "udp segmentation offload refused, not used");
                    self.segmenting = false;
                }
                Err(e) => {
                    tracing::debug!(error = %e, "udp send");
                    sent += 1;
                }
            }
        }
        self.queued.clear();
    }
}

/// Errors of a socket that cannot segment (`udp_send_skb` answers `EIO` where the
/// interface cannot checksum; older kernels do not know the option).
fn refuses_segmenting(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EIO | libc::EINVAL | libc::ENOPROTOOPT | libc::EOPNOTSUPP)
    )
}

/// Splits `datagrams` into messages: with `segmenting`, a run to one destination whose
/// datagrams are all the size of its first but the last (which may be shorter) is one
/// message, as the kernel cuts a segmented message; otherwise each datagram is its own.
fn messages(datagrams: &[(SockAddr, Vec<u8>)], segmenting: bool) -> Vec<Range<usize>> {
    let mut messages = Vec::new();
    let mut start = 0;
    while start < datagrams.len() {
        let (destination, first) = &datagrams[start];
        let size = first.len();
        let (mut end, mut bytes) = (start + 1, size);
        while segmenting && size > 0 && end < datagrams.len() && end - start < MAX_SEGMENTS {
            let (to, next) = &datagrams[end];
            let after_short = datagrams[end - 1].1.len() < size;
            if to != destination || next.len() > size || after_short {
                break;
            }
            if bytes + next.len() > MAX_MESSAGE_BYTES {
                break;
            }
            bytes += next.len();
            end += 1;
        }
        messages.push(start..end);
        start = end;
    }
    messages
}

/// Control data with room for one `UDP_SEGMENT` option, aligned as `cmsghdr` needs.
type Control = [u64; 4];

/// Tells the kernel to cut `header`'s message into datagrams of `size` bytes.
fn segment(header: &mut libc::msghdr, control: &mut Control, size: u16) {
    header.msg_control = control.as_mut_ptr().cast();
    // SAFETY: `control` has room for a header and a u16 (CMSG_SPACE(2) is 24 bytes here);
    // CMSG_FIRSTHDR points into it, as `msg_control` and `msg_controllen` say.
    unsafe {
        header.msg_controllen = libc::CMSG_SPACE(size_of::<u16>() as u32) as _;
        let option = libc::CMSG_FIRSTHDR(header);
        (*option).cmsg_level = libc::SOL_UDP;
        (*option).cmsg_type = libc::UDP_SEGMENT;
        (*option).cmsg_len = libc::CMSG_LEN(size_of::<u16>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(option).cast::<u16>(), size);
    }
}

/// Sends `datagrams` with one `sendmmsg`, segmenting runs to one destination if
/// `segmenting`; answers how many datagrams the kernel took (from the first on), or the
/// first one's error.
fn send(
    socket: &UdpSocket,
    datagrams: &[(SockAddr, Vec<u8>)],
    segmenting: bool,
) -> io::Result<usize> {
    let messages = messages(datagrams, segmenting);
    let mut buffers: Vec<libc::iovec> = datagrams
        .iter()
        .map(|(_, contents)| libc::iovec {
            iov_base: contents.as_ptr() as *mut libc::c_void,
            iov_len: contents.len(),
        })
        .collect();
    let mut controls: Vec<Control> = vec![[0; 4]; messages.len()];
    let mut headers: Vec<libc::mmsghdr> = messages
        .iter()
        .zip(controls.iter_mut())
        .map(|(message, control)| {
            let (destination, first) = &datagrams[message.start];
            // SAFETY: msghdr is plain data, and all-zero is its empty value.
            let mut header: libc::msghdr = unsafe { std::mem::zeroed() };
            header.msg_name = destination.as_ptr() as *mut libc::c_void;
            header.msg_namelen = destination.len();
            header.msg_iov = buffers[message.clone()].as_mut_ptr();
            header.msg_iovlen = message.len() as _;
            if message.len() > 1 {
                segment(&mut header, control, first.len() as u16);
            }
            libc::mmsghdr {
                msg_hdr: header,
                msg_len: 0,
            }
        })
        .collect();
    socket.try_io(Interest::WRITABLE, || {
        // SAFETY: every header points at an address, buffers and control data borrowed
        // from `datagrams`, `buffers` and `controls`, which outlive the call and are not
        // moved; the kernel only reads them.
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
            Ok(messages[..sent as usize].iter().map(Range::len).sum())
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

    fn queue(sizes: &[(&SockAddr, usize)]) -> Vec<(SockAddr, Vec<u8>)> {
        sizes
            .iter()
            .enumerate()
            .map(|(i, (to, size))| ((*to).clone(), vec![i as u8; *size]))
            .collect()
    }

    /// A run to one client goes as one message while every datagram but its last has
    /// the first one's size, up to the kernel's limits.
    #[test]
    fn runs_to_one_client_of_one_size_become_one_message() {
        let a = SockAddr::from("127.0.0.1:1000".parse::<SocketAddr>().unwrap());
        let b = SockAddr::from("127.0.0.1:2000".parse::<SocketAddr>().unwrap());
        // A frame of three packets, an audio packet to another client, then a run that a
        // longer datagram and a short one in the middle each end.
        let sizes = [
            (&a, 1000),
            (&a, 1000),
            (&a, 400),
            (&b, 300),
            (&a, 500),
            (&a, 600),
            (&a, 600),
            (&a, 200),
            (&a, 600),
        ];
        let queued = queue(&sizes);
        assert_eq!(messages(&queued, true), [0..3, 3..4, 4..5, 5..8, 8..9]);
        let one_by_one: Vec<Range<usize>> = (0..sizes.len()).map(|i| i..i + 1).collect();
        assert_eq!(messages(&queued, false), one_by_one);

        let many = queue(&[(&a, 100); MAX_SEGMENTS + 1]);
        assert_eq!(
            messages(&many, true),
            [0..MAX_SEGMENTS, MAX_SEGMENTS..MAX_SEGMENTS + 1]
        );
        // 50 datagrams of 1,300 bytes fill a message's 65,000.
        let big = queue(&[(&a, 1_300); 60]);
        let fit = MAX_MESSAGE_BYTES / 1_300;
        assert_eq!(messages(&big, true), [0..fit, fit..60]);
    }

    /// Segmented messages arrive as the datagrams they were made of, in order.
    #[tokio::test]
    async fn segmented_datagrams_arrive_whole_and_in_order() {
        let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let first = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let second = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let (a, b) = (first.local_addr().unwrap(), second.local_addr().unwrap());
        let sizes = [(a, 1000), (a, 1000), (a, 400), (b, 300), (a, 500), (a, 600)];
        let mut datagrams = Datagrams::new(copy_delay());
        sender.writable().await.unwrap();
        for (i, (to, size)) in sizes.iter().enumerate() {
            datagrams.push(&sender, *to, vec![i as u8; *size]);
        }
        datagrams.flush(&sender);
        assert!(datagrams.segmenting, "the loopback interface segments");
        let mut buf = [0u8; 2000];
        for (i, (to, size)) in sizes.iter().enumerate() {
            let from = if *to == a { &first } else { &second };
            let n = from.recv(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], vec![i as u8; *size].as_slice(), "datagram {i}");
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
