//! Backends going away and coming back while the service runs: Redis, NATS
//! JetStream, ClickHouse and PostgreSQL, each a private instance this test
//! starts on its own ports (so stopping it disturbs no other test), killed
//! with SIGKILL and restarted on the same data. The API answers clear 503s
//! where it needs the missing backend and keeps serving what it does not;
//! the processors wait the outage out and catch up; nothing acknowledged is
//! lost and nothing is counted twice.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use photostream_analytics::{Analytics, ClickHouseAnalytics, EventKind};
use photostream_cli::{Config, Role};
use photostream_tests::{png, Api, TestServer, Upload};
use photostream_types::PhotoId;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(120);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0\n")).unwrap_or(false)
}

/// A server process this test owns, restartable on the same port and data.
struct Private {
    name: &'static str,
    port: u16,
    command: Box<dyn Fn() -> Command + Send>,
    child: Option<Child>,
}

impl Private {
    async fn start(&mut self) {
        // A killed PostgreSQL's backends take a moment to notice; until
        // then a new postmaster refuses to start. Retry.
        let mut child = self.spawn();
        let start = Instant::now();
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.is_err() {
            assert!(start.elapsed() < Duration::from_secs(60), "{} did not come up on {}", self.name, self.port);
            if let Ok(Some(_exited)) = child.try_wait() {
                tokio::time::sleep(Duration::from_millis(500)).await;
                child = self.spawn();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.child = Some(child);
    }

    fn spawn(&self) -> Child {
        (self.command)()
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.name))
    }

    /// SIGKILL: the backend vanishes mid-conversation (and stops
    /// answering on its port before this returns).
    async fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let start = Instant::now();
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.is_ok() {
            assert!(start.elapsed() < Duration::from_secs(30), "{} still answers after SIGKILL", self.name);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Private {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn redis(port: u16) -> Private {
    Private {
        name: "redis-server",
        port,
        command: Box::new(move || {
            let mut c = Command::new("redis-server");
            c.args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);
            c
        }),
        child: None,
    }
}

fn nats(port: u16, dir: PathBuf) -> Private {
    Private {
        name: "nats-server",
        port,
        command: Box::new(move || {
            let mut c = Command::new(if Path::new("/usr/sbin/nats-server").exists() { "/usr/sbin/nats-server" } else { "nats-server" });
            c.args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"]).arg(&dir);
            c
        }),
        child: None,
    }
}

fn pg_bin(tool: &str) -> PathBuf {
    let base = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<PathBuf> = std::fs::read_dir(base).expect("PostgreSQL server binaries").map(|e| e.unwrap().path()).collect();
    versions.sort();
    versions.last().unwrap().join("bin").join(tool)
}

fn id_of(flag: &str) -> u32 {
    let out = Command::new("id").args([flag, "postgres"]).output().expect("id");
    String::from_utf8_lossy(&out.stdout).trim().parse().expect("a postgres user exists")
}

/// Runs a PostgreSQL tool as the `postgres` user when we are root (the
/// server refuses to run as root), directly, so killing the child kills the
/// server itself.
fn as_pg_user(tool: &str) -> Command {
    use std::os::unix::process::CommandExt;
    let mut c = Command::new(pg_bin(tool));
    if is_root() {
        c.uid(id_of("-u")).gid(id_of("-g"));
    }
    c
}

fn postgres(port: u16, dir: PathBuf) -> Private {
    std::fs::create_dir_all(&dir).unwrap();
    if is_root() {
        assert!(Command::new("chown").args(["-R", "postgres"]).arg(&dir).status().unwrap().success());
    }
    let out = as_pg_user("initdb").args(["-A", "trust", "-U", "postgres", "-D"]).arg(&dir).output().unwrap();
    assert!(out.status.success(), "initdb: {}", String::from_utf8_lossy(&out.stderr));
    Private {
        name: "postgres",
        port,
        command: Box::new(move || {
            let mut c = as_pg_user("postgres");
            c.arg("-D").arg(&dir).args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1", "-k"]).arg(&dir);
            c
        }),
        child: None,
    }
}

fn clickhouse(http: u16, dir: PathBuf) -> Private {
    std::fs::create_dir_all(&dir).unwrap();
    let tcp = free_port();
    let inter = free_port();
    Private {
        name: "clickhouse-server",
        port: http,
        command: Box::new(move || {
            let d = dir.display();
            let mut c = Command::new("clickhouse-server");
            c.current_dir(&dir).arg("--config-file=/etc/clickhouse-server/config.xml").arg("--").args([
                format!("--http_port={http}"),
                format!("--tcp_port={tcp}"),
                format!("--interserver_http_port={inter}"),
                "--listen_host=127.0.0.1".to_string(),
                format!("--path={d}/"),
                format!("--tmp_path={d}/tmp/"),
                format!("--user_files_path={d}/user_files/"),
                format!("--format_schema_path={d}/format_schemas/"),
                format!("--logger.log={d}/server.log"),
                format!("--logger.errorlog={d}/error.log"),
            ]);
            c
        }),
        child: None,
    }
}

async fn status_of(api: &Api, path: &str) -> (u16, Value) {
    let r = api.get(path).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn upload(api: &Api, i: u32) -> reqwest::Response {
    api.upload(png(80, 60, 1000 + i), &format!("o{i}.png"), Upload { title: Some(format!("outage {i}")), ..Default::default() }).await
}

/// Uploads until one is acknowledged (a backend just came back).
async fn upload_when_back(api: &Api, i: u32) -> String {
    let start = Instant::now();
    loop {
        let r = upload(api, i).await;
        if r.status() == 202 {
            let v: Value = r.json().await.unwrap();
            return v["id"].as_str().unwrap().to_string();
        }
        assert_eq!(r.status(), 503, "only 503 while recovering");
        assert!(start.elapsed() < WAIT, "uploads still refused");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A 503 in the API's error format, with Retry-After.
async fn assert_503(r: reqwest::Response, what: &str) {
    assert_eq!(r.status(), 503, "{what}");
    assert!(r.headers().contains_key("retry-after"), "{what}: Retry-After");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unavailable", "{what}: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backends_going_away_and_coming_back() {
    let root = tempfile::tempdir().unwrap();
    let mut redis = redis(free_port());
    let mut nats = nats(free_port(), root.path().join("nats"));
    let mut pg = postgres(free_port(), root.path().join("pg"));
    let mut ch = clickhouse(free_port(), root.path().join("clickhouse"));
    redis.start().await;
    nats.start().await;
    pg.start().await;
    ch.start().await;
    println!("outages: private redis :{}, nats :{}, postgres :{}, clickhouse :{}", redis.port, nats.port, pg.port, ch.port);

    let data = tempfile::tempdir().unwrap();
    let analytics_url = format!("clickhouse+http://127.0.0.1:{}/outages", ch.port);
    let mut config = Config {
        data_dir: data.path().to_path_buf(),
        role: Role::All,
        catalog: format!("postgres://postgres@127.0.0.1:{}/postgres", pg.port),
        stream: format!("nats://127.0.0.1:{}", nats.port),
        stream_prefix: "outages".into(),
        stream_ack_wait_secs: 3,
        cache: format!("redis://127.0.0.1:{}", redis.port),
        analytics: analytics_url.clone(),
        limits: photostream_cli::config::LimitsConfig { signups_per_address: 100_000, ..Default::default() },
        ..Config::default()
    };
    config.processors.base_backoff_ms = 50;
    config.processors.max_backoff_ms = 1000;
    let server = TestServer::start_config(config, data).await;
    let anon = server.api();
    let alice = anon.signed_up("alice").await;
    let mut acked = Vec::new();
    for i in 0..2 {
        acked.push(upload_when_back(&alice, i).await);
    }
    for id in &acked {
        alice.wait_ready(id, WAIT).await;
    }
    let first = acked[0].clone();

    // Redis (limits and the hot-thumbnail cache) goes away.
    redis.kill().await;
    assert_503(upload(&alice, 10).await, "upload without the limiter").await;
    assert_503(alice.get(&format!("/v1/photos/{first}/original")).send().await.unwrap(), "original without the limiter").await;
    assert_eq!(status_of(&alice, &format!("/v1/photos/{first}")).await.0, 200, "reads need no Redis");
    assert_eq!(status_of(&alice, &format!("/v1/photos/{first}/thumbnail")).await.0, 200, "thumbnails fall back to the store");
    let (status, ready) = status_of(&anon, "/readyz").await;
    assert_eq!((status, ready["backends"]["cache"]["status"].as_str()), (503, Some("unreachable")), "{ready}");
    redis.start().await;
    acked.push(upload_when_back(&alice, 11).await);
    println!("outages: redis down → uploads and originals 503, reads served; back → uploads accepted");

    // NATS (the stream) goes away: uploads are still acknowledged (the
    // outbox holds them) and processed once it is back.
    nats.kill().await;
    for i in 20..23 {
        let r = upload(&alice, i).await;
        assert_eq!(r.status(), 202, "uploads do not need the stream");
        acked.push(r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string());
    }
    assert_eq!(status_of(&anon, "/readyz").await.0, 503);
    tokio::time::sleep(Duration::from_secs(2)).await;
    nats.start().await;
    for id in &acked {
        alice.wait_ready(id, WAIT).await;
    }
    println!("outages: nats down → uploads acknowledged; back → processed");

    // ClickHouse (analytics) goes away: uploads and reads carry on; the
    // statistics answer 503; the recorder catches up afterwards.
    ch.kill().await;
    for i in 30..32 {
        let r = upload(&alice, i).await;
        assert_eq!(r.status(), 202);
        acked.push(r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string());
    }
    assert_503(alice.get(&format!("/v1/photos/{first}/stats")).send().await.unwrap(), "stats without analytics").await;
    for id in &acked {
        alice.wait_ready(id, WAIT).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    ch.start().await;
    println!("outages: clickhouse down → uploads and reads fine, stats 503");

    // PostgreSQL (the catalog, the source of truth) goes away: everything
    // that needs it answers 503, nothing else breaks; back, all is well.
    pg.kill().await;
    assert_503(alice.get(&format!("/v1/photos/{first}")).send().await.unwrap(), "photo without the catalog").await;
    assert_503(upload(&alice, 40).await, "upload without the catalog").await;
    assert_eq!(status_of(&anon, "/healthz").await.0, 200, "the process stays up");
    assert_eq!(status_of(&anon, "/readyz").await.0, 503);
    pg.start().await;
    acked.push(upload_when_back(&alice, 41).await);
    for id in &acked {
        alice.wait_ready(id, WAIT).await;
    }
    println!("outages: postgres down → 503 with Retry-After; back → uploads accepted");

    // Nothing acknowledged lost, nothing counted twice: every upload event
    // is in ClickHouse exactly once, however often it was retried.
    let analytics = ClickHouseAnalytics::connect(&analytics_url).await.unwrap();
    let start = Instant::now();
    for id in &acked {
        let id: PhotoId = id.parse().unwrap();
        loop {
            let n = analytics.count(&id, EventKind::Upload).await.unwrap_or(0);
            assert!(n <= 1, "upload of {id} counted {n} times");
            if n == 1 {
                break;
            }
            assert!(start.elapsed() < WAIT, "upload of {id} never reached analytics");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let (_, page) = alice.json("/v1/users/alice/photos?limit=100").await;
    assert_eq!(page["items"].as_array().unwrap().len(), acked.len(), "each acknowledged upload listed once");
    println!("outages: {} acknowledged uploads across four outages, all ready, each counted once", acked.len());
    server.stop().await;
}
