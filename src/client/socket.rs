//! One connection of the fast path (`h1`): writes, and reads stamped with when their bytes arrived.
//!
//! A load thread that is busy with other streams reads a token some time after it reached the
//! host; stamping the read when it returns adds that time to TTFT and ITL. When asked
//! (`stamp_with_kernel`), on Linux the socket asks the kernel to stamp every segment it receives
//! (`SO_TIMESTAMPNS`), and `recvmsg` returns the stamp of the last segment a read consumed: when
//! those bytes reached this host, however late the read. The stamp is on the real-time clock; it is
//! carried over to the monotonic clock (`Instant`) by its age at the moment of the read, and kept
//! between the previous read (or the request's write) and this read's return, so a step of the wall
//! clock can never move a time outside what the monotonic clock saw. Without a stamp (not asked,
//! elsewhere, or a kernel that gives none) a read is stamped when it returns.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Whether connections opened from now on ask for the kernel's receive stamps.
static KERNEL_STAMPS: AtomicBool = AtomicBool::new(false);

/// Turns the kernel's receive stamps on, for the rest of the process, for connections opened from
/// now on (`--kernel-stamps`, `INFERGATE_KERNEL_STAMPS`). Off (the default), a read is stamped when
/// it returns, which is exact while the load thread keeps up (the runner's validity checks say when
/// it does not); on, a read is stamped with when its bytes arrived even when the thread lags, but the
/// kernel then stamps every packet on the host, which `infergate bench` measured at 5-10 % more CPU
/// per streamed token here, with a simulator on the same host slowed by it.
pub fn stamp_with_kernel() {
    KERNEL_STAMPS.store(true, Ordering::Relaxed);
}

/// A connected, non-blocking TCP stream registered with the current thread's runtime.
#[derive(Debug)]
pub(super) struct Socket {
    #[cfg(target_os = "linux")]
    fd: tokio::io::unix::AsyncFd<std::net::TcpStream>,
    #[cfg(not(target_os = "linux"))]
    stream: tokio::net::TcpStream,
    /// Bytes read later cannot have arrived before this: the previous read, or the last write.
    floor: Instant,
}

impl Socket {
    /// Connects to `authority` (`host:port`) with Nagle's algorithm off.
    pub async fn connect(authority: &str) -> io::Result<Socket> {
        let stream = tokio::net::TcpStream::connect(authority).await?;
        stream.set_nodelay(true)?;
        Socket::new(stream)
    }

    #[cfg(target_os = "linux")]
    fn new(stream: tokio::net::TcpStream) -> io::Result<Socket> {
        let stream = stream.into_std()?;
        if KERNEL_STAMPS.load(Ordering::Relaxed) {
            linux::stamp_arrivals(&stream)?;
        }
        // SAFETY: the `TcpStream` owns its descriptor, which stays open and the same for as long
        // as the `AsyncFd` holds it.
        let fd = unsafe { tokio::io::unix::AsyncFd::register(stream) }.map_err(io::Error::from)?;
        Ok(Socket {
            fd,
            floor: Instant::now(),
        })
    }

    #[cfg(not(target_os = "linux"))]
    fn new(stream: tokio::net::TcpStream) -> io::Result<Socket> {
        Ok(Socket {
            stream,
            floor: Instant::now(),
        })
    }

    /// Writes all of `bytes`.
    pub async fn write_all(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            let n = self.write(bytes).await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            bytes = &bytes[n..];
        }
        self.floor = Instant::now();
        Ok(())
    }

    #[cfg(target_os = "linux")]
    async fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        use std::io::Write as _;
        loop {
            let mut ready = self.fd.writable().await?;
            match ready.try_io(|fd| fd.get_ref().write(bytes)) {
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                Ok(written) => return written,
                Err(_would_block) => continue,
            }
        }
    }

    #[cfg(not(target_os = "linux"))]
    async fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        tokio::io::AsyncWriteExt::write(&mut self.stream, bytes).await
    }

    /// Reads into `buf`: how many bytes (0 at the end of the stream) and when they arrived.
    #[cfg(target_os = "linux")]
    pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<(usize, Instant)> {
        loop {
            let mut ready = self.fd.readable().await?;
            let (n, stamp) = match ready.try_io(|fd| linux::recv_stamped(fd.get_ref(), buf)) {
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                Ok(read) => read?,
                Err(_would_block) => continue,
            };
            let now = Instant::now();
            // A read that did not fill the buffer emptied the socket (epoll reports the next bytes
            // as a new event): wait for that rather than make a read that would block, as tokio's
            // own reads do.
            if 0 < n && n < buf.len() {
                ready.clear_ready();
            }
            let at = stamp.map_or(now, |at| within(at, self.floor, now));
            self.floor = now;
            return Ok((n, at));
        }
    }

    #[cfg(not(target_os = "linux"))]
    pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<(usize, Instant)> {
        let n = tokio::io::AsyncReadExt::read(&mut self.stream, buf).await?;
        Ok((n, Instant::now()))
    }
}

/// `at`, kept within `[floor, now]`.
fn within(at: Instant, floor: Instant, now: Instant) -> Instant {
    at.max(floor.min(now)).min(now)
}

#[cfg(target_os = "linux")]
mod linux {
    use std::io;
    use std::net::TcpStream;
    use std::os::fd::AsRawFd;
    use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

    /// `SO_TIMESTAMPNS` (and its control message) on Linux's common socket ABI.
    const SO_TIMESTAMPNS: libc::c_int = 35;

    /// Asks the kernel to stamp each segment this socket receives.
    pub fn stamp_arrivals(stream: &TcpStream) -> io::Result<()> {
        let on: libc::c_int = 1;
        // SAFETY: a valid descriptor, and a pointer to an int of the length given.
        let set = unsafe {
            libc::setsockopt(
                stream.as_raw_fd(),
                libc::SOL_SOCKET,
                SO_TIMESTAMPNS,
                (&on as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if set != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// One `recvmsg`: the bytes read and, when the kernel stamped them, when the last of them
    /// arrived.
    pub fn recv_stamped(
        stream: &TcpStream,
        buf: &mut [u8],
    ) -> io::Result<(usize, Option<Instant>)> {
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // Room for one `timespec` message, aligned for `cmsghdr`.
        let mut control = [0u64; 8];
        // SAFETY: `msghdr` is plain data; all-zero is a valid empty header.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control) as _;
        // SAFETY: `msg` points at `iov` (over `buf`) and `control`, both alive for the call.
        let n = unsafe { libc::recvmsg(stream.as_raw_fd(), &mut msg, libc::MSG_DONTWAIT) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut stamp = None;
        // SAFETY: the CMSG_* walk stays within `msg_controllen` bytes of `control`, as the kernel
        // filled them; the payload is read unaligned.
        unsafe {
            let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
            while !cmsg.is_null() {
                if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == SO_TIMESTAMPNS {
                    let ts: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                    stamp = on_monotonic(ts);
                }
                cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
            }
        }
        Ok((n as usize, stamp))
    }

    /// The monotonic time of real-time stamp `ts`, by its age now (the two clocks read back to
    /// back); `None` for a stamp it cannot place.
    fn on_monotonic(ts: libc::timespec) -> Option<Instant> {
        let stamped = Duration::new(u64::try_from(ts.tv_sec).ok()?, ts.tv_nsec as u32);
        let real = SystemTime::now().duration_since(UNIX_EPOCH).ok()?;
        let now = Instant::now();
        now.checked_sub(real.saturating_sub(stamped))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;
    use std::time::Duration;

    #[test]
    fn arrivals_stay_between_the_floor_and_the_read() {
        let now = Instant::now() + Duration::from_secs(10);
        let floor = now - Duration::from_millis(10);
        let ms = Duration::from_millis;
        assert_eq!(within(now - ms(4), floor, now), now - ms(4));
        // A stamp older than the floor (a wall-clock step back) is held at the floor...
        assert_eq!(within(now - ms(5000), floor, now), floor);
        // ...and one from the future (a step forward) at the read.
        assert_eq!(within(now + ms(5), floor, now), now);
    }

    /// Bytes read 60 ms after they were written carry the time they were written, not the read's.
    #[tokio::test]
    async fn a_late_read_carries_when_its_bytes_arrived() {
        stamp_with_kernel();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let mut socket = Socket::connect(&address).await.unwrap();
        let (mut server, _) = listener.accept().unwrap();
        let mut buf = [0u8; 64];
        // The kernel turns receive stamps on for the whole system a moment after the first socket
        // asks (a deferred switch), so the first segments may come unstamped and be timed when read;
        // once the switch is on every read must carry its segment's time.
        for _ in 0..50 {
            let before = Instant::now();
            server.write_all(b"data: {}\n\n").unwrap();
            let after = Instant::now();
            tokio::time::sleep(Duration::from_millis(60)).await;
            let (n, at) = socket.read(&mut buf).await.unwrap();
            let returned = Instant::now();
            assert_eq!(&buf[..n], b"data: {}\n\n");
            assert!(at <= returned);
            if !cfg!(target_os = "linux") {
                assert!(at >= after);
                return;
            }
            if returned.duration_since(at) < Duration::from_millis(50) {
                assert!(at >= after, "an unstamped read is timed when it returns");
                continue;
            }
            // Stamped while `write` ran (loopback); the clock carry-over is good to microseconds,
            // and a millisecond is allowed.
            let slack = Duration::from_millis(1);
            assert!(
                at + slack >= before && at <= after + slack,
                "{at:?} not in {before:?}..{after:?}"
            );
            return;
        }
        panic!("no read in 50 carried the kernel's receive stamp");
    }
}
