//! Digest authentication: published vectors (RFC 2617, RFC 7616), vectors for the other
//! algorithms and modes computed independently with Python's `hashlib`, a SIP REGISTER
//! exchange between a client and a server, failure cases, malformed headers, and proof
//! that none of it allocates.
//!
//! Each own vector carries the Python one-liner that derives it.

use alloc_counter::CountingAllocator;
use sip_lite::DigestError;
use sip_lite::digest::{
    Algorithm, ChallengeRepr, CredentialsRepr, HexDigest, Qop, Request, Secret, Verifier, ha1,
    select_challenge, userhash,
};
use sip_lite::wire::{
    Challenge, Credentials, Emit, HeaderIndex, HeaderName, Message, Method, SliceSink, StatusCode,
    Uri, ValueError, Writer,
};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// Emits `value` into a string.
fn emitted<E: Emit>(value: &E) -> String {
    let mut v: heapless::Vec<u8, 1024> = heapless::Vec::new();
    value.emit(&mut v).expect("emit");
    assert_eq!(value.buffer_len(), v.len());
    String::from_utf8(v.to_vec()).expect("UTF-8")
}

// ---------------------------------------------------------------------------------------
// RFC 2617 section 3.5
// ---------------------------------------------------------------------------------------

const RFC2617_CHALLENGE: &str = "Digest\r\n realm=\"testrealm@host.com\",\r\n \
qop=\"auth,auth-int\",\r\n nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\",\r\n \
opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";

const RFC2617_CREDENTIALS: &str = "Digest username=\"Mufasa\",\r\n \
realm=\"testrealm@host.com\",\r\n nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\",\r\n \
uri=\"/dir/index.html\",\r\n qop=auth,\r\n nc=00000001,\r\n cnonce=\"0a4f113b\",\r\n \
response=\"6629fae49393a05397450978507c4ef1\",\r\n \
opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";

#[test]
fn test_rfc2617_client() {
    let c = Challenge::parse(RFC2617_CHALLENGE).unwrap();
    let req = Request::new("GET", "/dir/index.html", b"");
    let a = CredentialsRepr::answer(
        &c,
        &req,
        "Mufasa",
        Secret::Password("Circle Of Life"),
        "0a4f113b",
        1,
    )
    .unwrap();
    assert_eq!(a.qop(), Qop::Auth);
    assert_eq!(a.response().as_str(), "6629fae49393a05397450978507c4ef1");
    assert_eq!(
        emitted(&a),
        "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", \
nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/dir/index.html\", \
response=\"6629fae49393a05397450978507c4ef1\", algorithm=MD5, cnonce=\"0a4f113b\", \
opaque=\"5ccc069c403ebaf9f0171e9517f40e41\", qop=auth, nc=00000001"
    );
    // The same with the stored HA1 instead of the password.
    // python3 -c "import hashlib;print(hashlib.md5(b'Mufasa:testrealm@host.com:Circle Of Life').hexdigest())"
    let stored = HexDigest::parse("939e7578ed9e3c518a452acee763bce9").unwrap();
    assert_eq!(
        ha1(
            Algorithm::Md5,
            "Mufasa",
            "testrealm@host.com",
            "Circle Of Life"
        ),
        stored
    );
    let b =
        CredentialsRepr::answer(&c, &req, "Mufasa", Secret::Ha1(stored), "0a4f113b", 1).unwrap();
    assert_eq!(a, b);
}

#[test]
fn test_rfc2617_server() {
    let creds = Credentials::parse(RFC2617_CREDENTIALS).unwrap();
    assert_eq!(creds.username().unwrap(), "Mufasa");
    assert_eq!(creds.nc(), Some(1));
    let mut v = Verifier::new(
        "testrealm@host.com",
        "dcd98b7102dd2f0e8b11d0f600bfb0c093",
        "GET",
    );
    v.opaque = Some("5ccc069c403ebaf9f0171e9517f40e41");
    v.request_uri = Some("/dir/index.html");
    v.username = Some("Mufasa");
    let ok = v
        .verify(&creds, Secret::Password("Circle Of Life"))
        .unwrap();
    assert_eq!(ok.algorithm, Algorithm::Md5);
    assert_eq!(ok.qop, Qop::Auth);
    assert_eq!(ok.nc, Some(1));
    assert_eq!(ok.cnonce.unwrap(), "0a4f113b");
    let stored = ha1(
        Algorithm::Md5,
        "Mufasa",
        "testrealm@host.com",
        "Circle Of Life",
    );
    assert!(v.verify(&creds, Secret::Ha1(stored)).is_ok());
}

// ---------------------------------------------------------------------------------------
// RFC 7616 section 3.9.1: SHA-256 preferred, MD5 as fallback (two challenges)
// ---------------------------------------------------------------------------------------

const RFC7616_SHA256: &str = "Digest\r\n realm=\"http-auth@example.org\",\r\n \
qop=\"auth, auth-int\",\r\n algorithm=SHA-256,\r\n \
nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\",\r\n \
opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";

const RFC7616_MD5: &str = "Digest\r\n realm=\"http-auth@example.org\",\r\n \
qop=\"auth, auth-int\",\r\n algorithm=MD5,\r\n \
nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\",\r\n \
opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";

const RFC7616_CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";

#[test]
fn test_rfc7616_sha256_and_md5() {
    let chosen = select_challenge([RFC7616_SHA256, RFC7616_MD5]).unwrap();
    assert_eq!(chosen.algorithm(), Ok(Algorithm::Sha256));
    let req = Request::new("GET", "/dir/index.html", b"");
    let secret = Secret::Password("Circle of Life");
    let sha = CredentialsRepr::answer(&chosen, &req, "Mufasa", secret, RFC7616_CNONCE, 1).unwrap();
    assert_eq!(
        sha.response().as_str(),
        "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
    );
    let md5 = Challenge::parse(RFC7616_MD5).unwrap();
    let md5 = CredentialsRepr::answer(&md5, &req, "Mufasa", secret, RFC7616_CNONCE, 1).unwrap();
    assert_eq!(md5.response().as_str(), "8ca523f5e9506fed4657c9700eebdbec");

    // The server's side of the MD5 example, as printed in the RFC.
    let creds = Credentials::parse(
        "Digest username=\"Mufasa\",\r\n realm=\"http-auth@example.org\",\r\n \
uri=\"/dir/index.html\",\r\n algorithm=MD5,\r\n \
nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\",\r\n nc=00000001,\r\n \
cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\",\r\n qop=auth,\r\n \
response=\"8ca523f5e9506fed4657c9700eebdbec\",\r\n \
opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"",
    )
    .unwrap();
    let mut v = Verifier::new(
        "http-auth@example.org",
        "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
        "GET",
    );
    v.algorithms = &[Algorithm::Sha256, Algorithm::Md5];
    v.opaque = Some("FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS");
    assert!(v.verify(&creds, secret).is_ok());
    // And of the SHA-256 answer, through its emitted form.
    let text = emitted(&sha);
    let creds = Credentials::parse(&text).unwrap();
    assert_eq!(
        v.verify(&creds, secret).unwrap().algorithm,
        Algorithm::Sha256
    );
    v.algorithms = &[Algorithm::Md5];
    assert_eq!(v.verify(&creds, secret), Err(DigestError::Mismatch));
}

// ---------------------------------------------------------------------------------------
// RFC 7616 section 3.9.2: SHA-512-256 with userhash
// ---------------------------------------------------------------------------------------

/// The RFC prints `username="488869477bf2..."` and `response="ae66e67d6b42..."`; both are
/// SHA-512 truncated to 256 bits, not SHA-512/256, which starts from other initial
/// values. Reproduce the printed values with
/// python3 -c "import hashlib;print(hashlib.sha512('J\u00e4s\u00f8n Doe:api@example.org'.encode()).hexdigest()[:64])"
/// The values below are the same computation with SHA-512/256.
#[test]
fn test_rfc7616_sha512_256_userhash() {
    let c = Challenge::parse(
        "Digest\r\n realm=\"api@example.org\",\r\n qop=\"auth\",\r\n \
algorithm=SHA-512-256,\r\n nonce=\"5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK\",\r\n \
opaque=\"HRPCssKJSGjCrkzDg8OhwpzCiGPChXYjwrI2QmXDnsOS\",\r\n charset=UTF-8,\r\n \
userhash=true",
    )
    .unwrap();
    assert!(c.userhash());
    assert_eq!(c.param("charset").unwrap(), "UTF-8");
    let user = "J\u{e4}s\u{f8}n Doe";
    let req = Request::new("GET", "/doe.json", b"");
    let secret = Secret::Password("Secret, or not?");
    let cnonce = "NTg6RKcb9boFIAS3KrFK9BGeh+iDa/sm6jUMp2wds69v";
    let a = CredentialsRepr::answer(&c, &req, user, secret, cnonce, 1)
        .unwrap()
        .with_userhash();
    // python3 -c "import hashlib;print(hashlib.new('sha512_256','J\u00e4s\u00f8n Doe:api@example.org'.encode()).hexdigest())"
    let hashed = "793263caabb707a56211940d90411ea4a575adeccb7e360aeb624ed06ece9b0b";
    assert_eq!(
        userhash(Algorithm::Sha512_256, user, "api@example.org").as_str(),
        hashed
    );
    // python3 -c "import hashlib;H=lambda s:hashlib.new('sha512_256',s.encode()).hexdigest();print(H(H('J\u00e4s\u00f8n Doe:api@example.org:Secret, or not?')+':5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK:00000001:NTg6RKcb9boFIAS3KrFK9BGeh+iDa/sm6jUMp2wds69v:auth:'+H('GET:/doe.json')))"
    assert_eq!(
        a.response().as_str(),
        "3798d4131c277846293534c3edc11bd8a5e4cdcbff78b05db9d95eeb1cec68a5"
    );
    let text = emitted(&a);
    assert!(text.starts_with(&format!("Digest username=\"{hashed}\", ")));
    assert!(text.ends_with(", userhash=true"));

    let creds = Credentials::parse(&text).unwrap();
    assert!(creds.userhash());
    let mut v = Verifier::new(
        "api@example.org",
        "5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK",
        "GET",
    );
    // A password needs the clear user name, which the server looked up by the hash.
    assert_eq!(v.verify(&creds, secret), Err(DigestError::MissingParam));
    v.username = Some(user);
    let ok = v.verify(&creds, secret).unwrap();
    assert_eq!(ok.username, hashed);
    // A stored HA1 needs no user name.
    v.username = None;
    let stored = ha1(
        Algorithm::Sha512_256,
        user,
        "api@example.org",
        "Secret, or not?",
    );
    assert!(v.verify(&creds, Secret::Ha1(stored)).is_ok());
    v.username = Some("Someone Else");
    assert_eq!(v.verify(&creds, secret), Err(DigestError::Mismatch));
}

// ---------------------------------------------------------------------------------------
// Own vectors: user alice, password wonderland, realm atlanta.example.com,
// nonce 84a4cc6f3082121f32b42a2187831a9e, cnonce 0a4f113b.
// ---------------------------------------------------------------------------------------

const NONCE: &str = "84a4cc6f3082121f32b42a2187831a9e";
const REALM: &str = "atlanta.example.com";
const SDP: &[u8] = b"v=0\r\no=alice 2890844526 2890844526 IN IP4 192.0.2.1\r\n";

struct Vector {
    algorithm: &'static str,
    /// The challenge's `qop` parameter, if any.
    qop: Option<&'static str>,
    method: &'static str,
    uri: &'static str,
    body: &'static [u8],
    nc: u32,
    expected_qop: Qop,
    response: &'static str,
}

const VECTORS: &[Vector] = &[
    // python3 -c "import hashlib;H=lambda s:hashlib.md5(s.encode()).hexdigest();print(H(H(H('alice:atlanta.example.com:wonderland')+':84a4cc6f3082121f32b42a2187831a9e:0a4f113b')+':84a4cc6f3082121f32b42a2187831a9e:00000001:0a4f113b:auth:'+H('REGISTER:sip:atlanta.example.com')))"
    Vector {
        algorithm: "MD5-sess",
        qop: Some("auth"),
        method: "REGISTER",
        uri: "sip:atlanta.example.com",
        body: b"",
        nc: 1,
        expected_qop: Qop::Auth,
        response: "93f2de247aeb693d695d69bdcaca39db",
    },
    // python3 -c "import hashlib;H=lambda s:hashlib.sha256(s.encode()).hexdigest();print(H(H(H('alice:atlanta.example.com:wonderland')+':84a4cc6f3082121f32b42a2187831a9e:0a4f113b')+':84a4cc6f3082121f32b42a2187831a9e:00000001:0a4f113b:auth:'+H('REGISTER:sip:atlanta.example.com')))"
    Vector {
        algorithm: "sha-256-SESS",
        qop: Some("auth"),
        method: "REGISTER",
        uri: "sip:atlanta.example.com",
        body: b"",
        nc: 1,
        expected_qop: Qop::Auth,
        response: "1b638f436a0d4762afc78f5b697c0546537dc7d329bc0205e6adfcd41031d815",
    },
    // python3 -c "import hashlib;H=lambda s:hashlib.new('sha512_256',s.encode()).hexdigest();print(H(H('alice:atlanta.example.com:wonderland')+':84a4cc6f3082121f32b42a2187831a9e:00000001:0a4f113b:auth:'+H('REGISTER:sip:atlanta.example.com')))"
    Vector {
        algorithm: "SHA-512-256",
        qop: Some("auth,auth-int"),
        method: "REGISTER",
        uri: "sip:atlanta.example.com",
        body: b"",
        nc: 1,
        expected_qop: Qop::Auth,
        response: "b3bf7eb0ae731254a8cf2e8ade829692bbef2e92c2d5933d1c782fd6d6f7e60b",
    },
    // python3 -c "import hashlib;H=lambda s:hashlib.new('sha512_256',s.encode()).hexdigest();print(H(H(H('alice:atlanta.example.com:wonderland')+':84a4cc6f3082121f32b42a2187831a9e:0a4f113b')+':84a4cc6f3082121f32b42a2187831a9e:00000001:0a4f113b:auth:'+H('REGISTER:sip:atlanta.example.com')))"
    Vector {
        algorithm: "SHA-512-256-sess",
        qop: Some("auth"),
        method: "REGISTER",
        uri: "sip:atlanta.example.com",
        body: b"",
        nc: 1,
        expected_qop: Qop::Auth,
        response: "3af8c4229345b78d05cdeba438a0a635b3f5b85160cb4cbe5d135f6ad3cbe505",
    },
    // auth-int is chosen when it is the only option; the body is covered.
    // python3 -c "import hashlib;H=lambda s:hashlib.md5(s.encode()).hexdigest();print(H(H('alice:atlanta.example.com:wonderland')+':84a4cc6f3082121f32b42a2187831a9e:00000002:0a4f113b:auth-int:'+H('INVITE:sip:bob@biloxi.example.com:'+H('v=0\r\no=alice 2890844526 2890844526 IN IP4 192.0.2.1\r\n'))))"
    Vector {
        algorithm: "MD5",
        qop: Some("auth-int"),
        method: "INVITE",
        uri: "sip:bob@biloxi.example.com",
        body: SDP,
        nc: 2,
        expected_qop: Qop::AuthInt,
        response: "4a9bc9732c8ef4fd0d28771ca6879267",
    },
    // auth-int with an empty body: H(entity-body) is the hash of nothing.
    // python3 -c "import hashlib;H=lambda s:hashlib.sha256(s.encode()).hexdigest();print(H(H('alice:atlanta.example.com:wonderland')+':84a4cc6f3082121f32b42a2187831a9e:00000001:0a4f113b:auth-int:'+H('REGISTER:sip:atlanta.example.com:'+H(''))))"
    Vector {
        algorithm: "SHA-256",
        qop: Some("auth-int"),
        method: "REGISTER",
        uri: "sip:atlanta.example.com",
        body: b"",
        nc: 1,
        expected_qop: Qop::AuthInt,
        response: "146ebd3d98ea6ed7c2ac50184c79a6917ffb260d5c54d5a4eac35ff6cd8f2cfa",
    },
    // RFC 2069 style: no qop, no cnonce, no nc.
    // python3 -c "import hashlib;H=lambda s:hashlib.md5(s.encode()).hexdigest();print(H(H('alice:atlanta.example.com:wonderland')+':84a4cc6f3082121f32b42a2187831a9e:'+H('REGISTER:sip:atlanta.example.com')))"
    Vector {
        algorithm: "MD5",
        qop: None,
        method: "REGISTER",
        uri: "sip:atlanta.example.com",
        body: b"",
        nc: 1,
        expected_qop: Qop::None,
        response: "5fa58e78cff3fead82202fe8e312ab50",
    },
    // A nonce count above 9 is written in hexadecimal.
    // python3 -c "import hashlib;H=lambda s:hashlib.sha256(s.encode()).hexdigest();print(H(H('alice:atlanta.example.com:wonderland')+':84a4cc6f3082121f32b42a2187831a9e:0000001a:0a4f113b:auth:'+H('REGISTER:sip:atlanta.example.com')))"
    Vector {
        algorithm: "SHA-256",
        qop: Some("auth"),
        method: "REGISTER",
        uri: "sip:atlanta.example.com",
        body: b"",
        nc: 26,
        expected_qop: Qop::Auth,
        response: "3a3cfc225cb3242965eda9bf871ca3ec64551f25229e65a3a92d162d20d67a90",
    },
];

#[test]
fn test_own_vectors() {
    for v in VECTORS {
        let qop = v.qop.map_or(String::new(), |q| format!(", qop=\"{q}\""));
        let challenge = format!(
            "Digest realm=\"{REALM}\", nonce=\"{NONCE}\", algorithm={}{qop}",
            v.algorithm
        );
        let c = Challenge::parse(&challenge).unwrap();
        let algorithm = Algorithm::parse(v.algorithm).unwrap();
        assert_eq!(c.algorithm(), Ok(algorithm));
        let req = Request::new(v.method, v.uri, v.body);
        let secret = Secret::Password("wonderland");
        let a = CredentialsRepr::answer(&c, &req, "alice", secret, "0a4f113b", v.nc).unwrap();
        assert_eq!(a.response().as_str(), v.response, "{}", v.algorithm);
        assert_eq!(a.qop(), v.expected_qop);

        // The stored HA1 gives the same answer.
        let stored = ha1(algorithm, "alice", REALM, "wonderland");
        assert_eq!(stored.len(), algorithm.hex_len());
        let b = CredentialsRepr::answer(&c, &req, "alice", Secret::Ha1(stored), "0a4f113b", v.nc)
            .unwrap();
        assert_eq!(a, b);

        // What the client sends, the server accepts.
        let text = emitted(&a);
        if v.expected_qop == Qop::None {
            assert!(!text.contains("nc=") && !text.contains("qop="), "{text}");
            assert_eq!(text.contains("cnonce="), algorithm.is_session(), "{text}");
        } else {
            assert!(text.contains(&format!(", nc={:08x}", v.nc)), "{text}");
        }
        let creds = Credentials::parse(&text).unwrap();
        assert_eq!(creds.response().unwrap(), v.response);
        let mut verifier = Verifier::new(REALM, NONCE, v.method);
        verifier.request_uri = Some(v.uri);
        verifier.body = v.body;
        verifier.qops = &[Qop::Auth, Qop::AuthInt, Qop::None];
        let ok = verifier.verify(&creds, secret).unwrap();
        assert_eq!(ok.qop, v.expected_qop);
        assert_eq!(
            ok.nc,
            (v.expected_qop != Qop::None).then_some(v.nc),
            "{text}"
        );
        assert!(verifier.verify(&creds, Secret::Ha1(stored)).is_ok());
        if v.expected_qop == Qop::AuthInt {
            verifier.body = b"v=1\r\n";
            assert_eq!(
                verifier.verify(&creds, secret),
                Err(DigestError::BadResponse)
            );
        }
    }
}

#[test]
fn test_escaped_realm_is_hashed_unescaped() {
    // The realm is `a"b`; the hash covers the unescaped text.
    // python3 -c "import hashlib;H=lambda s:hashlib.md5(s.encode()).hexdigest();print(H(H('alice:a\"b:wonderland')+':84a4cc6f3082121f32b42a2187831a9e:00000001:0a4f113b:auth:'+H('REGISTER:sip:atlanta.example.com')))"
    let c = Challenge::parse(
        r#"Digest realm="a\"b", nonce="84a4cc6f3082121f32b42a2187831a9e", qop="auth""#,
    )
    .unwrap();
    assert_eq!(c.realm().unwrap(), "a\"b");
    let req = Request::new("REGISTER", "sip:atlanta.example.com", b"");
    let secret = Secret::Password("wonderland");
    let a = CredentialsRepr::answer(&c, &req, "alice", secret, "0a4f113b", 1).unwrap();
    assert_eq!(a.response().as_str(), "d78253a1ed41730ebcad2418d8347e61");
    let text = emitted(&a);
    assert!(text.contains(r#"realm="a\"b""#), "{text}");
    let creds = Credentials::parse(&text).unwrap();
    let ok = Verifier::new("a\"b", NONCE, "REGISTER").verify(&creds, secret);
    assert!(ok.is_ok());
    // A user name needing escapes survives the trip.
    let a = CredentialsRepr::answer(&c, &req, r#"al"i\ce"#, secret, "0a4f113b", 1).unwrap();
    let text = emitted(&a);
    assert!(text.starts_with(r#"Digest username="al\"i\\ce""#), "{text}");
    let creds = Credentials::parse(&text).unwrap();
    let ok = Verifier::new("a\"b", NONCE, "REGISTER")
        .verify(&creds, secret)
        .unwrap();
    assert_eq!(ok.username, r#"al"i\ce"#);
}

// ---------------------------------------------------------------------------------------
// A SIP REGISTER exchange
// ---------------------------------------------------------------------------------------

const RESPONSE_401: &[u8] = b"SIP/2.0 401 Unauthorized\r\n\
Via: SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bKnashds7;received=192.0.2.101\r\n\
From: Bob <sip:bob@biloxi.example.com>;tag=a73kszlfl\r\n\
To: Bob <sip:bob@biloxi.example.com>;tag=1410948204\r\n\
Call-ID: 1j9FpLxk3uxtm8tn@biloxi.example.com\r\n\
CSeq: 1 REGISTER\r\n\
WWW-Authenticate: Digest realm=\"atlanta.example.com\", qop=\"auth\",\r\n \
nonce=\"ea9c8e88df84f1cec4341ae6cbe5a359\", opaque=\"\", stale=FALSE,\r\n algorithm=MD5\r\n\
Content-Length: 0\r\n\
\r\n";

const REGISTRAR_NONCE: &str = "ea9c8e88df84f1cec4341ae6cbe5a359";

/// Builds the second REGISTER, with `authorization` as its Authorization header.
fn register_with<E: Emit>(authorization: &E, buf: &mut [u8]) -> usize {
    let uri = Uri::parse("sip:atlanta.example.com").unwrap();
    let mut w = Writer::request(SliceSink::new(buf), Method::Register, &uri).unwrap();
    w.header("Via", "SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bKnashd92")
        .unwrap()
        .header("Max-Forwards", "70")
        .unwrap()
        .header(
            "From",
            "Bob <sip:bob@biloxi.example.com>;tag=ja743ks76zlflH",
        )
        .unwrap()
        .header("To", "Bob <sip:bob@biloxi.example.com>")
        .unwrap()
        .header("Call-ID", "1j9FpLxk3uxtm8tn@biloxi.example.com")
        .unwrap()
        .header("CSeq", "2 REGISTER")
        .unwrap()
        .header("Contact", "<sip:bob@192.0.2.101>")
        .unwrap()
        .header_typed(HeaderName::Authorization, authorization)
        .unwrap();
    w.finish(b"").unwrap().len()
}

/// The registrar's check of a REGISTER: expects `nonce`, knows bob's password.
fn registrar_check(request: &[u8], nonce: &str, password: &str) -> Result<u32, DigestError> {
    let mut headers = [HeaderIndex::EMPTY; 16];
    let msg = Message::parse(request, &mut headers).unwrap();
    let value = msg.header(HeaderName::Authorization).unwrap();
    let creds = Credentials::parse(value)?;
    let mut v = Verifier::new("atlanta.example.com", nonce, msg.method().unwrap().as_str());
    v.request_uri = msg.request_uri_str();
    v.opaque = Some("");
    v.username = Some("bob");
    v.algorithms = &[Algorithm::Md5];
    v.qops = &[Qop::Auth];
    let ok = v.verify(&creds, Secret::Password(password))?;
    Ok(ok.nc.unwrap_or(0))
}

/// The client's answer to the 401, parsed from the message.
fn client_answer<'a>(response: &'a Message<'a>, password: &'a str, nc: u32) -> CredentialsRepr<'a> {
    assert_eq!(response.status(), Some(StatusCode::UNAUTHORIZED));
    let challenge = select_challenge(response.header_lines(HeaderName::WwwAuthenticate)).unwrap();
    let req = Request::new("REGISTER", "sip:atlanta.example.com", b"");
    CredentialsRepr::answer(
        &challenge,
        &req,
        "bob",
        Secret::Password(password),
        "a7b3c",
        nc,
    )
    .unwrap()
}

#[test]
fn test_register_exchange() {
    let mut headers = [HeaderIndex::EMPTY; 16];
    let resp = Message::parse(RESPONSE_401, &mut headers).unwrap();
    let c = Challenge::parse(resp.header(HeaderName::WwwAuthenticate).unwrap()).unwrap();
    assert!(!c.stale());
    assert_eq!(c.opaque().unwrap(), "");

    let answer = client_answer(&resp, "zanzibar", 1);
    let mut buf = [0u8; 1024];
    let n = register_with(&answer, &mut buf);
    assert_eq!(
        registrar_check(&buf[..n], REGISTRAR_NONCE, "zanzibar"),
        Ok(1)
    );
    // Wrong password.
    assert_eq!(
        registrar_check(&buf[..n], REGISTRAR_NONCE, "zanzibaR"),
        Err(DigestError::BadResponse)
    );
    // The next request with the same nonce counts up.
    let answer = client_answer(&resp, "zanzibar", 2);
    let n = register_with(&answer, &mut buf);
    assert_eq!(
        registrar_check(&buf[..n], REGISTRAR_NONCE, "zanzibar"),
        Ok(2)
    );
}

#[test]
fn test_register_stale_nonce() {
    let mut headers = [HeaderIndex::EMPTY; 16];
    let resp = Message::parse(RESPONSE_401, &mut headers).unwrap();
    let answer = client_answer(&resp, "zanzibar", 1);
    let mut buf = [0u8; 1024];
    let n = register_with(&answer, &mut buf);
    // The registrar has moved on to a new nonce: right password, old nonce.
    let fresh = "5ccc069c403ebaf9f0171e9517f40e41";
    assert_eq!(
        registrar_check(&buf[..n], fresh, "zanzibar"),
        Err(DigestError::StaleNonce)
    );
    // Old nonce and wrong password: not stale, just wrong.
    assert_eq!(
        registrar_check(&buf[..n], fresh, "other"),
        Err(DigestError::Mismatch)
    );
    // It challenges again with stale=true; the client answers without asking the user.
    let mut repr = ChallengeRepr::new("atlanta.example.com", fresh);
    repr.stale = true;
    repr.opaque = Some("");
    let text = emitted(&repr);
    assert_eq!(
        text,
        "Digest realm=\"atlanta.example.com\", nonce=\"5ccc069c403ebaf9f0171e9517f40e41\", \
opaque=\"\", stale=true, algorithm=MD5, qop=\"auth\""
    );
    let c = Challenge::parse(&text).unwrap();
    assert!(c.stale());
    let req = Request::new("REGISTER", "sip:atlanta.example.com", b"");
    let answer =
        CredentialsRepr::answer(&c, &req, "bob", Secret::Password("zanzibar"), "f00d", 1).unwrap();
    let n = register_with(&answer, &mut buf);
    assert_eq!(registrar_check(&buf[..n], fresh, "zanzibar"), Ok(1));
}

#[test]
fn test_register_tampering() {
    let mut headers = [HeaderIndex::EMPTY; 16];
    let resp = Message::parse(RESPONSE_401, &mut headers).unwrap();
    let answer = client_answer(&resp, "zanzibar", 1);
    let good = emitted(&answer);
    let check = |value: &str| {
        let mut buf = [0u8; 1024];
        let creds = Credentials::parse(value).unwrap();
        let n = register_with(&creds, &mut buf);
        registrar_check(&buf[..n], REGISTRAR_NONCE, "zanzibar")
    };
    assert_eq!(check(&good), Ok(1));
    let response = answer.response().as_str();
    let mut flipped = response.to_owned();
    flipped.replace_range(..1, if response.starts_with('0') { "1" } else { "0" });
    for (from, to, err) in [
        // Tampered response.
        (response, flipped.as_str(), DigestError::BadResponse),
        // Wrong nonce: the response does not match it either.
        (
            REGISTRAR_NONCE,
            "ea9c8e88df84f1cec4341ae6cbe5a35a",
            DigestError::Mismatch,
        ),
        // Wrong realm.
        ("realm=\"atlanta", "realm=\"biloxi", DigestError::Mismatch),
        // Another user.
        (
            "username=\"bob\"",
            "username=\"alice\"",
            DigestError::Mismatch,
        ),
        // Another URI.
        (
            "uri=\"sip:atlanta",
            "uri=\"sip:biloxi",
            DigestError::Mismatch,
        ),
        // Opaque not returned unchanged.
        ("opaque=\"\"", "opaque=\"x\"", DigestError::Mismatch),
        // An algorithm not offered.
        ("algorithm=MD5", "algorithm=SHA-256", DigestError::Mismatch),
        // An algorithm unknown.
        (
            "algorithm=MD5",
            "algorithm=SHA3-256",
            DigestError::UnsupportedAlgorithm,
        ),
        // A qop not offered, a qop unknown.
        ("qop=auth", "qop=auth-int", DigestError::Mismatch),
        ("qop=auth", "qop=auth-conf", DigestError::UnsupportedQop),
        // Required parameters missing.
        ("cnonce=", "cnoncx=", DigestError::MissingParam),
        ("nc=", "nx=", DigestError::MissingParam),
        ("uri=", "urx=", DigestError::MissingParam),
        ("response=", "responsx=", DigestError::MissingParam),
        ("username=", "usernamx=", DigestError::MissingParam),
        // Not Digest at all.
        ("Digest ", "NotDigest ", DigestError::Scheme),
    ] {
        assert!(good.contains(from), "{from}");
        let bad = good.replacen(from, to, 1);
        assert_eq!(check(&bad), Err(err), "{bad}");
    }
    // Upper-case hexadecimal is the same response.
    let upper = good.replacen(response, &response.to_uppercase(), 1);
    assert_ne!(upper, good);
    assert_eq!(check(&upper), Ok(1));
    // An equivalent Request-URI (RFC 3261 comparison) is accepted.
    let equivalent = good.replacen(
        "uri=\"sip:atlanta.example.com\"",
        "uri=\"sip:ATLANTA.example.com\"",
        1,
    );
    assert_ne!(equivalent, good);
    let creds = Credentials::parse(&equivalent).unwrap();
    let mut v = Verifier::new("atlanta.example.com", REGISTRAR_NONCE, "REGISTER");
    v.request_uri = Some("sip:atlanta.example.com");
    // The URI check passes; the response was computed for the other spelling.
    assert_eq!(
        v.verify(&creds, Secret::Password("zanzibar")),
        Err(DigestError::BadResponse)
    );
}

// ---------------------------------------------------------------------------------------
// Errors of the client side
// ---------------------------------------------------------------------------------------

#[test]
fn test_answer_errors() {
    let req = Request::new("REGISTER", "sip:a.example.com", b"");
    let pw = Secret::Password("pw");
    let answer = |challenge: &str| {
        let c = Challenge::parse(challenge).unwrap();
        CredentialsRepr::answer(&c, &req, "u", pw, "cn", 1).map(|a| a.qop())
    };
    assert_eq!(answer("Digest realm=\"r\", nonce=\"n\""), Ok(Qop::None));
    assert_eq!(
        answer("Digest realm=\"r\", nonce=\"n\", qop=\"auth-int,auth\""),
        Ok(Qop::Auth)
    );
    assert_eq!(
        answer("Digest realm=\"r\", nonce=\"n\", qop=\"auth-conf, auth-int\""),
        Ok(Qop::AuthInt)
    );
    assert_eq!(
        answer("Digest realm=\"r\", nonce=\"n\", qop=\"auth-conf\""),
        Err(DigestError::UnsupportedQop)
    );
    assert_eq!(answer("Digest nonce=\"n\""), Err(DigestError::MissingParam));
    assert_eq!(answer("Digest realm=\"r\""), Err(DigestError::MissingParam));
    assert_eq!(
        answer("Digest realm=\"r\", nonce=\"n\", algorithm=SHA-1"),
        Err(DigestError::UnsupportedAlgorithm)
    );
    // An unknown scheme (RFC 4475 section 3.3.7) parses, but cannot be answered.
    assert_eq!(
        answer("NoOneKnowsThisScheme opaque-data=here"),
        Err(DigestError::Scheme)
    );
    // An MD5 HA1 cannot answer a SHA-256 challenge.
    let c = Challenge::parse("Digest realm=\"r\", nonce=\"n\", algorithm=SHA-256").unwrap();
    let md5 = ha1(Algorithm::Md5, "u", "r", "pw");
    assert_eq!(
        CredentialsRepr::answer(&c, &req, "u", Secret::Ha1(md5), "cn", 1),
        Err(DigestError::UnsupportedAlgorithm)
    );
    // A qop needs a cnonce.
    let c = Challenge::parse("Digest realm=\"r\", nonce=\"n\", qop=\"auth\"").unwrap();
    assert_eq!(
        CredentialsRepr::answer(&c, &req, "u", pw, "", 1),
        Err(DigestError::MissingParam)
    );
    // Control characters cannot be emitted.
    let a = CredentialsRepr::answer(&c, &req, "u\r\nVia: x", pw, "cn", 1).unwrap();
    let mut buf = [0u8; 512];
    assert!(a.emit(&mut SliceSink::new(&mut buf)).is_err());
    // Too small a buffer is an error, not a panic.
    let a = CredentialsRepr::answer(&c, &req, "u", pw, "cn", 1).unwrap();
    let mut small = [0u8; 16];
    assert!(a.emit(&mut SliceSink::new(&mut small)).is_err());
}

/// RFC 4475 section 3.3.7 (regaut01): a REGISTER whose Authorization has an unknown
/// scheme is well-formed; the credentials parse, the digest check refuses them.
#[test]
fn test_unknown_scheme_in_register() {
    let register = b"REGISTER sip:example.com SIP/2.0\r\n\
To: sip:j.user@example.com\r\n\
From: sip:j.user@example.com;tag=87321hj23128\r\n\
Max-Forwards: 8\r\n\
Call-ID: 9vWUi4SNwbIGTVn\r\n\
CSeq: 9338 REGISTER\r\n\
Via: SIP/2.0/TCP 192.0.2.253;branch=z9hG4bKkdjuw\r\n\
Authorization: NoOneKnowsThisScheme opaque-data=here\r\n\
Content-Length:0\r\n\
\r\n";
    let mut headers = [HeaderIndex::EMPTY; 16];
    let msg = Message::parse(register, &mut headers).unwrap();
    let creds = Credentials::parse(msg.header(HeaderName::Authorization).unwrap()).unwrap();
    assert!(!creds.is_digest());
    assert_eq!(creds.scheme(), "NoOneKnowsThisScheme");
    assert_eq!(creds.param("opaque-data").unwrap(), "here");
    let v = Verifier::new("example.com", "n", "REGISTER");
    assert_eq!(
        v.verify(&creds, Secret::Password("pw")),
        Err(DigestError::Scheme)
    );
    // Quoted values and several parameters, as well.
    let creds = Credentials::parse("SchemeNobodyKnows secret-stuff=\"here\", more=1").unwrap();
    assert_eq!(creds.params().iter().count(), 2);
    assert_eq!(
        v.verify(&creds, Secret::Password("pw")),
        Err(DigestError::Scheme)
    );
}

#[test]
fn test_select_challenge() {
    assert!(select_challenge(["Basic realm=\"x\"", "Digest realm=\"x\""]).is_none());
    let c = select_challenge([
        "Digest realm=\"x\", nonce=\"1\", qop=\"auth-conf\"",
        "Digest realm=\"x\", nonce=\"1\", qop=\"auth, auth-conf\"",
    ])
    .unwrap();
    assert!(c.offers_qop(Qop::Auth));
}

// ---------------------------------------------------------------------------------------
// Malformed header values
// ---------------------------------------------------------------------------------------

#[test]
fn test_malformed_values() {
    for (bad, err) in [
        (
            "Digest realm=\"atlanta.example.com, nonce=\"x\"",
            ValueError::TrailingData,
        ),
        (
            "Digest realm=\"atlanta.example.com",
            ValueError::UnterminatedQuote,
        ),
        (
            "Digest realm=\"a\", nonce=\"b\", realm=\"a\"",
            ValueError::Param,
        ),
        ("Digest realm=\"a\", nonce", ValueError::Param),
        ("Digest realm \"a\"", ValueError::Param),
        ("Digest realm=\"a\", , nonce=\"b\"", ValueError::Param),
        ("Digest", ValueError::Empty),
        ("", ValueError::Empty),
        ("Digest realm=\"a\\", ValueError::UnterminatedQuote),
    ] {
        assert_eq!(Challenge::parse(bad), Err(err), "{bad:?}");
        assert_eq!(Credentials::parse(bad), Err(err), "{bad:?}");
    }
    assert_eq!(
        Credentials::parse("Digest username=\"a\", nc=1"),
        Err(ValueError::Number)
    );
    assert_eq!(
        Credentials::parse("Digest username=\"a\", nc=0000000g"),
        Err(ValueError::Number)
    );
}

/// Every prefix and many one-octet mutations of valid values parse or fail cleanly, and
/// whatever parses goes through the computations without panicking.
#[test]
fn test_mutations_never_panic() {
    let secret = Secret::Password("zanzibar");
    let verifier = Verifier::new("atlanta.example.com", REGISTRAR_NONCE, "REGISTER");
    let req = Request::new("REGISTER", "sip:atlanta.example.com", b"");
    let seeds = [
        RFC2617_CHALLENGE,
        RFC2617_CREDENTIALS,
        "Digest username=\"bob\", realm=\"atlanta.example.com\", \
nonce=\"ea9c8e88df84f1cec4341ae6cbe5a359\", uri=\"sip:atlanta.example.com\", \
response=\"0123456789abcdef0123456789abcdef\", algorithm=MD5-sess, cnonce=\"a\\\"b\", \
qop=auth, nc=00000001, userhash=true",
    ];
    let replacements = [
        b'"', b'\\', b',', b'=', b' ', b'\t', b'x', b'0', 0, 0x7f, b'\r',
    ];
    let run = |s: &str| {
        if let Ok(c) = Challenge::parse(s) {
            let _ = CredentialsRepr::answer(&c, &req, "bob", secret, "cn", 1).map(|a| emitted(&a));
            let _ = emitted(&c);
            let _ = c.qop_options().count();
        }
        if let Ok(c) = Credentials::parse(s) {
            let _ = verifier.verify(&c, secret);
            let _ = (c.nc(), c.qop(), c.algorithm(), c.userhash());
            let again = emitted(&c);
            assert_eq!(Credentials::parse(&again), Ok(c), "{again}");
        }
    };
    for seed in seeds {
        for i in 0..=seed.len() {
            run(&seed[..i]);
        }
        for i in 0..seed.len() {
            for &r in &replacements {
                let mut b = seed.as_bytes().to_vec();
                b[i] = r;
                run(std::str::from_utf8(&b).unwrap());
            }
        }
    }
}

#[test]
fn test_view_round_trip() {
    let other = [
        "NoOneKnowsThisScheme opaque-data=here",
        "Bearer mF_9.B5f-4.1JqM",
    ];
    for v in [RFC2617_CHALLENGE, RFC7616_SHA256, RFC7616_MD5]
        .iter()
        .chain(&other)
    {
        let c = Challenge::parse(v).unwrap();
        assert_eq!(Challenge::parse(&emitted(&c)), Ok(c));
    }
    for v in [RFC2617_CREDENTIALS].iter().chain(&other) {
        let c = Credentials::parse(v).unwrap();
        assert_eq!(Credentials::parse(&emitted(&c)), Ok(c));
    }
    let c = Credentials::parse(RFC2617_CREDENTIALS).unwrap();
    assert!(emitted(&c).starts_with("Digest username=\"Mufasa\", realm=\"testrealm@host.com\", "));
}

#[test]
fn test_challenge_repr() {
    let repr = ChallengeRepr {
        realm: "atlanta.example.com",
        nonce: "n\"1",
        opaque: Some("o"),
        domain: Some("sip:atlanta.example.com sip:ss1.atlanta.example.com"),
        algorithm: Algorithm::Sha512_256Sess,
        qop: &[Qop::Auth, Qop::None, Qop::AuthInt],
        stale: false,
        userhash: true,
    };
    let text = emitted(&repr);
    assert_eq!(
        text,
        "Digest realm=\"atlanta.example.com\", \
domain=\"sip:atlanta.example.com sip:ss1.atlanta.example.com\", nonce=\"n\\\"1\", \
opaque=\"o\", algorithm=SHA-512-256-sess, qop=\"auth,auth-int\", userhash=true"
    );
    let c = Challenge::parse(&text).unwrap();
    assert_eq!(c.nonce().unwrap(), "n\"1");
    assert_eq!(c.algorithm(), Ok(Algorithm::Sha512_256Sess));
    assert!(c.qop_options().eq(["auth", "auth-int"]));
    assert!(c.userhash());
    assert_eq!(c.domain().unwrap(), repr.domain.unwrap());

    // The whole exchange for the -sess algorithm with a stored HA1 on both sides.
    let stored = ha1(Algorithm::Sha512_256, "carol", "atlanta.example.com", "pw");
    let req = Request::new("MESSAGE", "sip:bob@atlanta.example.com", b"hello");
    let a = CredentialsRepr::answer(&c, &req, "carol", Secret::Ha1(stored), "cn", 7).unwrap();
    let text = emitted(&a);
    let creds = Credentials::parse(&text).unwrap();
    let mut v = Verifier::for_challenge(&repr, "MESSAGE");
    v.body = b"hello";
    v.request_uri = Some("sip:bob@atlanta.example.com");
    let ok = v.verify(&creds, Secret::Ha1(stored)).unwrap();
    assert_eq!(ok.nc, Some(7));
    assert_eq!(ok.algorithm, Algorithm::Sha512_256Sess);

    // No qop offered: an RFC 2069 exchange, and a qop answer is refused.
    let plain = ChallengeRepr {
        qop: &[],
        ..ChallengeRepr::new("r", "n")
    };
    let text = emitted(&plain);
    assert_eq!(text, "Digest realm=\"r\", nonce=\"n\", algorithm=MD5");
    let c = Challenge::parse(&text).unwrap();
    let a = CredentialsRepr::answer(&c, &req, "u", Secret::Password("p"), "cn", 1).unwrap();
    assert_eq!(a.qop(), Qop::None);
    let text = emitted(&a);
    let creds = Credentials::parse(&text).unwrap();
    let mut v = Verifier::for_challenge(&plain, "MESSAGE");
    assert!(v.verify(&creds, Secret::Password("p")).is_ok());
    v.qops = &[Qop::Auth];
    assert_eq!(
        v.verify(&creds, Secret::Password("p")),
        Err(DigestError::Mismatch)
    );
}

#[test]
fn test_algorithm_and_qop_tokens() {
    for a in Algorithm::ALL {
        assert_eq!(Algorithm::parse(a.as_str()), Ok(a));
        assert_eq!(Algorithm::parse(&a.as_str().to_lowercase()), Ok(a));
        assert!(!a.base().is_session());
    }
    assert_eq!(
        Algorithm::parse("SHA-512"),
        Err(DigestError::UnsupportedAlgorithm)
    );
    assert_eq!(Qop::parse("AUTH-INT"), Ok(Qop::AuthInt));
    assert_eq!(Qop::parse(""), Err(DigestError::UnsupportedQop));
}

// ---------------------------------------------------------------------------------------
// Zero allocation
// ---------------------------------------------------------------------------------------

#[test]
fn test_no_allocation() {
    assert!(alloc_counter::is_installed());
    let ((), n) = alloc_counter::allocations(|| {
        let mut headers = [HeaderIndex::EMPTY; 16];
        let resp = Message::parse(RESPONSE_401, &mut headers).unwrap();
        let challenge =
            Challenge::parse(resp.header(HeaderName::WwwAuthenticate).unwrap()).unwrap();
        let req = Request::new("REGISTER", "sip:atlanta.example.com", b"");
        let answer = CredentialsRepr::answer(
            &challenge,
            &req,
            "bob",
            Secret::Password("zanzibar"),
            "a7b3c",
            1,
        )
        .unwrap();
        let mut value: heapless::Vec<u8, 512> = heapless::Vec::new();
        answer.emit(&mut value).unwrap();

        let mut buf = [0u8; 1024];
        let len = register_with(&answer, &mut buf);
        let mut headers = [HeaderIndex::EMPTY; 16];
        let msg = Message::parse(&buf[..len], &mut headers).unwrap();
        let creds = Credentials::parse(msg.header(HeaderName::Authorization).unwrap()).unwrap();
        assert_eq!(
            Credentials::parse(core::str::from_utf8(&value).unwrap()).unwrap(),
            creds
        );
        let mut v = Verifier::new("atlanta.example.com", REGISTRAR_NONCE, "REGISTER");
        v.request_uri = msg.request_uri_str();
        v.username = Some("bob");
        let ok = v.verify(&creds, Secret::Password("zanzibar")).unwrap();
        assert_eq!(ok.nc, Some(1));

        // Every algorithm, the server challenge and a stored HA1.
        for algorithm in Algorithm::ALL {
            let repr = ChallengeRepr {
                algorithm,
                qop: &[Qop::AuthInt],
                ..ChallengeRepr::new("atlanta.example.com", REGISTRAR_NONCE)
            };
            let mut text = [0u8; 256];
            let mut sink = SliceSink::new(&mut text);
            repr.emit(&mut sink).unwrap();
            let n = sink.len();
            let c = Challenge::parse(core::str::from_utf8(&text[..n]).unwrap()).unwrap();
            let stored = ha1(algorithm, "bob", "atlanta.example.com", "zanzibar");
            let req = Request::new("INVITE", "sip:alice@atlanta.example.com", SDP);
            let a = CredentialsRepr::answer(&c, &req, "bob", Secret::Ha1(stored), "c", 3)
                .unwrap()
                .with_userhash();
            let mut out = [0u8; 512];
            let mut sink = SliceSink::new(&mut out);
            a.emit(&mut sink).unwrap();
            let n = sink.len();
            let creds = Credentials::parse(core::str::from_utf8(&out[..n]).unwrap()).unwrap();
            let mut v = Verifier::for_challenge(&repr, "INVITE");
            v.body = SDP;
            v.username = Some("bob");
            assert!(v.verify(&creds, Secret::Password("zanzibar")).is_ok());
            assert!(v.verify(&creds, Secret::Ha1(stored)).is_ok());
        }
    });
    assert_eq!(n, 0, "allocations while authenticating");
}
