//! The registrar fed REGISTER requests as text, its responses checked header by header.

use std::collections::HashMap;
use std::net::SocketAddr;

use csta_server::registrar::{Binding, Config, Outcome, Registrar, Transport, sip_date};
use sip_lite::digest::{CredentialsRepr, Request, Secret};
use sip_lite::wire::Emit as _;
use sip_lite::wire::{Algorithm, Challenge, HeaderIndex, Message, SliceSink};

const T0: u64 = 1_764_000_000;

fn users() -> HashMap<String, String> {
    let mut u = HashMap::new();
    u.insert("alice".to_owned(), "secret-a".to_owned());
    u.insert("bob".to_owned(), "secret-b".to_owned());
    u
}

fn config(authenticate: bool) -> Config {
    Config {
        realm: "example.com".to_owned(),
        domains: vec!["example.com".to_owned()],
        authenticate,
        ..Config::default()
    }
}

fn src() -> (SocketAddr, Transport) {
    ("192.0.2.10:5060".parse().unwrap(), Transport::Udp)
}

/// A REGISTER under construction.
#[derive(Clone)]
struct Reg {
    ruri: String,
    user: String,
    call_id: String,
    cseq: u32,
    vias: Vec<String>,
    headers: Vec<String>,
}

impl Reg {
    fn new(user: &str) -> Reg {
        Reg {
            ruri: "sip:example.com".to_owned(),
            user: user.to_owned(),
            call_id: format!("{user}-call@192.0.2.10"),
            cseq: 1,
            vias: vec!["SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-r1".to_owned()],
            headers: Vec::new(),
        }
    }

    fn h(mut self, line: &str) -> Reg {
        self.headers.push(line.to_owned());
        self
    }

    fn contact(self, c: &str) -> Reg {
        self.h(&format!("Contact: {c}"))
    }

    fn cseq(mut self, n: u32) -> Reg {
        self.cseq = n;
        self
    }

    fn call_id(mut self, c: &str) -> Reg {
        self.call_id = c.to_owned();
        self
    }

    /// A new request: its own branch (a retransmission keeps the branch).
    fn branch(mut self, b: &str) -> Reg {
        self.vias[0] = format!("SIP/2.0/UDP 192.0.2.10:5060;branch={b}");
        self
    }

    fn text(&self) -> String {
        let mut s = format!("REGISTER {} SIP/2.0\r\n", self.ruri);
        for v in &self.vias {
            s += &format!("Via: {v}\r\n");
        }
        s += "Max-Forwards: 70\r\n";
        s += &format!(
            "From: <sip:{}@example.com>;tag=f{}\r\n",
            self.user, self.cseq
        );
        s += &format!("To: <sip:{}@example.com>\r\n", self.user);
        s += &format!("Call-ID: {}\r\n", self.call_id);
        s += &format!("CSeq: {} REGISTER\r\n", self.cseq);
        for h in &self.headers {
            s += h;
            s += "\r\n";
        }
        s += "Content-Length: 0\r\n\r\n";
        s
    }
}

/// A response, read back.
#[derive(Debug)]
struct Resp {
    text: String,
    status: u16,
    reason: String,
    headers: Vec<(String, String)>,
}

impl Resp {
    fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn one(&self, name: &str) -> Option<&str> {
        let all = self.all(name);
        assert!(all.len() <= 1, "several {name} in {}", self.text);
        all.first().copied()
    }
}

struct Harness {
    reg: Registrar<HashMap<String, String>>,
    out: Vec<u8>,
}

impl Harness {
    fn new(authenticate: bool) -> Harness {
        Self::with(config(authenticate))
    }

    fn with(config: Config) -> Harness {
        Harness {
            reg: Registrar::with_secret(config, users(), [7; 32]).unwrap(),
            out: Vec::new(),
        }
    }

    fn send_text(
        &mut self,
        now: u64,
        text: &str,
        source: (SocketAddr, Transport),
    ) -> (Outcome, Resp) {
        let mut idx = [HeaderIndex::EMPTY; 32];
        let msg = Message::parse(text.as_bytes(), &mut idx).unwrap();
        let outcome = self.reg.handle(now, &msg, source, &mut self.out);
        let resp = read(&self.out);
        assert_eq!(outcome.status.map(|s| s.0), Some(resp.status));
        (outcome, resp)
    }

    fn send(&mut self, now: u64, r: &Reg) -> (Outcome, Resp) {
        self.send_text(now, &r.text(), src())
    }

    /// Sends `r`, answers the challenge for `algorithm` as `user` with `password`,
    /// and returns the second answer.
    fn send_auth(
        &mut self,
        now: u64,
        r: &Reg,
        algorithm: Algorithm,
        user: &str,
        password: &str,
    ) -> (Outcome, Resp) {
        let (_, first) = self.send(now, r);
        assert_eq!(first.status, 401, "{}", first.text);
        let auth = authorization(&first, algorithm, user, password, &r.ruri);
        let second = r
            .clone()
            .cseq(r.cseq + 1)
            .h(&format!("Authorization: {auth}"));
        self.send(now, &second)
    }
}

fn read(out: &[u8]) -> Resp {
    let mut idx = [HeaderIndex::EMPTY; 32];
    let msg = Message::parse(out, &mut idx).unwrap();
    Resp {
        text: String::from_utf8(out.to_vec()).unwrap(),
        status: msg.status().unwrap().0,
        reason: msg.reason().unwrap().to_owned(),
        headers: msg
            .headers()
            .map(|h| (h.name.to_owned(), h.value.to_owned()))
            .collect(),
    }
}

fn authorization(
    resp: &Resp,
    algorithm: Algorithm,
    user: &str,
    password: &str,
    ruri: &str,
) -> String {
    authorization_nc(resp, algorithm, user, password, ruri, 1)
}

/// Credentials for the challenge of `resp` with nonce count `nc`.
fn authorization_nc(
    resp: &Resp,
    algorithm: Algorithm,
    user: &str,
    password: &str,
    ruri: &str,
    nc: u32,
) -> String {
    let value = resp
        .all("WWW-Authenticate")
        .into_iter()
        .find(|v| Challenge::parse(v).unwrap().algorithm().unwrap() == algorithm)
        .unwrap();
    let challenge = Challenge::parse(value).unwrap();
    let request = Request::new("REGISTER", ruri, b"");
    let answer = CredentialsRepr::answer(
        &challenge,
        &request,
        user,
        Secret::Password(password),
        "c0ffee",
        nc,
    )
    .unwrap();
    let mut buf = [0u8; 1024];
    let mut sink = SliceSink::new(&mut buf);
    answer.emit(&mut sink).unwrap();
    String::from_utf8(sink.written().to_vec()).unwrap()
}

fn nonce_of(challenge: &str) -> String {
    Challenge::parse(challenge)
        .unwrap()
        .nonce()
        .unwrap()
        .as_str()
        .to_owned()
}

const CONTACT_A: &str = "<sip:alice@192.0.2.10:5060>";

// ---- authentication ----

#[test]
fn test_challenge_then_success_sha256() {
    let mut h = Harness::new(true);
    let r = Reg::new("alice").contact(CONTACT_A);
    let (outcome, first) = h.send(T0, &r);
    assert_eq!((first.status, first.reason.as_str()), (401, "Unauthorized"));
    assert!(!outcome.is_modified());
    assert_eq!(outcome.aor, None);
    // Mirrored headers (RFC 3261 section 8.2.6) with a To tag.
    assert_eq!(
        first.all("Via"),
        ["SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-r1"]
    );
    assert_eq!(first.one("From"), Some("<sip:alice@example.com>;tag=f1"));
    let to = first.one("To").unwrap();
    assert!(to.starts_with("<sip:alice@example.com>;tag="), "{to}");
    assert_eq!(to.len(), "<sip:alice@example.com>;tag=".len() + 16);
    assert_eq!(first.one("Call-ID"), Some("alice-call@192.0.2.10"));
    assert_eq!(first.one("CSeq"), Some("1 REGISTER"));
    // One challenge per algorithm, SHA-256 first (RFC 8760 section 2.4), same nonce.
    let ch = first.all("WWW-Authenticate");
    assert_eq!(ch.len(), 2);
    let nonce = nonce_of(ch[0]);
    assert_eq!(nonce.len(), 56);
    assert_eq!(
        ch[0],
        format!("Digest realm=\"example.com\", nonce=\"{nonce}\", algorithm=SHA-256, qop=\"auth\"")
    );
    assert_eq!(
        ch[1],
        format!("Digest realm=\"example.com\", nonce=\"{nonce}\", algorithm=MD5, qop=\"auth\"")
    );
    assert_eq!(first.one("Contact"), None);

    let (outcome, ok) = h.send_auth(T0, &r, Algorithm::Sha256, "alice", "secret-a");
    assert_eq!((ok.status, ok.reason.as_str()), (200, "OK"));
    assert_eq!(
        ok.all("Contact"),
        ["<sip:alice@192.0.2.10:5060>;expires=3600"]
    );
    assert_eq!(ok.one("CSeq"), Some("2 REGISTER"));
    assert_eq!(ok.one("Date"), Some("Mon, 24 Nov 2025 16:00:00 GMT"));
    assert_eq!(ok.one("Require"), None);
    assert_eq!(ok.one("Path"), None);
    assert_eq!(ok.one("WWW-Authenticate"), None);
    assert_eq!(outcome.aor.as_deref(), Some("alice@example.com"));
    assert_eq!(outcome.added.len(), 1);
    let b = &outcome.added[0];
    assert_eq!(b.aor, "alice@example.com");
    assert_eq!(b.contact, "sip:alice@192.0.2.10:5060");
    assert_eq!(b.expires_at, T0 + 3600);
    assert_eq!(b.call_id, "alice-call@192.0.2.10");
    assert_eq!(b.cseq, 2);
    assert_eq!(b.source, src().0);
    assert_eq!(b.transport, Transport::Udp);
    assert_eq!(b.changed_at, T0);
    assert!(outcome.changed.is_empty() && outcome.removed.is_empty());
    assert_eq!(outcome.refreshed, 0);
    assert_eq!(h.reg.len(), 1);
}

#[test]
fn test_challenge_then_success_md5() {
    let mut h = Harness::new(true);
    let r = Reg::new("bob").contact("<sip:bob@198.51.100.7:5062;transport=tcp>");
    let (outcome, ok) = h.send_auth(T0, &r, Algorithm::Md5, "bob", "secret-b");
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(
        ok.all("Contact"),
        ["<sip:bob@198.51.100.7:5062;transport=tcp>;expires=3600"]
    );
    assert_eq!(outcome.added.len(), 1);
}

#[test]
fn test_stale_nonce_challenged_with_stale_true() {
    let mut h = Harness::new(true);
    let r = Reg::new("alice").contact(CONTACT_A);
    let (_, first) = h.send(T0, &r);
    let auth = authorization(&first, Algorithm::Sha256, "alice", "secret-a", &r.ruri);
    // Within the lifetime: accepted.
    let again = r.clone().cseq(2).h(&format!("Authorization: {auth}"));
    assert_eq!(h.send(T0 + 30, &again).1.status, 200);
    // After it: a new challenge with stale=true in every header.
    let late = r.clone().cseq(3).h(&format!("Authorization: {auth}"));
    let (outcome, resp) = h.send(T0 + 31, &late);
    assert_eq!(resp.status, 401);
    assert!(!outcome.is_modified());
    let ch = resp.all("WWW-Authenticate");
    assert_eq!(ch.len(), 2);
    for c in &ch {
        assert!(c.contains(", stale=true, "), "{c}");
        assert!(Challenge::parse(c).unwrap().stale());
    }
    assert_ne!(nonce_of(ch[0]), nonce_of(first.all("WWW-Authenticate")[0]));
    // A nonce not made here (another secret, or forged) with the right password: stale.
    let mut other = Harness::with(config(true));
    other.reg = Registrar::with_secret(config(true), users(), [8; 32]).unwrap();
    let (_, resp) = other.send(T0, &late.clone().cseq(4));
    assert_eq!(resp.status, 401);
    assert!(resp.all("WWW-Authenticate")[0].contains("stale=true"));
}

#[test]
fn test_replayed_credentials_are_challenged_and_the_phone_goes_on() {
    let mut h = Harness::new(true);
    let r = Reg::new("alice").contact(CONTACT_A);
    let (_, first) = h.send(T0, &r);
    let auth = authorization(&first, Algorithm::Sha256, "alice", "secret-a", &r.ruri);
    let ok = r.clone().cseq(2).h(&format!("Authorization: {auth}"));
    assert_eq!(h.send(T0 + 1, &ok).1.status, 200);
    // The same credentials again (a sniffed header, with another Contact): the nonce
    // count did not grow, so it is a replay, and nothing changes.
    let replay = Reg::new("alice")
        .contact("<sip:alice@203.0.113.66:5060>")
        .cseq(3)
        .h(&format!("Authorization: {auth}"));
    let (outcome, resp) = h.send(T0 + 2, &replay);
    assert_eq!(resp.status, 401, "{}", resp.text);
    assert!(!outcome.is_modified());
    assert!(resp.all("WWW-Authenticate")[0].contains("stale=true"));
    // The phone itself counts on (nc=2) with the same nonce: accepted.
    let next = authorization_nc(&first, Algorithm::Sha256, "alice", "secret-a", &r.ruri, 2);
    let refresh = r.clone().cseq(4).h(&format!("Authorization: {next}"));
    assert_eq!(h.send(T0 + 3, &refresh).1.status, 200);
    // A count that goes back is a replay too.
    assert_eq!(h.send(T0 + 4, &replay.clone().cseq(5)).1.status, 401);
    assert_eq!(h.reg.remembered_nonces(), 1);
    // Nonces are forgotten one lifetime after their first use.
    let (_, later) = h.send(T0 + 100, &r.clone().cseq(6));
    let auth = authorization(&later, Algorithm::Sha256, "alice", "secret-a", &r.ruri);
    let ok = r.clone().cseq(7).h(&format!("Authorization: {auth}"));
    assert_eq!(h.send(T0 + 100, &ok).1.status, 200);
    assert_eq!(h.reg.remembered_nonces(), 1);
}

#[test]
fn test_a_nonce_is_valid_only_from_the_address_it_was_sent_to() {
    let mut h = Harness::new(true);
    let r = Reg::new("alice").contact(CONTACT_A);
    let (_, first) = h.send(T0, &r);
    let auth = authorization(&first, Algorithm::Sha256, "alice", "secret-a", &r.ruri);
    let elsewhere = ("198.51.100.7:5060".parse().unwrap(), Transport::Udp);
    let stolen = Reg::new("alice")
        .contact("<sip:alice@198.51.100.7:5060>")
        .cseq(2)
        .h(&format!("Authorization: {auth}"));
    let (outcome, resp) = h.send_text(T0 + 1, &stolen.text(), elsewhere);
    assert_eq!(resp.status, 401, "{}", resp.text);
    assert!(!outcome.is_modified());
    assert!(resp.all("WWW-Authenticate")[0].contains("stale=true"));
    assert_eq!(h.reg.remembered_nonces(), 0);
    // From the address challenged, the same credentials work.
    let ok = r.clone().cseq(3).h(&format!("Authorization: {auth}"));
    assert_eq!(h.send(T0 + 1, &ok).1.status, 200);
}

#[test]
fn test_wrong_password_challenged_again() {
    let mut h = Harness::new(true);
    let r = Reg::new("alice").contact(CONTACT_A);
    let (outcome, resp) = h.send_auth(T0, &r, Algorithm::Sha256, "alice", "wrong");
    assert_eq!(resp.status, 401);
    assert!(!outcome.is_modified());
    for c in resp.all("WWW-Authenticate") {
        assert!(!c.contains("stale"), "{c}");
    }
    assert_eq!(resp.all("WWW-Authenticate").len(), 2);
    // An unknown user too.
    let (_, resp) = h.send_auth(
        T0,
        &Reg::new("carol").contact(CONTACT_A),
        Algorithm::Md5,
        "carol",
        "x",
    );
    assert_eq!(resp.status, 401);
    assert_eq!(h.reg.len(), 0);
}

#[test]
fn test_user_not_owner_of_aor_forbidden() {
    let mut h = Harness::new(true);
    // Bob authenticates with his own password for Alice's address-of-record.
    let r = Reg::new("alice").contact(CONTACT_A);
    let (outcome, resp) = h.send_auth(T0, &r, Algorithm::Sha256, "bob", "secret-b");
    assert_eq!(resp.status, 403);
    assert_eq!(
        resp.reason,
        "Authenticated user does not own the address-of-record"
    );
    assert!(!outcome.is_modified());
    assert_eq!(h.reg.len(), 0);
}

#[test]
fn test_malformed_authorization_bad_request() {
    let mut h = Harness::new(true);
    let r = Reg::new("alice")
        .contact(CONTACT_A)
        .h("Authorization: Digest realm=\"example.com\", username=\"alice");
    assert_eq!(h.send(T0, &r).1.status, 400);
    // Credentials for another realm only: challenged.
    let r = Reg::new("alice").contact(CONTACT_A).h(
        "Authorization: Digest realm=\"other\", username=\"alice\", nonce=\"x\", uri=\"sip:example.com\", response=\"0\"",
    );
    assert_eq!(h.send(T0, &r).1.status, 401);
}

// ---- bindings ----

#[test]
fn test_several_contacts_ordered_by_q() {
    let mut h = Harness::new(false);
    let r = Reg::new("alice")
        .contact("<sip:alice@192.0.2.10:5060>;q=0.5, <sip:alice@192.0.2.11>;q=1")
        .contact("<sip:alice@192.0.2.12>;expires=120;q=0.75");
    let (outcome, resp) = h.send(T0, &r);
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert_eq!(outcome.added.len(), 3);
    assert_eq!(
        resp.all("Contact"),
        [
            "<sip:alice@192.0.2.11>;expires=3600;q=1",
            "<sip:alice@192.0.2.12>;expires=120;q=0.75",
            "<sip:alice@192.0.2.10:5060>;expires=3600;q=0.5",
        ]
    );
    let found: Vec<&str> = h
        .reg
        .lookup(T0, "alice@example.com")
        .map(|b| b.contact.as_str())
        .collect();
    assert_eq!(
        found,
        [
            "sip:alice@192.0.2.11",
            "sip:alice@192.0.2.12",
            "sip:alice@192.0.2.10:5060"
        ]
    );
    // Expired bindings are not looked up even before expire() runs.
    assert_eq!(h.reg.lookup(T0 + 120, "alice@example.com").count(), 2);
    let uri = sip_lite::wire::SipUri::parse("sip:alice@EXAMPLE.com;user=phone").unwrap();
    assert_eq!(h.reg.lookup_uri(T0, &uri).count(), 3);
    // A query (no Contact) lists them.
    let (outcome, resp) = h.send(T0 + 10, &Reg::new("alice").cseq(2));
    assert_eq!(resp.status, 200);
    assert!(!outcome.is_modified());
    assert_eq!(
        resp.all("Contact")[1],
        "<sip:alice@192.0.2.12>;expires=110;q=0.75"
    );
}

#[test]
fn test_refresh_and_changed_source() {
    let mut h = Harness::new(false);
    let r = Reg::new("alice")
        .contact(CONTACT_A)
        .h("User-Agent: desk/1.0");
    assert_eq!(h.send(T0, &r).0.added.len(), 1);
    let (outcome, resp) = h.send(T0 + 1800, &r.clone().cseq(2));
    assert_eq!(
        resp.all("Contact"),
        ["<sip:alice@192.0.2.10:5060>;expires=3600"]
    );
    assert_eq!(outcome.refreshed, 1);
    assert!(outcome.added.is_empty() && outcome.changed.is_empty());
    let b = h.reg.lookup(T0, "alice@example.com").next().unwrap();
    assert_eq!((b.expires_at, b.cseq, b.changed_at), (T0 + 5400, 2, T0));
    assert_eq!(b.user_agent.as_deref(), Some("desk/1.0"));
    // The same contact from another address (a new NAT mapping): changed.
    let nat: (SocketAddr, Transport) = ("203.0.113.5:40000".parse().unwrap(), Transport::Tcp);
    let (outcome, _) = h.send_text(T0 + 1900, &r.clone().cseq(3).text(), nat);
    assert_eq!(outcome.changed.len(), 1);
    assert_eq!(outcome.changed[0].source, nat.0);
    assert_eq!(outcome.changed[0].transport, Transport::Tcp);
    assert_eq!(outcome.changed[0].changed_at, T0 + 1900);
    assert_eq!(h.reg.len(), 1);
    // An equivalent URI written differently is the same binding.
    let (outcome, _) = h.send_text(
        T0 + 1901,
        &Reg::new("alice")
            .cseq(4)
            .contact("<sip:alice@192.0.2.10:5060;lr>")
            .text(),
        nat,
    );
    assert_eq!(h.reg.len(), 1, "{outcome:?}");
}

#[test]
fn test_unregister_one_and_wildcard() {
    let mut h = Harness::new(false);
    let r = Reg::new("alice")
        .contact("<sip:alice@192.0.2.10>")
        .contact("<sip:alice@192.0.2.11>")
        .contact("<sip:alice@192.0.2.12>");
    assert_eq!(h.send(T0, &r).0.added.len(), 3);
    let (outcome, resp) = h.send(
        T0,
        &Reg::new("alice")
            .cseq(2)
            .contact("<sip:alice@192.0.2.11>;expires=0"),
    );
    assert_eq!(resp.status, 200);
    assert_eq!(outcome.removed.len(), 1);
    assert_eq!(outcome.removed[0].contact, "sip:alice@192.0.2.11");
    assert_eq!(resp.all("Contact").len(), 2);
    // Expires: 0 for a contact that is not bound: nothing happens.
    let (outcome, resp) = h.send(
        T0,
        &Reg::new("alice")
            .cseq(3)
            .contact("<sip:alice@192.0.2.99>")
            .h("Expires: 0"),
    );
    assert_eq!(resp.status, 200);
    assert!(!outcome.is_modified());
    assert_eq!(outcome.aor, None);
    // `*` without Expires: 0, or with another contact: 400.
    let (_, resp) = h.send(T0, &Reg::new("alice").cseq(4).contact("*"));
    assert_eq!(resp.status, 400);
    let (_, resp) = h.send(
        T0,
        &Reg::new("alice")
            .cseq(4)
            .contact("*")
            .contact("<sip:alice@192.0.2.13>")
            .h("Expires: 0"),
    );
    assert_eq!(resp.status, 400);
    assert_eq!(h.reg.len(), 2);
    // `*` with Expires: 0 removes them all.
    let (outcome, resp) = h.send(T0, &Reg::new("alice").cseq(5).contact("*").h("Expires: 0"));
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert_eq!(resp.all("Contact").len(), 0);
    assert_eq!(outcome.removed.len(), 2);
    assert_eq!(outcome.aor.as_deref(), Some("alice@example.com"));
    assert!(h.reg.is_empty());
    assert_eq!(h.reg.lookup(T0, "alice@example.com").count(), 0);
}

#[test]
fn test_min_expires_and_cap() {
    let mut h = Harness::new(false);
    let (outcome, resp) = h.send(
        T0,
        &Reg::new("alice").contact("<sip:alice@192.0.2.10>;expires=30"),
    );
    assert_eq!(
        (resp.status, resp.reason.as_str()),
        (423, "Interval Too Brief")
    );
    assert_eq!(resp.one("Min-Expires"), Some("60"));
    assert!(!outcome.is_modified());
    let (_, resp) = h.send(
        T0,
        &Reg::new("alice")
            .contact("<sip:alice@192.0.2.10>")
            .h("Expires: 59"),
    );
    assert_eq!(resp.status, 423);
    // The contact parameter wins over the header.
    let (_, resp) = h.send(
        T0,
        &Reg::new("alice")
            .contact("<sip:alice@192.0.2.10>;expires=60")
            .h("Expires: 10"),
    );
    assert_eq!(resp.all("Contact"), ["<sip:alice@192.0.2.10>;expires=60"]);
    // Above the maximum: shortened.
    let (_, resp) = h.send(
        T0,
        &Reg::new("alice")
            .cseq(2)
            .contact("<sip:alice@192.0.2.10>")
            .h("Expires: 999999"),
    );
    assert_eq!(resp.all("Contact"), ["<sip:alice@192.0.2.10>;expires=7200"]);
}

#[test]
fn test_call_id_cseq_order() {
    let mut h = Harness::new(false);
    let r = Reg::new("alice").contact(CONTACT_A).cseq(5);
    assert_eq!(h.send(T0, &r).1.status, 200);
    // The same request again (a retransmission: same branch): the same answer.
    let (outcome, resp) = h.send(T0 + 1, &r);
    assert_eq!((resp.status, resp.all("Contact").len()), (200, 1));
    assert!(!outcome.is_modified());
    // Same Call-ID, CSeq not higher, another request: refused, nothing changed.
    for n in [5, 4] {
        let again = r.clone().cseq(n).h("Expires: 0").branch("z9hG4bK-r2");
        let (outcome, resp) = h.send(T0 + 10, &again);
        assert_eq!(
            (resp.status, resp.reason.as_str()),
            (500, "Request out of order")
        );
        assert_eq!(resp.one("Retry-After"), Some("1"));
        assert!(!outcome.is_modified());
    }
    assert_eq!(h.reg.len(), 1);
    // A wildcard is refused the same way.
    let (_, resp) = h.send(T0, &Reg::new("alice").cseq(3).contact("*").h("Expires: 0"));
    assert_eq!(resp.status, 500);
    // Another Call-ID with a lower CSeq: accepted.
    let (outcome, resp) = h.send(T0 + 10, &r.clone().cseq(1).call_id("other@x"));
    assert_eq!(resp.status, 200);
    assert_eq!(outcome.refreshed, 1);
    // Atomic: a second contact out of order leaves the first one unbound.
    let (_, resp) = h.send(
        T0 + 10,
        &Reg::new("alice")
            .call_id("other@x")
            .cseq(1)
            .branch("z9hG4bK-r3")
            .contact("<sip:alice@192.0.2.77>")
            .contact(CONTACT_A),
    );
    assert_eq!(resp.status, 500);
    assert_eq!(h.reg.len(), 1);
}

#[test]
fn test_too_many_contacts() {
    let mut h = Harness::with(Config {
        max_contacts: 2,
        ..config(false)
    });
    let r = Reg::new("alice").contact("<sip:a@192.0.2.1>, <sip:a@192.0.2.2>");
    assert_eq!(h.send(T0, &r).1.status, 200);
    let (outcome, resp) = h.send(T0, &Reg::new("alice").cseq(2).contact("<sip:a@192.0.2.3>"));
    assert_eq!(
        (resp.status, resp.reason.as_str()),
        (403, "Too many contacts")
    );
    assert!(!outcome.is_modified());
    // Replacing one within the same request fits.
    let (outcome, resp) = h.send(
        T0,
        &Reg::new("alice")
            .cseq(3)
            .contact("<sip:a@192.0.2.1>;expires=0, <sip:a@192.0.2.3>"),
    );
    assert_eq!(resp.status, 200);
    assert_eq!((outcome.added.len(), outcome.removed.len()), (1, 1));
}

// ---- outbound and Path ----

const INSTANCE: &str = "urn:uuid:00000000-0000-1000-8000-000a95a0e128";

#[test]
fn test_outbound_flow_replaced() {
    let mut h = Harness::new(false);
    let c1 = format!("<sip:alice@192.0.2.10:5060;ob>;+sip.instance=\"<{INSTANCE}>\";reg-id=1");
    let r = Reg::new("alice")
        .h("Supported: path, outbound")
        .contact(&c1);
    let (outcome, resp) = h.send(T0, &r);
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert_eq!(resp.one("Require"), Some("outbound"));
    assert_eq!(
        resp.all("Contact"),
        [format!(
            "<sip:alice@192.0.2.10:5060;ob>;expires=3600;+sip.instance=\"<{INSTANCE}>\";reg-id=1"
        )]
    );
    assert_eq!(outcome.added[0].instance.as_deref(), Some(INSTANCE));
    assert_eq!(outcome.added[0].reg_id, Some(1));
    assert!(outcome.added[0].is_outbound());
    // After a reboot: same instance and reg-id, a new contact and Call-ID: replaced.
    let c2 = format!("<sip:alice@192.0.2.10:6000;ob>;+sip.instance=\"<{INSTANCE}>\";reg-id=1");
    let r2 = Reg::new("alice")
        .call_id("reboot@x")
        .h("Supported: outbound")
        .contact(&c2);
    let (outcome, resp) = h.send(T0 + 5, &r2);
    assert_eq!(resp.all("Contact").len(), 1);
    assert_eq!(outcome.changed.len(), 1);
    assert_eq!(outcome.changed[0].contact, "sip:alice@192.0.2.10:6000;ob");
    assert_eq!(h.reg.len(), 1);
    // A second flow (reg-id 2) is a second binding.
    let c3 = format!("<sip:alice@192.0.2.10:6000;ob>;+sip.instance=\"<{INSTANCE}>\";reg-id=2");
    let (outcome, _) = h.send(
        T0 + 5,
        &r2.clone()
            .cseq(2)
            .headers_replaced(&["Supported: outbound".to_owned(), format!("Contact: {c3}")]),
    );
    assert_eq!(outcome.added.len(), 1);
    assert_eq!(h.reg.len(), 2);
}

impl Reg {
    fn headers_replaced(mut self, h: &[String]) -> Reg {
        self.headers = h.to_vec();
        self
    }
}

#[test]
fn test_reg_id_without_outbound_support_keyed_by_uri() {
    let mut h = Harness::new(false);
    let c = |port| format!("<sip:alice@192.0.2.10:{port}>;+sip.instance=\"<{INSTANCE}>\";reg-id=1");
    assert_eq!(
        h.send(T0, &Reg::new("alice").contact(&c(5060))).0.added[0].reg_id,
        None
    );
    let (outcome, resp) = h.send(T0, &Reg::new("alice").cseq(2).contact(&c(6000)));
    assert_eq!(resp.one("Require"), None);
    assert_eq!(outcome.added.len(), 1);
    assert_eq!(h.reg.len(), 2);
}

#[test]
fn test_outbound_not_first_hop() {
    let mut h = Harness::new(false);
    let c = format!("<sip:alice@192.0.2.10;ob>;+sip.instance=\"<{INSTANCE}>\";reg-id=1");
    let mut r = Reg::new("alice").h("Supported: outbound").contact(&c);
    r.vias.insert(
        0,
        "SIP/2.0/UDP edge.example.com;branch=z9hG4bK-e1".to_owned(),
    );
    let (_, resp) = h.send(T0, &r);
    assert_eq!(
        (resp.status, resp.reason.as_str()),
        (439, "First Hop Lacks Outbound Support")
    );
    assert_eq!(resp.all("Via").len(), 2);
    // With an `ob` Path from the edge proxy: accepted.
    let r = r.h("Path: <sip:edge.example.com;lr;ob>");
    let (outcome, resp) = h.send(T0, &r);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.one("Require"), Some("outbound"));
    assert_eq!(outcome.added[0].path, ["<sip:edge.example.com;lr;ob>"]);
    // Two contacts with reg-id: 400.
    let c2 = format!("<sip:alice@192.0.2.10:7000>;+sip.instance=\"<{INSTANCE}>\";reg-id=2");
    let (_, resp) = h.send(
        T0,
        &Reg::new("alice")
            .cseq(3)
            .h("Supported: outbound")
            .contact(&c)
            .contact(&c2),
    );
    assert_eq!(resp.status, 400);
}

#[test]
fn test_path_echoed_when_supported() {
    let mut h = Harness::new(false);
    let r = Reg::new("alice")
        .h("Supported: path")
        .h("Path: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>")
        .contact(CONTACT_A);
    let (outcome, resp) = h.send(T0, &r);
    assert_eq!(
        resp.all("Path"),
        ["<sip:p1.example.com;lr>, <sip:p2.example.com;lr>"]
    );
    assert_eq!(
        outcome.added[0].path,
        ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
    );
    // Without Supported: path, stored but not echoed.
    let r = Reg::new("bob")
        .h("Path: <sip:p1.example.com;lr>")
        .contact("<sip:bob@192.0.2.20>");
    let (outcome, resp) = h.send(T0, &r);
    assert_eq!(resp.all("Path").len(), 0);
    assert_eq!(outcome.added[0].path, ["<sip:p1.example.com;lr>"]);
    // A new path on refresh is a change.
    let r = Reg::new("alice")
        .cseq(2)
        .h("Path: <sip:p3.example.com;lr>")
        .contact(CONTACT_A);
    assert_eq!(h.send(T0, &r).0.changed.len(), 1);
}

#[test]
fn test_require_unknown_extension() {
    let mut h = Harness::new(false);
    let r = Reg::new("alice")
        .h("Require: path, foo, 100rel")
        .contact(CONTACT_A);
    let (_, resp) = h.send(T0, &r);
    assert_eq!((resp.status, resp.reason.as_str()), (420, "Bad Extension"));
    assert_eq!(resp.all("Unsupported"), ["foo", "100rel"]);
    let r = Reg::new("alice")
        .h("Require: outbound, path")
        .contact(CONTACT_A);
    assert_eq!(h.send(T0, &r).1.status, 200);
}

// ---- domains ----

#[test]
fn test_domain_not_served() {
    let mut h = Harness::new(true);
    let mut r = Reg::new("alice").contact(CONTACT_A);
    r.ruri = "sip:elsewhere.net".to_owned();
    let (_, resp) = h.send(T0, &r);
    assert_eq!(
        (resp.status, resp.reason.as_str()),
        (404, "Domain not served here")
    );
    // Case-insensitive host.
    r.ruri = "sip:EXAMPLE.COM".to_owned();
    assert_eq!(h.send(T0, &r).1.status, 401);
    let text = Reg::new("alice").contact(CONTACT_A).text().replace(
        "To: <sip:alice@example.com>",
        "To: <sip:alice@elsewhere.net>",
    );
    let mut h = Harness::new(false);
    let (_, resp) = h.send_text(T0, &text, src());
    assert_eq!(resp.status, 404);
    let text = Reg::new("alice")
        .contact(CONTACT_A)
        .text()
        .replace("To: <sip:alice@example.com>", "To: <tel:+15551234>");
    assert_eq!(h.send_text(T0, &text, src()).1.status, 404);
    let mut r = Reg::new("alice").contact(CONTACT_A);
    r.ruri = "tel:+15551234".to_owned();
    assert_eq!(h.send(T0, &r).1.status, 416);
}

// ---- expiry and persistence ----

#[test]
fn test_expiry_removes_bindings() {
    let mut h = Harness::new(false);
    assert_eq!(h.reg.next_expiry(), None);
    let _ = h.send(
        T0,
        &Reg::new("alice").contact("<sip:alice@192.0.2.10>;expires=60"),
    );
    let _ = h.send(
        T0,
        &Reg::new("bob").contact("<sip:bob@192.0.2.20>;expires=120"),
    );
    assert_eq!(h.reg.next_expiry(), Some(T0 + 60));
    assert!(h.reg.expire(T0 + 59).is_empty());
    let gone = h.reg.expire(T0 + 60);
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0].aor, "alice@example.com");
    assert_eq!(h.reg.len(), 1);
    // A refresh moves the expiry; the stale entry fires early and removes nothing.
    let _ = h.send(
        T0 + 100,
        &Reg::new("bob")
            .cseq(2)
            .contact("<sip:bob@192.0.2.20>;expires=120"),
    );
    assert_eq!(h.reg.next_expiry(), Some(T0 + 120));
    assert!(h.reg.expire(T0 + 120).is_empty());
    assert_eq!(h.reg.next_expiry(), Some(T0 + 220));
    assert_eq!(h.reg.expire(T0 + 1000).len(), 1);
    assert!(h.reg.is_empty());
    assert_eq!(h.reg.next_expiry(), None);
}

#[test]
fn test_expiry_after_many_refreshes() {
    // Enough refreshes to make the registrar rebuild its expiry queue.
    let mut h = Harness::new(false);
    let r = Reg::new("alice")
        .contact("<sip:alice@192.0.2.10>;expires=60, <sip:alice@192.0.2.11>;expires=3600");
    assert_eq!(h.send(T0, &r).1.status, 200);
    for n in 2..1500 {
        let r = Reg::new("alice")
            .cseq(n)
            .contact("<sip:alice@192.0.2.10>;expires=60");
        assert_eq!(h.send(T0 + u64::from(n % 30), &r).0.refreshed, 1);
    }
    assert!(h.reg.expire(T0 + 88).is_empty());
    assert_eq!(h.reg.expire(T0 + 89).len(), 1);
    assert_eq!(h.reg.len(), 1);
    let gone = h.reg.expire(T0 + 3600);
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0].contact, "sip:alice@192.0.2.11");
    assert!(h.reg.is_empty());
}

#[test]
fn test_iter_restore_round_trip() {
    let mut h = Harness::new(false);
    let _ = h.send(
        T0,
        &Reg::new("alice").contact("<sip:alice@192.0.2.10>;q=0.2, <sip:alice@192.0.2.11>;q=0.9"),
    );
    let _ = h.send(T0, &Reg::new("bob").contact("<sip:bob@192.0.2.20>"));
    let mut saved: Vec<Binding> = h.reg.iter().cloned().collect();
    saved.sort_by(|a, b| a.contact.cmp(&b.contact));
    let mut fresh = Harness::new(false);
    fresh.reg.restore(saved.clone());
    fresh.reg.restore(saved.clone()); // idempotent
    assert_eq!(fresh.reg.len(), 3);
    let alice: Vec<&Binding> = fresh.reg.lookup(T0, "alice@example.com").collect();
    assert_eq!(alice[0].contact, "sip:alice@192.0.2.11");
    assert_eq!(alice[1].contact, "sip:alice@192.0.2.10");
    let mut back: Vec<Binding> = fresh.reg.iter().cloned().collect();
    back.sort_by(|a, b| a.contact.cmp(&b.contact));
    assert_eq!(back, saved);
    // The restored bindings refresh and expire like others.
    let (outcome, _) = fresh.send(T0, &Reg::new("bob").cseq(2).contact("<sip:bob@192.0.2.20>"));
    assert_eq!(outcome.refreshed, 1);
    assert_eq!(fresh.reg.expire(T0 + 3600).len(), 3);
}

// ---- bad input ----

#[test]
fn test_malformed_requests_bad_request() {
    let mut h = Harness::new(false);
    let good = Reg::new("alice").contact(CONTACT_A).text();
    let cases: &[(&str, &str, &str)] = &[
        (
            "To: <sip:alice@example.com>\r\n",
            "",
            "Missing or malformed To",
        ),
        (
            "Call-ID: alice-call@192.0.2.10\r\n",
            "",
            "Missing or malformed Call-ID",
        ),
        (
            "CSeq: 1 REGISTER\r\n",
            "CSeq: 1 INVITE\r\n",
            "CSeq does not match the request",
        ),
        (
            "CSeq: 1 REGISTER\r\n",
            "CSeq: x REGISTER\r\n",
            "Missing or malformed CSeq",
        ),
        (
            "From: <sip:alice@example.com>;tag=f1\r\n",
            "",
            "Missing or malformed From",
        ),
        (CONTACT_A, "<sip:alice@[::1>", "Malformed Contact"),
        (
            CONTACT_A,
            "<mailto:alice@example.com>",
            "Contact URI is not a SIP URI",
        ),
        (
            CONTACT_A,
            "<sip:alice@192.0.2.10>;expires=soon",
            "Malformed Contact expires",
        ),
        (
            CONTACT_A,
            "<sip:alice@192.0.2.10>;q=2",
            "Malformed Contact q",
        ),
        (
            CONTACT_A,
            "<sip:alice@192.0.2.10>;reg-id=x",
            "Malformed reg-id",
        ),
        (
            "Max-Forwards: 70\r\n",
            "Expires: never\r\n",
            "Malformed Expires",
        ),
        (
            "Max-Forwards: 70\r\n",
            "Path: <sip:p1\r\n",
            "Malformed Path",
        ),
        (
            "Max-Forwards: 70\r\n",
            "To: <sip:bob@example.com>\r\n",
            "Repeated single-valued header",
        ),
        (
            "To: <sip:alice@example.com>",
            "To: <sip:@example.com>",
            "Missing or malformed To",
        ),
        (
            "REGISTER sip:example.com",
            "REGISTER sip:",
            "Malformed Request-URI",
        ),
    ];
    for (from, to, reason) in cases {
        assert!(good.contains(from), "{from}");
        let text = good.replacen(from, to, 1);
        let mut idx = [HeaderIndex::EMPTY; 32];
        let msg = Message::parse(text.as_bytes(), &mut idx).unwrap();
        let outcome = h.reg.handle(T0, &msg, src(), &mut h.out);
        let resp = read(&h.out);
        assert_eq!(
            (resp.status, resp.reason.as_str()),
            (400, *reason),
            "{text}"
        );
        assert!(!outcome.is_modified());
        assert_eq!(h.reg.len(), 0);
    }
    // To without a user: not an address-of-record.
    let text = good.replace("To: <sip:alice@example.com>", "To: <sip:example.com>");
    assert_eq!(h.send_text(T0, &text, src()).1.status, 404);
}

#[test]
fn test_not_register_writes_nothing() {
    let mut h = Harness::new(false);
    let text = Reg::new("alice").text().replace("REGISTER", "OPTIONS");
    let mut idx = [HeaderIndex::EMPTY; 32];
    let msg = Message::parse(text.as_bytes(), &mut idx).unwrap();
    h.out.extend_from_slice(b"old");
    let outcome = h.reg.handle(T0, &msg, src(), &mut h.out);
    assert_eq!(outcome, Outcome::default());
    assert!(h.out.is_empty());
    let resp = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nContent-Length: 0\r\n\r\n";
    let msg = Message::parse(resp, &mut idx).unwrap();
    assert_eq!(h.reg.handle(T0, &msg, src(), &mut h.out).status, None);
}

#[test]
fn test_truncated_and_mangled_never_panic() {
    let mut h = Harness::new(true);
    let mut base = Reg::new("alice")
        .h("Supported: path, outbound")
        .h("Path: <sip:p1.example.com;lr;ob>")
        .contact(&format!(
            "<sip:alice@192.0.2.10;ob>;+sip.instance=\"<{INSTANCE}>\";reg-id=1;q=0.5"
        ));
    base.vias
        .push("SIP/2.0/TCP 10.0.0.1;branch=z9hG4bK-2".to_owned());
    let (_, first) = h.send(T0, &base);
    let auth = authorization(&first, Algorithm::Md5, "alice", "secret-a", &base.ruri);
    let text = base.h(&format!("Authorization: {auth}")).cseq(2).text();
    let head_end = text.find("\r\n\r\n").unwrap();
    let mut answered = 0;
    for cut in 0..head_end {
        for mangle in [
            None,
            Some(b'"'),
            Some(b'<'),
            Some(b';'),
            Some(b' '),
            Some(b','),
        ] {
            let mut bytes = text.as_bytes().to_vec();
            match mangle {
                None => {
                    bytes.truncate(cut);
                    bytes.extend_from_slice(b"\r\nContent-Length: 0\r\n\r\n");
                }
                Some(c) => bytes[cut] = c,
            }
            let mut idx = [HeaderIndex::EMPTY; 32];
            if let Ok(msg) = Message::parse(&bytes, &mut idx) {
                let outcome = h.reg.handle(T0, &msg, src(), &mut h.out);
                if outcome.status.is_some() {
                    let resp = read(&h.out);
                    assert!(
                        matches!(
                            resp.status,
                            200 | 400 | 401 | 403 | 404 | 416 | 420 | 439 | 500 | 503
                        ),
                        "{}",
                        resp.status
                    );
                    answered += 1;
                }
            }
        }
    }
    assert!(answered > 100);
}

#[test]
fn test_date_header() {
    assert_eq!(sip_date(0).to_string(), "Thu, 01 Jan 1970 00:00:00 GMT");
    assert_eq!(
        sip_date(951_782_400).to_string(),
        "Tue, 29 Feb 2000 00:00:00 GMT"
    );
    assert_eq!(
        sip_date(T0 + 3661).to_string(),
        "Mon, 24 Nov 2025 17:01:01 GMT"
    );
}

#[test]
fn test_config_checked() {
    let bad = Config {
        min_expires: 100,
        default_expires: 50,
        ..config(true)
    };
    assert!(Registrar::new(bad, users()).is_err());
    let bad = Config {
        algorithms: vec![Algorithm::Md5Sess],
        ..config(true)
    };
    assert!(Registrar::new(bad, users()).is_err());
    assert!(Registrar::new(config(true), users()).is_ok());
}

/// Many users registering with digest, as a smoke test of the hot path (timing is
/// measured by the benchmarks, not here).
#[test]
fn test_throughput_smoke() {
    let mut h = Harness::new(true);
    let mut u = HashMap::new();
    for i in 0..500 {
        u.insert(format!("u{i}"), format!("p{i}"));
    }
    h.reg = Registrar::with_secret(config(true), u, [1; 32]).unwrap();
    for round in 0..2 {
        for i in 0..500 {
            let user = format!("u{i}");
            let r = Reg::new(&user)
                .cseq(1 + round * 10)
                .contact(&format!("<sip:{user}@192.0.2.{}:5060>", i % 250));
            let (outcome, resp) = h.send_auth(
                T0 + round as u64,
                &r,
                Algorithm::Sha256,
                &user,
                &format!("p{i}"),
            );
            assert_eq!(resp.status, 200);
            assert_eq!(outcome.added.len() + outcome.refreshed, 1);
        }
    }
    assert_eq!(h.reg.len(), 500);
}

#[test]
fn test_wrong_passwords_block_the_guesser_not_the_phone() {
    let mut h = Harness::new(true);
    let phone = src();
    let at = |ip: &str| (format!("{ip}:5060").parse().unwrap(), Transport::Udp);
    // Registers from the address it lives at, with the right password: trusted there.
    let r = Reg::new("alice").contact(CONTACT_A);
    assert_eq!(
        h.send_auth(T0, &r, Algorithm::Sha256, "alice", "secret-a")
            .1
            .status,
        200
    );

    // One address guesses alice's password: ten wrong answers, then it is blocked and
    // its answers are not checked.
    let guess = |h: &mut Harness, now: u64, from: (SocketAddr, Transport), password: &str| {
        let r = Reg::new("alice").contact("<sip:alice@198.51.100.7>");
        let (_, first) = h.send_text(now, &r.text(), from);
        if first.status != 401 {
            return first;
        }
        let auth = authorization(&first, Algorithm::Sha256, "alice", password, &r.ruri);
        let second = r.cseq(2).h(&format!("Authorization: {auth}"));
        h.send_text(now, &second.text(), from).1
    };
    for _ in 0..10 {
        assert_eq!(
            guess(&mut h, T0 + 1, at("198.51.100.7"), "guess").status,
            401
        );
    }
    let blocked = guess(&mut h, T0 + 1, at("198.51.100.7"), "secret-a");
    assert_eq!(blocked.status, 503, "{}", blocked.text);
    assert_eq!(blocked.one("Retry-After"), Some("30"));
    // Others are not blocked by it.
    let r = Reg::new("bob").contact("<sip:bob@192.0.2.20>");
    let other = at("192.0.2.20");
    let (_, first) = h.send_text(T0 + 1, &r.text(), other);
    let auth = authorization(&first, Algorithm::Sha256, "bob", "secret-b", &r.ruri);
    let ok = r.cseq(2).h(&format!("Authorization: {auth}"));
    assert_eq!(h.send_text(T0 + 1, &ok.text(), other).1.status, 200);

    // The guesses were for alice, so alice herself is blocked too, except where she
    // authenticated: a new address waits, her phone goes on registering.
    assert_eq!(
        guess(&mut h, T0 + 2, at("203.0.113.9"), "secret-a").status,
        503
    );
    let r = Reg::new("alice").contact(CONTACT_A).cseq(10);
    let (_, first) = h.send_text(T0 + 2, &r.text(), phone);
    let auth = authorization(&first, Algorithm::Sha256, "alice", "secret-a", &r.ruri);
    let refresh = r.cseq(11).h(&format!("Authorization: {auth}"));
    assert_eq!(h.send_text(T0 + 2, &refresh.text(), phone).1.status, 200);

    // The blocks end: the guesser's answers are checked again (and wrong).
    assert_eq!(
        guess(&mut h, T0 + 32, at("198.51.100.7"), "guess").status,
        401
    );
    let stats = h.reg.guard_stats();
    assert_eq!(stats.failures, 11);
    assert_eq!(stats.blocks, 2);
    assert_eq!(stats.refused, 2);
}
