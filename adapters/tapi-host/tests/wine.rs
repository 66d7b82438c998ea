//! The scenarios under Wine: `tapi-host.exe --tsp ucsta.tsp` (the provider DLL loaded
//! with `LoadLibraryW`, every TSPI function found with `GetProcAddress`) against the
//! Linux `csta-server` and `phone-sim` processes, the provider's configuration written
//! into the Wine registry by `ucsta-tsp-setup.exe config` (so the registry and DPAPI
//! store is the one read), and the same checks as natively; first
//! `tapi-host.exe --check-exports`.
//!
//! The Windows programs come from `TAPI_HOST_EXE`, `UCSTA_TSP_DLL` and
//! `UCSTA_TSP_SETUP_EXE` when set (CI builds them once), else they are built here
//! (`cargo build --target x86_64-pc-windows-gnu -p ucsta-tsp -p tapi-host`). Wine is
//! set up by `testing/wine/wine-env.sh`, in a prefix of this test's own
//! (`target/wine-prefix-tapi-host`, or `WINEPREFIX`), with one persistent wineserver
//! that is stopped at the end whatever happens.
//!
//! ```sh
//! cargo test -p tapi-host --test wine -- --ignored --nocapture
//! ```

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use common::{HostKind, Wine, scenarios};

const TARGET: &str = "x86_64-pc-windows-gnu";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// `target/` (the native test binary is in `target/debug/deps`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The Windows programs: from the environment, or built now.
fn windows_programs() -> (PathBuf, PathBuf, PathBuf) {
    let from_env = |name: &str| std::env::var_os(name).map(PathBuf::from);
    if let (Some(host), Some(dll), Some(setup)) = (
        from_env("TAPI_HOST_EXE"),
        from_env("UCSTA_TSP_DLL"),
        from_env("UCSTA_TSP_SETUP_EXE"),
    ) {
        return (host, dll, setup);
    }
    let started = Instant::now();
    let mut build = Command::new(env!("CARGO"));
    build.current_dir(workspace()).args([
        "build",
        "--target",
        TARGET,
        "-p",
        "ucsta-tsp",
        "-p",
        "tapi-host",
    ]);
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy();
        if k.starts_with("CARGO_") && k != "CARGO_HOME" && k != "CARGO_TARGET_DIR" {
            build.env_remove(&*k);
        }
    }
    let status = build
        .status()
        .expect("cargo build --target x86_64-pc-windows-gnu");
    assert!(status.success(), "the Windows build failed");
    eprintln!("Windows build: {:.1} s", started.elapsed().as_secs_f64());
    let dir = target_dir().join(TARGET).join("debug");
    let host = from_env("TAPI_HOST_EXE").unwrap_or_else(|| dir.join("tapi-host.exe"));
    let dll = from_env("UCSTA_TSP_DLL").unwrap_or_else(|| dir.join("ucsta_tsp.dll"));
    let setup = from_env("UCSTA_TSP_SETUP_EXE").unwrap_or_else(|| dir.join("ucsta-tsp-setup.exe"));
    (host, dll, setup)
}

/// The Wine prefix's wineserver, stopped (`wine_stop`: by the prefix's socket, then
/// by its PID) when dropped.
struct WineServer {
    prefix: PathBuf,
}

fn wine_env_script() -> PathBuf {
    workspace().join("testing/wine/wine-env.sh")
}

impl WineServer {
    /// Sources `wine-env.sh` (creating the prefix once), starts a persistent
    /// wineserver and returns the environment the script exported.
    fn start(prefix: &Path) -> (WineServer, Vec<(String, String)>) {
        let out = Command::new("bash")
            .arg("-c")
            .arg(r#". "$1" >&2 || exit 1; wine_start >&2 || exit 1; env -0"#)
            .arg("wine-env")
            .arg(wine_env_script())
            .env("WINEPREFIX", prefix)
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .expect("bash");
        assert!(out.status.success(), "testing/wine/wine-env.sh failed");
        let wanted = [
            "WINE64",
            "WINEPREFIX",
            "WINEDEBUG",
            "WINEDLLOVERRIDES",
            "WINELOADER",
            "WINE_ENV_WINESERVER",
        ];
        let env = out
            .stdout
            .split(|b| *b == 0)
            .filter_map(|kv| {
                let kv = String::from_utf8_lossy(kv);
                let (k, v) = kv.split_once('=')?;
                wanted.contains(&k).then(|| (k.to_owned(), v.to_owned()))
            })
            .collect();
        (
            WineServer {
                prefix: prefix.to_path_buf(),
            },
            env,
        )
    }
}

impl Drop for WineServer {
    fn drop(&mut self) {
        let status = Command::new("bash")
            .arg("-c")
            .arg(r#". "$1" >&2 && wine_stop"#)
            .arg("wine-env")
            .arg(wine_env_script())
            .env("WINEPREFIX", &self.prefix)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status();
        if !matches!(status, Ok(s) if s.success()) {
            eprintln!("wine_stop failed for {}", self.prefix.display());
        }
    }
}

#[test]
#[ignore = "needs Wine: run by scripts/ci.sh"]
fn scenarios_under_wine() {
    let started = Instant::now();
    let (host_exe, dll, setup_exe) = windows_programs();
    for p in [&host_exe, &dll, &setup_exe] {
        assert!(p.exists(), "no {}", p.display());
    }
    let dir = tempfile::Builder::new()
        .prefix("tapi-host-wine-")
        .tempdir()
        .unwrap();
    // The Telephony service loads providers by their .tsp name.
    let tsp = dir.path().join("ucsta.tsp");
    std::fs::copy(&dll, &tsp).unwrap();
    let prefix = std::env::var_os("WINEPREFIX")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("wine-prefix-tapi-host"));
    let (_server, env) = WineServer::start(&prefix);
    let wine64 = env
        .iter()
        .find(|(k, _)| k == "WINE64")
        .map(|(_, v)| PathBuf::from(v))
        .expect("WINE64 from wine-env.sh");
    let wine = Wine {
        wine64,
        env,
        host_exe,
        setup_exe,
        tsp,
    };
    eprintln!("Wine ready after {:.1} s", started.elapsed().as_secs_f64());

    // The export table: read from the file and looked up with GetProcAddress.
    let out = wine
        .command(&wine.host_exe)
        .arg("--tsp")
        .arg(&wine.tsp)
        .arg("--check-exports")
        .stdin(Stdio::null())
        .output()
        .expect("tapi-host.exe --check-exports");
    let text = String::from_utf8_lossy(&out.stdout);
    let line: serde_json::Value = serde_json::from_str(text.trim()).unwrap_or_else(|e| {
        panic!(
            "--check-exports printed {text:?} ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(out.status.success(), "{line}");
    assert_eq!(line["ok"], true, "{line}");
    assert_eq!(line["machine"], "0x8664", "{line}");
    assert_eq!(line["pe32_plus"], true, "{line}");
    assert_eq!(line["missing"], serde_json::json!([]), "{line}");
    assert_eq!(line["decorated"], serde_json::json!([]), "{line}");
    assert_eq!(line["getprocaddress"]["ok"], true, "{line}");
    assert_eq!(
        line["getprocaddress"]["missing"],
        serde_json::json!([]),
        "{line}"
    );
    assert_eq!(
        line["required"].as_u64(),
        Some(ucsta_tsp::tspi::EXPORTS.len() as u64)
    );

    let kind = HostKind::Wine(wine);
    let mut times = Vec::new();
    for (name, scenario) in scenarios::ALL {
        let t = Instant::now();
        scenario(&kind);
        times.push((*name, t.elapsed()));
        eprintln!("wine: {name} passed in {:.1} s", t.elapsed().as_secs_f64());
    }
    let total = started.elapsed();
    eprintln!(
        "wine: {} scenarios in {:.1} s (with set-up)",
        times.len(),
        total.as_secs_f64()
    );
}
