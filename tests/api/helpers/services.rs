//! Where the database and broker servers are: `DATABASE_URL` and `AMQP_URL` when set, else
//! MariaDB / RabbitMQ containers started with testcontainers (kept alive while a test runs).

/// Where the database and broker servers are; containers kept alive while a test runs.
pub struct Services {
    pub database_server_url: String,
    pub amqp_url: String,
    _containers: Vec<Box<dyn std::any::Any + Send + Sync>>,
}

impl Services {
    /// Services at these addresses, keeping `keep` (a test's own servers) alive with them.
    pub fn at(
        database_server_url: String,
        amqp_url: String,
        keep: Vec<Box<dyn std::any::Any + Send + Sync>>,
    ) -> Self {
        Self {
            database_server_url,
            amqp_url,
            _containers: keep,
        }
    }
}

fn server_url(database_url: &str) -> String {
    // Strip the database name (and any query) from mysql://user:pw@host:port/db?x
    let without_query = database_url.split('?').next().unwrap_or(database_url);
    match without_query.rfind('/') {
        Some(i) if i > "mysql://".len() => without_query[..i].to_string(),
        _ => without_query.to_string(),
    }
}

/// The services named by the environment, or containers when unset.
pub async fn services() -> Services {
    let _ = dotenvy::dotenv();
    let mut containers: Vec<Box<dyn std::any::Any + Send + Sync>> = Vec::new();
    let database_server_url = match std::env::var("DATABASE_URL") {
        Ok(url) => server_url(&url),
        Err(_) => {
            let (url, c) = containers::mariadb().await;
            containers.push(c);
            url
        }
    };
    let amqp_url = match std::env::var("AMQP_URL") {
        Ok(url) => url,
        Err(_) => {
            let (url, c) = containers::rabbitmq().await;
            containers.push(c);
            url
        }
    };
    Services {
        database_server_url,
        amqp_url,
        _containers: containers,
    }
}

mod containers {
    use testcontainers::core::{IntoContainerPort, WaitFor};
    use testcontainers::runners::AsyncRunner;
    use testcontainers::{GenericImage, ImageExt};

    pub async fn mariadb() -> (String, Box<dyn std::any::Any + Send + Sync>) {
        let c = GenericImage::new("mariadb", "10.11")
            .with_exposed_port(3306.tcp())
            .with_wait_for(WaitFor::message_on_stderr("ready for connections"))
            .with_env_var("MARIADB_ALLOW_EMPTY_ROOT_PASSWORD", "1")
            .with_env_var("MARIADB_ROOT_HOST", "%")
            .start()
            .await
            .expect("DATABASE_URL is unset and a MariaDB container could not start (is Docker running?)");
        let port = c.get_host_port_ipv4(3306).await.expect("mapped port");
        (format!("mysql://root@127.0.0.1:{port}"), Box::new(c))
    }

    pub async fn rabbitmq() -> (String, Box<dyn std::any::Any + Send + Sync>) {
        let c = GenericImage::new("rabbitmq", "3.13-management")
            .with_exposed_port(5672.tcp())
            .with_wait_for(WaitFor::message_on_stdout("Server startup complete"))
            .start()
            .await
            .expect(
                "AMQP_URL is unset and a RabbitMQ container could not start (is Docker running?)",
            );
        let port = c.get_host_port_ipv4(5672).await.expect("mapped port");
        (
            format!("amqp://guest:guest@127.0.0.1:{port}/%2f"),
            Box::new(c),
        )
    }
}
