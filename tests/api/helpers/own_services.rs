//! A MariaDB server and a RabbitMQ node of a test's own, for outage tests: started on free
//! ports with their data under a temporary directory, stopped, killed and started again by
//! the test, and removed when dropped (also when the test panics). The machine's shared
//! services are never touched. The recipes (and their pitfalls) are in ../shared/STACK.md.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1 (bound then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn accepts(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(200),
    )
    .is_ok()
}

fn scratch_dir(kind: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "sms-gateway-{kind}-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).expect("create a scratch directory");
    dir
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .args([sig, &pid.to_string()])
        .stderr(Stdio::null())
        .status();
}

/// A `mariadbd` of this test's own.
pub struct OwnMariaDb {
    pub port: u16,
    dir: PathBuf,
    extra: Vec<String>,
    child: Mutex<Option<Child>>,
}

impl OwnMariaDb {
    /// Creates a data directory and starts the server with these extra options (ready in a
    /// few seconds).
    pub fn start_with(options: &[&str]) -> Self {
        let dir = scratch_dir("mariadb");
        let status = Command::new("mariadb-install-db")
            .args([
                "--no-defaults",
                "--user=root",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ])
            .arg(format!("--datadir={}", dir.join("data").display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run mariadb-install-db (is MariaDB installed?)");
        assert!(status.success(), "mariadb-install-db failed");
        let db = Self {
            port: free_port(),
            dir,
            extra: options.iter().map(|o| o.to_string()).collect(),
            child: Mutex::new(None),
        };
        db.run();
        db
    }

    /// `mysql://root@127.0.0.1:PORT` (no database).
    pub fn url(&self) -> String {
        format!("mysql://root@127.0.0.1:{}", self.port)
    }

    /// Starts the server on its data directory (again) and waits until it accepts.
    pub fn run(&self) {
        let d = &self.dir;
        let child = Command::new("mariadbd")
            .args(["--no-defaults", "--user=root", "--bind-address=127.0.0.1"])
            .arg(format!("--port={}", self.port))
            .arg(format!("--datadir={}", d.join("data").display()))
            .arg(format!("--socket={}", d.join("mysqld.sock").display()))
            .arg(format!("--pid-file={}", d.join("mysqld.pid").display()))
            .arg(format!("--log-error={}", d.join("error.log").display()))
            .args([
                "--innodb-buffer-pool-size=64M",
                "--innodb-log-file-size=32M",
                "--max-connections=200",
                "--skip-name-resolve",
            ])
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mariadbd");
        *self.child.lock().unwrap() = Some(child);
        wait_until(
            Duration::from_secs(60),
            || accepts(self.port),
            || self.log(),
        );
    }

    /// SIGTERM (a clean shutdown), waiting for the exit.
    pub fn stop(&self) {
        self.end("-TERM");
    }

    /// SIGKILL (a crash: the next start runs crash recovery).
    pub fn kill(&self) {
        self.end("-KILL");
    }

    fn end(&self, sig: &str) {
        if let Some(mut child) = self.child.lock().unwrap().take() {
            signal(child.id(), sig);
            let _ = child.wait();
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }
}

impl Drop for OwnMariaDb {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A RabbitMQ node of this test's own (its own name, ports, config and data).
pub struct OwnRabbit {
    pub port: u16,
    node: String,
    dir: PathBuf,
    child: Mutex<Option<Child>>,
}

impl OwnRabbit {
    /// Writes the node's files and boots it (about 6-10 s).
    pub fn start() -> Self {
        let dir = scratch_dir("rabbitmq");
        let port = free_port();
        for sub in ["mnesia", "log"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        std::fs::write(
            dir.join("rabbitmq.conf"),
            format!("listeners.tcp.local = 127.0.0.1:{port}\n"),
        )
        .unwrap();
        std::fs::write(dir.join("enabled_plugins"), "[].\n").unwrap();
        std::fs::write(dir.join("rabbitmq-env.conf"), "").unwrap();
        // rabbitmq-server switches to the rabbitmq user: it must own its files.
        let _ = Command::new("chown")
            .args(["-R", "rabbitmq:rabbitmq"])
            .arg(&dir)
            .status();
        let rabbit = Self {
            port,
            node: format!("smsgwt{port}@localhost"),
            dir,
            child: Mutex::new(None),
        };
        rabbit.run();
        rabbit
    }

    /// `amqp://guest:guest@127.0.0.1:PORT/%2f`.
    pub fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }

    fn run(&self) {
        let d = &self.dir;
        let dist_port = free_port();
        let child = Command::new("rabbitmq-server")
            .current_dir(d)
            .env("RABBITMQ_CONFIG_FILE", d.join("rabbitmq.conf"))
            .env("RABBITMQ_CONF_ENV_FILE", d.join("rabbitmq-env.conf"))
            .env("RABBITMQ_NODENAME", &self.node)
            .env("RABBITMQ_DIST_PORT", dist_port.to_string())
            .env("RABBITMQ_MNESIA_BASE", d.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", d.join("log"))
            .env("RABBITMQ_FEATURE_FLAGS_FILE", d.join("feature_flags"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", d.join("enabled_plugins"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start rabbitmq-server");
        *self.child.lock().unwrap() = Some(child);
        wait_until(Duration::from_secs(60), || accepts(self.port), String::new);
    }

    fn ctl(&self, args: &[&str]) -> bool {
        Command::new("rabbitmqctl")
            .arg("-n")
            .arg(&self.node)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Stops the node (its durable queues and persistent messages are kept on disk).
    pub fn stop(&self) {
        self.ctl(&["stop"]);
        if let Some(mut child) = self.child.lock().unwrap().take() {
            let _ = child.wait();
        }
        wait_until(Duration::from_secs(30), || !accepts(self.port), String::new);
    }

    /// Starts the stopped node again on its data.
    pub fn restart(&self) {
        self.run();
    }
}

impl Drop for OwnRabbit {
    fn drop(&mut self) {
        if !self.ctl(&["stop"])
            && let Some(child) = self.child.lock().unwrap().as_ref()
        {
            signal(child.id(), "-KILL");
        }
        if let Some(mut child) = self.child.lock().unwrap().take() {
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn wait_until(limit: Duration, ready: impl Fn() -> bool, log: impl Fn() -> String) {
    let deadline = Instant::now() + limit;
    while !ready() {
        assert!(
            Instant::now() < deadline,
            "a service of the test did not come up within {limit:?}:\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
