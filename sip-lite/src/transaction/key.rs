//! Transaction keys: the fields RFC 3261 sections 17.1.3 and 17.2.3 match on, reduced to
//! a fixed-size digest.
//!
//! Branches, hosts and URIs have no length limit in the grammar, so storing them verbatim
//! would either cap what a peer may send or make every slot as large as the longest
//! value. A transaction instead keeps a 128-bit SHA-256 digest of its key fields, each
//! preceded by its length so that no two different field lists hash the same input. A
//! peer cannot make its request collide with someone else's transaction without breaking
//! SHA-256.

use sha2::{Digest as _, Sha256};

use crate::error::EmitError;
use crate::wire::{Emit, Host, Message, Method, Sink};

/// A transaction key digest.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Key([u8; 16]);

impl Key {
    pub(crate) const NONE: Key = Key([0; 16]);

    /// The first eight octets in hex: a deterministic To tag for stateless answers.
    pub(crate) fn hex8(&self) -> [u8; 16] {
        let mut out = [0u8; 16];
        crate::wire::lex::hex_encode(&self.0, &mut out);
        out
    }
}

/// Which rule a key was made by: keeps keys of different kinds apart.
#[derive(Clone, Copy)]
#[repr(u8)]
enum Domain {
    Client = 1,
    Server = 2,
    ServerRfc2543 = 3,
    Merge = 4,
}

struct Hasher(Sha256);

impl Hasher {
    fn new(domain: Domain) -> Hasher {
        Hasher(Sha256::new().chain_update([domain as u8]))
    }

    fn field(&mut self, bytes: &[u8]) -> &mut Self {
        // Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
        self.0.update((bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
        self
    }

    /// A host, compared case-insensitively (RFC 3261 section 19.1.4): hashed lowercase.
    fn host(&mut self, host: &Host<'_>) -> &mut Self {
        let mut lower = Lowercase(Sha256::new());
        // Emitting a parsed host into a hasher cannot fail.
        let _ = host.emit(&mut lower);
        let digest = lower.0.finalize();
        self.field(&digest)
    }

    fn method(&mut self, method: Method<'_>) -> &mut Self {
        self.field(method.as_str().as_bytes())
    }

    fn finish(&mut self) -> Key {
        let digest = core::mem::take(&mut self.0).finalize();
        let mut key = [0u8; 16];
        key.copy_from_slice(&digest[..16]);
        Key(key)
    }
}

/// A sink that hashes what is emitted, lowercased.
struct Lowercase(Sha256);

impl Sink for Lowercase {
    fn put(&mut self, bytes: &[u8]) -> Result<(), EmitError> {
        for chunk in bytes.chunks(64) {
            let mut lower = [0u8; 64];
            let lower = &mut lower[..chunk.len()];
            lower.copy_from_slice(chunk);
            lower.make_ascii_lowercase();
            self.0.update(&*lower);
        }
        Ok(())
    }
}

/// The method a server transaction is keyed on: an ACK belongs to the INVITE's
/// transaction (section 17.2.3).
fn server_method(method: Method<'_>) -> Method<'_> {
    if method == Method::Ack {
        Method::Invite
    } else {
        method
    }
}

/// Section 17.1.3: a response matches a client transaction by the branch of its top Via
/// and the method of its CSeq.
pub(crate) fn client(branch: &str, method: Method<'_>) -> Key {
    Hasher::new(Domain::Client)
        .field(branch.as_bytes())
        .method(method)
        .finish()
}

/// The fields of a request that decide its server transaction.
pub(crate) struct RequestKeys {
    /// The transaction key, with ACK keyed as INVITE.
    pub(crate) key: Key,
    /// The key of the INVITE transaction a CANCEL with the same fields refers to.
    pub(crate) invite: Key,
    /// Whether the request carries an RFC 3261 branch; otherwise the keys follow the
    /// RFC 2543 rules.
    pub(crate) rfc3261: bool,
    /// Section 8.2.2.2: From tag, Call-ID and CSeq, for merged-request detection.
    pub(crate) merge: Key,
}

/// Computes the keys of a request, or `None` when the fields they need are missing or
/// malformed.
pub(crate) fn request(msg: &Message<'_>) -> Option<RequestKeys> {
    let method = msg.method()?;
    let via = msg.top_via().ok()?;
    let cseq = msg.cseq().ok()?;
    let call_id = msg.call_id().ok()?;
    let from_tag = msg.from().ok()?.tag().unwrap_or("");
    let merge = Hasher::new(Domain::Merge)
        .field(from_tag.as_bytes())
        .field(call_id.as_bytes())
        .field(&cseq.seq.to_le_bytes())
        .method(cseq.method)
        .finish();
    let server = |method: Method<'_>| -> Option<Key> {
        match via.branch() {
            // Section 17.2.3: branch, sent-by and method.
            Some(branch) if via.has_rfc3261_branch() => Some(
                Hasher::new(Domain::Server)
                    .field(branch.as_bytes())
                    .host(&via.host)
                    .field(&via.port.unwrap_or(0).to_le_bytes())
                    .method(method)
                    .finish(),
            ),
            // The RFC 2543 rules: Request-URI, To tag (except for INVITE, whose ACK
            // carries the tag of the response), From tag, Call-ID, CSeq number and
            // method, and the whole top Via.
            _ => {
                let to_tag = if method == Method::Invite {
                    ""
                } else {
                    msg.to().ok()?.tag().unwrap_or("")
                };
                Some(
                    Hasher::new(Domain::ServerRfc2543)
                        .field(msg.request_uri_str()?.as_bytes())
                        .field(to_tag.as_bytes())
                        .field(from_tag.as_bytes())
                        .field(call_id.as_bytes())
                        .field(&cseq.seq.to_le_bytes())
                        .method(method)
                        .field(
                            msg.header_lines(crate::wire::HeaderName::Via)
                                .next()?
                                .as_bytes(),
                        )
                        .finish(),
                )
            }
        }
    };
    Some(RequestKeys {
        key: server(server_method(method))?,
        invite: server(Method::Invite)?,
        rfc3261: via.has_rfc3261_branch(),
        merge,
    })
}

/// The digest of a To tag, for the RFC 2543 rule that an ACK matches the INVITE
/// transaction whose response carried the same tag.
pub(crate) fn tag(tag: &str) -> Key {
    Hasher::new(Domain::ServerRfc2543)
        .field(tag.as_bytes())
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::HeaderIndex;

    fn keys(bytes: &[u8]) -> RequestKeys {
        let mut h = [HeaderIndex::EMPTY; 16];
        let msg = Message::parse(bytes, &mut h).unwrap();
        request(&msg).unwrap()
    }

    const INVITE: &[u8] = b"INVITE sip:b@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP Host.example.com:5060;branch=z9hG4bK1\r\n\
From: <sip:a@example.com>;tag=f\r\nTo: <sip:b@example.com>\r\n\
Call-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";

    #[test]
    fn ack_and_cancel_find_the_invite() {
        let invite = keys(INVITE);
        let ack = keys(&INVITE.replace_all("INVITE", "ACK"));
        let cancel = keys(&INVITE.replace_all("INVITE", "CANCEL"));
        assert!(invite.rfc3261);
        assert_eq!(ack.key, invite.key);
        assert_ne!(cancel.key, invite.key);
        assert_eq!(cancel.invite, invite.key);
    }

    #[test]
    fn sent_by_host_is_case_insensitive_but_branch_is_not() {
        let invite = keys(INVITE);
        let upper = keys(&INVITE.replace_all("Host.example.com", "HOST.EXAMPLE.COM"));
        assert_eq!(upper.key, invite.key);
        let other = keys(&INVITE.replace_all("z9hG4bK1", "z9hG4bK2"));
        assert_ne!(other.key, invite.key);
        let port = keys(&INVITE.replace_all(":5060", ":5061"));
        assert_ne!(port.key, invite.key);
    }

    #[test]
    fn rfc2543_keys_ignore_the_invite_to_tag() {
        let old = INVITE.replace_all(";branch=z9hG4bK1", "");
        let invite = keys(&old);
        assert!(!invite.rfc3261);
        let ack = keys(
            &old.replace_all("INVITE", "ACK")
                .replace_all("To: <sip:b@example.com>", "To: <sip:b@example.com>;tag=x"),
        );
        assert_eq!(ack.key, invite.key);
        let bye = keys(&old.replace_all("INVITE", "BYE"));
        let tagged = keys(
            &old.replace_all("INVITE", "BYE")
                .replace_all("To: <sip:b@example.com>", "To: <sip:b@example.com>;tag=x"),
        );
        assert_ne!(bye.key, tagged.key);
    }

    trait ReplaceAll {
        fn replace_all(&self, from: &str, to: &str) -> std::vec::Vec<u8>;
    }

    impl ReplaceAll for [u8] {
        fn replace_all(&self, from: &str, to: &str) -> std::vec::Vec<u8> {
            std::string::String::from_utf8_lossy(self)
                .replace(from, to)
                .into_bytes()
        }
    }

    impl ReplaceAll for std::vec::Vec<u8> {
        fn replace_all(&self, from: &str, to: &str) -> std::vec::Vec<u8> {
            self.as_slice().replace_all(from, to)
        }
    }
}
