//! A bounds-checked big-endian cursor over the message bytes; every read that runs past the end
//! becomes `Error::Truncated` naming the part being read. All parsing goes through it, so no
//! input can index out of bounds.

use crate::error::{Error, Part};

/// A position in the message; reads advance it.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A cursor at `pos` in `buf`.
    pub(crate) fn at(buf: &'a [u8], pos: usize) -> Self {
        Reader { buf, pos }
    }

    /// Bytes consumed from the start of the buffer.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Bytes left after the cursor.
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// The next `n` bytes.
    pub(crate) fn take(&mut self, n: usize, what: Part) -> Result<&'a [u8], Error> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.buf.len())
            .ok_or(Error::Truncated { what })?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    /// The next `N` bytes as an array.
    pub(crate) fn array<const N: usize>(&mut self, what: Part) -> Result<&'a [u8; N], Error> {
        self.take(N, what)?
            .try_into()
            .map_err(|_| Error::Truncated { what })
    }

    /// One byte.
    pub(crate) fn u8(&mut self, what: Part) -> Result<u8, Error> {
        Ok(self.array::<1>(what)?[0])
    }

    /// A big-endian u16.
    pub(crate) fn u16(&mut self, what: Part) -> Result<u16, Error> {
        Ok(u16::from_be_bytes(*self.array(what)?))
    }

    /// A big-endian u32.
    pub(crate) fn u32(&mut self, what: Part) -> Result<u32, Error> {
        Ok(u32::from_be_bytes(*self.array(what)?))
    }

    /// A big-endian u64.
    pub(crate) fn u64(&mut self, what: Part) -> Result<u64, Error> {
        Ok(u64::from_be_bytes(*self.array(what)?))
    }

    /// A u16 length followed by that many bytes.
    pub(crate) fn u16_prefixed(&mut self, what: Part) -> Result<&'a [u8], Error> {
        let n = self.u16(what)?;
        self.take(usize::from(n), what)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_short_input_when_reading_then_truncated_names_the_part() {
        let mut r = Reader::at(&[0, 1, 2], 0);
        assert_eq!(r.u16(Part::Header), Ok(1));
        assert_eq!(
            r.u16(Part::Footer),
            Err(Error::Truncated { what: Part::Footer })
        );
        assert_eq!(r.pos(), 2);
        assert_eq!(r.remaining(), 1);
        assert_eq!(
            r.take(usize::MAX, Part::Body),
            Err(Error::Truncated { what: Part::Body })
        );
    }

    #[test]
    fn given_a_length_prefix_when_reading_then_the_field_follows() {
        let mut r = Reader::at(&[0, 2, 7, 8, 9], 0);
        assert_eq!(r.u16_prefixed(Part::Header), Ok(&[7u8, 8][..]));
        assert_eq!(r.u8(Part::Header), Ok(9));
    }
}
