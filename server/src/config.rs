//! Configuration from the environment and flags (DESIGN.md §7); flags override env.

use clap::Args;
use std::net::SocketAddr;

use sunfleet_app::db::DbConfig;

#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// SurrealDB endpoint: surrealkv://PATH (embedded, default), mem:// (in memory, lost on
    /// exit), ws://HOST:PORT or wss://HOST:PORT (a SurrealDB server).
    #[arg(
        long = "db",
        env = "SUNFLEET_DB",
        default_value = "surrealkv://./data/db"
    )]
    pub url: String,
    /// Root user for a remote SurrealDB server.
    #[arg(long = "db-user", env = "SUNFLEET_DB_USER")]
    pub user: Option<String>,
    /// Password for --db-user (prefer the environment: flags show up in `ps`).
    #[arg(long = "db-pass", env = "SUNFLEET_DB_PASS", hide_env_values = true)]
    pub pass: Option<String>,
}

impl DbArgs {
    pub fn to_config(&self) -> DbConfig {
        DbConfig {
            url: self.url.clone(),
            user: self.user.clone(),
            pass: self.pass.clone(),
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "SUNFLEET_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,
    #[command(flatten)]
    pub db: DbArgs,
    /// Seed a demo fleet (once: a database that already has it is left alone) and keep it
    /// reporting every minute while the server runs.
    #[arg(long)]
    pub demo: bool,
    /// An SMTP relay for invite and reset links, smtp://HOST[:PORT] (plain SMTP to a relay
    /// you run). Without it links are only shown to whoever issues them.
    #[arg(long, env = "SUNFLEET_SMTP_URL")]
    pub smtp_url: Option<String>,
    /// Sender address of those mails.
    #[arg(
        long,
        env = "SUNFLEET_SMTP_FROM",
        default_value = "sunfleet@localhost.localdomain"
    )]
    pub smtp_from: String,
    /// The site's public address, for links in mail (e.g. https://fleet.example.com).
    #[arg(long, env = "SUNFLEET_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Map tiles, as a URL template with {z}, {x} and {y} (and optionally {s}); the default
    /// is OpenStreetMap's. Point it at your own tile server where devices must not reach out.
    #[arg(long, env = "SUNFLEET_TILE_URL")]
    pub tile_url: Option<String>,
    /// The attribution shown on the map for those tiles.
    #[arg(long, env = "SUNFLEET_TILE_ATTRIBUTION")]
    pub tile_attribution: Option<String>,
    /// A Particle access token: commands to Particle devices are then also sent through
    /// Particle's function call, so a connected device acts at once (from the environment
    /// only: a secret).
    #[arg(skip = std::env::var("SUNFLEET_PARTICLE_TOKEN").ok())]
    pub particle_token: Option<String>,
    /// Particle's cloud API.
    #[arg(
        long,
        env = "SUNFLEET_PARTICLE_API",
        default_value = "https://api.particle.io"
    )]
    pub particle_api: String,
}

impl ServeArgs {
    /// Particle's function-call client, when a token is configured.
    pub fn particle(&self) -> anyhow::Result<Option<sunfleet_app::control::particle::ParticleApi>> {
        match self.particle_token.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(token) => {
                sunfleet_app::control::particle::ParticleApi::new(&self.particle_api, token)
                    .map(Some)
                    .map_err(|e| anyhow::anyhow!(e))
            }
        }
    }

    /// The map tiles to use; a template without {z}, {x} and {y} is refused at start-up.
    pub fn tiles(&self) -> anyhow::Result<sunfleet_app::devices::model::Tiles> {
        let mut tiles = sunfleet_app::devices::model::Tiles::openstreetmap();
        if let Some(url) = self
            .tile_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
        {
            let templated = ["{z}", "{x}", "{y}"].iter().all(|p| url.contains(p));
            let web =
                url.starts_with("http://") || url.starts_with("https://") || url.starts_with('/');
            if !templated || !web {
                anyhow::bail!(
                    "SUNFLEET_TILE_URL: {url:?} is not a tile URL template like https://tiles.example/{{z}}/{{x}}/{{y}}.png"
                );
            }
            tiles.url = url.to_string();
            tiles.attribution = self.tile_attribution.clone().unwrap_or_default();
        }
        Ok(tiles)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    fn serve(args: &[&str]) -> ServeArgs {
        let mut argv = vec!["sunfleet"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).expect("arguments parse").serve
    }

    #[test]
    fn the_map_uses_openstreetmap_with_its_attribution_by_default() {
        let tiles = serve(&[]).tiles().unwrap();
        assert!(tiles.url.contains("openstreetmap.org"), "{}", tiles.url);
        assert!(tiles.attribution.contains("OpenStreetMap"));
    }

    #[test]
    fn a_tile_url_and_its_attribution_replace_the_default() {
        let tiles = serve(&[
            "--tile-url",
            "https://tiles.example/{z}/{x}/{y}.png",
            "--tile-attribution",
            "© Example Maps",
        ])
        .tiles()
        .unwrap();
        assert_eq!(tiles.url, "https://tiles.example/{z}/{x}/{y}.png");
        assert_eq!(tiles.attribution, "© Example Maps");
    }

    #[test]
    fn a_tile_url_that_is_not_a_template_is_refused_at_start_up() {
        for bad in [
            "https://tiles.example/map.png",
            "ftp://t.example/{z}/{x}/{y}",
        ] {
            let e = serve(&["--tile-url", bad]).tiles().unwrap_err();
            assert!(e.to_string().contains("SUNFLEET_TILE_URL"), "{bad}: {e}");
        }
    }
}
