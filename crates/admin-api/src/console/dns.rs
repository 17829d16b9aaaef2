//! A minimal DNS client for one question: the TXT records of a name (RFC 1035 §4, over UDP,
//! recursion desired). Domain verification needs nothing more, and the answer is only compared
//! against the expected token, so no record is trusted beyond "the zone's owner published it".
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::UdpSocket;

#[derive(Clone, Debug)]
pub struct Resolver {
    pub server: SocketAddr,
    pub timeout: Duration,
}

impl Resolver {
    /// The first `nameserver` of /etc/resolv.conf (port 53), or 127.0.0.53.
    pub fn system() -> Resolver {
        let server = std::fs::read_to_string("/etc/resolv.conf")
            .ok()
            .and_then(|s| {
                s.lines()
                    .filter_map(|l| l.trim().strip_prefix("nameserver"))
                    .map(str::trim)
                    .find_map(|ip| ip.parse::<std::net::IpAddr>().ok())
            })
            .map(|ip| SocketAddr::new(ip, 53))
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 53], 53)));
        Resolver {
            server,
            timeout: Duration::from_secs(3),
        }
    }

    pub fn at(server: SocketAddr) -> Resolver {
        Resolver {
            server,
            timeout: Duration::from_secs(3),
        }
    }

    /// The TXT strings at `name` (each record's character-strings joined). An empty list when
    /// the name has none (NXDOMAIN included).
    pub async fn txt(&self, name: &str) -> Result<Vec<String>, String> {
        let id: u16 = rand_id();
        let query = build_query(id, name)?;
        let bind: SocketAddr = if self.server.is_ipv4() {
            "0.0.0.0:0".parse().expect("literal")
        } else {
            "[::]:0".parse().expect("literal")
        };
        let sock = UdpSocket::bind(bind).await.map_err(|e| e.to_string())?;
        sock.connect(self.server).await.map_err(|e| e.to_string())?;
        for _ in 0..2 {
            sock.send(&query).await.map_err(|e| e.to_string())?;
            let mut buf = [0u8; 4096];
            match tokio::time::timeout(self.timeout, sock.recv(&mut buf)).await {
                Ok(Ok(n)) => {
                    if let Some(answer) = parse_response(id, &buf[..n])? {
                        return Ok(answer);
                    }
                }
                Ok(Err(e)) => return Err(e.to_string()),
                Err(_) => continue,
            }
        }
        Err(format!("the DNS server {} did not answer", self.server))
    }
}

fn rand_id() -> u16 {
    let b = authz_core::crypto::random_hex16();
    u16::from_str_radix(&b[..4], 16).unwrap_or(0x4747)
}

pub fn build_query(id: u16, name: &str) -> Result<Vec<u8>, String> {
    let mut q = Vec::with_capacity(64);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00]); // RD
    q.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]); // QDCOUNT=1
    for label in name.trim_end_matches('.').split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(format!("'{name}' is not a valid DNS name"));
        }
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&[0, 16, 0, 1]); // TXT, IN
    Ok(q)
}

/// Skips a (possibly compressed) name at `i`, returning the index after it.
fn skip_name(b: &[u8], mut i: usize) -> Result<usize, String> {
    loop {
        let len = *b.get(i).ok_or("truncated DNS answer")? as usize;
        if len == 0 {
            return Ok(i + 1);
        }
        if len & 0xC0 == 0xC0 {
            return Ok(i + 2);
        }
        i += 1 + len;
    }
}

fn u16_at(b: &[u8], i: usize) -> Result<u16, String> {
    Ok(u16::from_be_bytes([
        *b.get(i).ok_or("truncated DNS answer")?,
        *b.get(i + 1).ok_or("truncated DNS answer")?,
    ]))
}

/// The TXT strings of a response to query `id`; None for a response to another query.
pub fn parse_response(id: u16, b: &[u8]) -> Result<Option<Vec<String>>, String> {
    // An answer to our query: same id, QR bit set.
    if b.len() < 12 || u16_at(b, 0)? != id || b[2] & 0x80 == 0 {
        return Ok(None);
    }
    let rcode = b[3] & 0x0F;
    if rcode == 3 {
        return Ok(Some(Vec::new())); // NXDOMAIN
    }
    if rcode != 0 {
        return Err(format!("the DNS server answered with error code {rcode}"));
    }
    let qd = u16_at(b, 4)?;
    let an = u16_at(b, 6)?;
    let mut i = 12;
    for _ in 0..qd {
        i = skip_name(b, i)? + 4;
    }
    let mut out = Vec::new();
    for _ in 0..an {
        i = skip_name(b, i)?;
        let rtype = u16_at(b, i)?;
        let rdlen = u16_at(b, i + 8)? as usize;
        let start = i + 10;
        let end = start + rdlen;
        if end > b.len() {
            return Err("truncated DNS answer".into());
        }
        if rtype == 16 {
            let mut s = String::new();
            let mut j = start;
            while j < end {
                let l = b[j] as usize;
                // Bounded by this record, not by the packet.
                let chunk = b
                    .get(j + 1..j + 1 + l)
                    .filter(|_| j + 1 + l <= end)
                    .ok_or("truncated TXT record")?;
                s.push_str(&String::from_utf8_lossy(chunk));
                j += 1 + l;
            }
            out.push(s);
        }
        i = end;
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A response as a DNS server sends it: the question, then TXT answers with a compressed
    /// name pointer (0xC00C).
    pub fn response(id: u16, name: &str, txts: &[&[&str]]) -> Vec<u8> {
        let q = build_query(id, name).unwrap();
        let mut r = q.clone();
        r[2] = 0x81;
        r[3] = 0x80;
        r[7] = txts.len() as u8;
        for strings in txts {
            r.extend_from_slice(&[0xC0, 0x0C, 0, 16, 0, 1, 0, 0, 0, 60]);
            let data: Vec<u8> = strings
                .iter()
                .flat_map(|s| std::iter::once(s.len() as u8).chain(s.bytes()))
                .collect();
            r.extend_from_slice(&(data.len() as u16).to_be_bytes());
            r.extend_from_slice(&data);
        }
        r
    }

    #[test]
    fn parses_txt_answers_and_joins_strings() {
        let r = response(
            7,
            "_gatehouse-challenge.acme.test",
            &[&["gatehouse-verification=", "abc"], &["v=spf1 -all"]],
        );
        let got = parse_response(7, &r).unwrap().unwrap();
        assert_eq!(got, vec!["gatehouse-verification=abc", "v=spf1 -all"]);
        assert_eq!(
            parse_response(8, &r).unwrap(),
            None,
            "another query's answer is ignored"
        );
    }

    #[test]
    fn truncated_answers_are_errors_not_panics() {
        let r = response(7, "a.test", &[&["x"]]);
        for n in 12..r.len() {
            let _ = parse_response(7, &r[..n]);
        }
    }
}
