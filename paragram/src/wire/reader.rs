//! Reading frames from a stream in large chunks.

use std::io::{self, Read};

use super::*;

/// Reads frames from a stream in large chunks, handing out each body as a
/// slice of its buffer. The buffer grows only as bytes actually arrive (at
/// most doubling), so a lying length prefix costs at most about twice
/// what the peer sends, and never more than [`MAX_FRAME`].
pub(crate) struct FrameReader<R> {
    r: R,
    buf: Vec<u8>,
    /// Where the unread bytes start and end in `buf`.
    start: usize,
    end: usize,
}

/// The size a [`FrameReader`]'s buffer starts at.
pub(super) const CHUNK: usize = 64 << 10;

impl<R: Read> FrameReader<R> {
    pub(crate) fn new(r: R) -> FrameReader<R> {
        FrameReader {
            r,
            buf: vec![0; CHUNK],
            start: 0,
            end: 0,
        }
    }

    /// Whether a whole frame is buffered: [`FrameReader::next`] returns it
    /// without reading.
    pub(crate) fn has_frame(&self) -> bool {
        let unread = &self.buf[self.start..self.end];
        unread.first_chunk::<4>().is_some_and(|prefix| {
            let len = u32::from_le_bytes(*prefix) as u64;
            len > MAX_FRAME as u64 || unread.len() as u64 >= 4 + len
        })
    }

    /// The next frame's body; `Ok(None)` at a clean end of stream.
    pub(crate) fn next(&mut self) -> Result<Option<&[u8]>, WireError> {
        loop {
            let unread = &self.buf[self.start..self.end];
            let mut need = 4;
            if let Some(prefix) = unread.first_chunk::<4>() {
                let len = u32::from_le_bytes(*prefix) as u64;
                if len > MAX_FRAME as u64 {
                    return Err(WireError::TooLarge(len));
                }
                need = 4 + len as usize;
                if unread.len() >= need {
                    let body = self.start + 4..self.start + need;
                    self.start += need;
                    return Ok(Some(&self.buf[body]));
                }
            }
            if self.fill(need)? == 0 {
                return match self.end - self.start {
                    0 => Ok(None),
                    got => Err(WireError::Truncated(got)),
                };
            }
        }
    }

    /// Reads more bytes towards a frame of `need` bytes; how many it read
    /// (0 at the end of the stream).
    fn fill(&mut self, need: usize) -> io::Result<usize> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            let grown = (self.buf.len() * 2).min(need.max(CHUNK));
            self.buf.resize(grown.max(self.end + 1), 0);
        }
        loop {
            match self.r.read(&mut self.buf[self.end..]) {
                Ok(n) => {
                    self.end += n;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}
