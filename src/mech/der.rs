//! The little DER the key encodings of this layer need (DSA/DH and
//! ML-KEM/ML-DSA SubjectPublicKeyInfo and PKCS#8): definite-length TLVs
//! written, and read back either leniently (any length form, for keys as
//! other tools write them) or strictly (minimal length encoding only).

/// One element: `tag`, a definite minimal length, `content`.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let n = content.len();
    let mut out = Vec::with_capacity(n + 6);
    out.push(tag);
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let be = n.to_be_bytes();
        let skip = be.iter().position(|b| *b != 0).unwrap_or(be.len() - 1);
        out.push(0x80 | (be.len() - skip) as u8);
        out.extend_from_slice(&be[skip..]);
    }
    out.extend_from_slice(content);
    out
}

pub fn seq(content: &[u8]) -> Vec<u8> {
    tlv(0x30, content)
}

/// A non-negative INTEGER from big-endian bytes.
pub fn int(b: &[u8]) -> Vec<u8> {
    let b = &b[b.iter().position(|x| *x != 0).unwrap_or(b.len())..];
    let mut c = Vec::with_capacity(b.len() + 1);
    if b.first().is_none_or(|f| f & 0x80 != 0) {
        c.push(0);
    }
    c.extend_from_slice(b);
    tlv(0x02, &c)
}

pub fn bit_string(content: &[u8]) -> Vec<u8> {
    tlv(0x03, &[&[0u8][..], content].concat())
}

/// One element (any tag) in full, and what follows it.
pub fn read_raw(d: &[u8]) -> Option<(&[u8], &[u8])> {
    let (_, _, rest) = parse(d, false)?;
    Some((&d[..d.len() - rest.len()], rest))
}

/// The content of one element of tag `tag`, and what follows it.
pub fn read(d: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (t, content, rest) = parse(d, false)?;
    (t == tag).then_some((content, rest))
}

/// As `read_raw` for an element of tag `tag` whose length is minimally
/// encoded (at most 4 length bytes).
pub fn read_minimal_raw(d: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (t, _, rest) = parse(d, true)?;
    (t == tag).then_some((&d[..d.len() - rest.len()], rest))
}

/// As `read` for an element whose length is minimally encoded.
pub fn read_minimal(d: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (t, content, rest) = parse(d, true)?;
    (t == tag).then_some((content, rest))
}

/// (tag, content, rest); a long form of 1 to 4 length bytes, which with
/// `minimal` must have no leading zero byte and encode at least 0x80.
fn parse(d: &[u8], minimal: bool) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, d) = d.split_first()?;
    let (&first, d) = d.split_first()?;
    let (len, d) = if first < 0x80 {
        (first as usize, d)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || d.len() < n {
            return None;
        }
        let len = d[..n].iter().fold(0usize, |a, b| a << 8 | *b as usize);
        if minimal && (d[0] == 0 || len < 0x80) {
            return None;
        }
        (len, &d[n..])
    };
    if d.len() < len {
        return None;
    }
    Some((tag, &d[..len], &d[len..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_round_trip() {
        assert_eq!(int(&[0x80]), vec![2, 2, 0, 0x80]);
        assert_eq!(int(&[0, 0, 5]), vec![2, 1, 5]);
        let long = seq(&[7u8; 300]);
        assert_eq!(&long[..4], &[0x30, 0x82, 0x01, 0x2c]);
        assert_eq!(read(&long, 0x30).map(|(c, r)| (c.len(), r.len())), Some((300, 0)));
        assert!(read(&long[..100], 0x30).is_none());
        assert_eq!(read_minimal(&long, 0x30).map(|(c, r)| (c.len(), r.len())), Some((300, 0)));
        // Non-minimal lengths: read leniently, refused strictly.
        let padded = [&[0x04, 0x82, 0x00, 0x03][..], &[1, 2, 3]].concat();
        let short_long = [&[0x04, 0x81, 0x03][..], &[1, 2, 3]].concat();
        for d in [&padded, &short_long] {
            assert_eq!(read(d, 0x04), Some((&[1u8, 2, 3][..], &[][..])));
            assert!(read_minimal(d, 0x04).is_none() && read_minimal_raw(d, 0x04).is_none());
        }
        assert_eq!(read_minimal_raw(&long, 0x30), Some((&long[..], &[][..])));
        assert!(read_minimal_raw(&long, 0x04).is_none());
    }
}
