//! A schema of its own on a PostgreSQL server for a benchmark's FerroHSM
//! store (p11bench `--store`, kmsload `--store-url`); the password from
//! PGPASSWORD.

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// A schema of its own on the `--store` server, dropped at the end.
pub struct PgSchema {
    url: String,
    name: String,
}

pub fn pg_client(url: &str) -> Res<postgres::Client> {
    let mut c: postgres::Config = url.parse()?;
    if let Ok(pw) = std::env::var("PGPASSWORD") {
        c.password(pw);
    }
    Ok(c.connect(postgres::NoTls)?)
}

impl PgSchema {
    pub fn new(url: &str, module: &str) -> Res<PgSchema> {
        let name =
            format!("p11bench_{}_{module}", std::process::id()).replace(|c: char| !c.is_ascii_alphanumeric(), "_");
        pg_client(url)?.batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}"))?;
        Ok(PgSchema { url: url.to_string(), name })
    }

    /// The store URL that puts FerroHSM's tables in this schema.
    pub fn store_url(&self) -> String {
        let sep = if self.url.contains('?') { '&' } else { '?' };
        format!("{}{sep}options=-csearch_path%3D{}", self.url, self.name)
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        if let Ok(mut c) = pg_client(&self.url) {
            let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        }
    }
}
