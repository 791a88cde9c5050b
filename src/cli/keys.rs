//! `changegate keys generate`: a new key pair for the bot (setup and
//! rotation, docs/trust-model.md). `changegate keys id` names the key of a
//! public key. The private key is printed once, for the bot's secret store.

use std::io::Write;

use clap::Subcommand;

use super::common::CliError;
use crate::base::outcome::Outcome;
use crate::model::signing::{KeyRing, PRIVATE_KEY_VAR, PUBLIC_KEYS_VAR, SigningKey, generate};

#[derive(Debug, Subcommand)]
pub(super) enum KeysCommand {
    /// Print a new Ed25519 key pair as environment lines (the private key for the bot's secret store only)
    Generate,
    /// Print the key id of each public key in CHANGEGATE_RECEIPT_PUBKEY (or given)
    Id {
        /// Public keys, as CHANGEGATE_RECEIPT_PUBKEY takes them [default: $CHANGEGATE_RECEIPT_PUBKEY]
        #[arg(value_name = "KEYS")]
        keys: Option<String>,
    },
}

pub(super) fn run(cmd: &KeysCommand, env: &crate::base::env::Env, out: &mut dyn Write) -> Result<Outcome, CliError> {
    match cmd {
        KeysCommand::Generate => {
            let (private, public) = generate();
            let id = SigningKey::from_base64(&private).map_err(CliError::from)?.id();
            writeln!(out, "# changegate bot key pair, key id {id}.")?;
            writeln!(
                out,
                "# {PRIVATE_KEY_VAR}: the bot's secret store only, never a CircleCI context. \
                 {PUBLIC_KEYS_VAR}: the CI context (add it beside the old key when rotating)."
            )?;
            writeln!(out, "{PRIVATE_KEY_VAR}={private}")?;
            writeln!(out, "{PUBLIC_KEYS_VAR}={public}")?;
        }
        KeysCommand::Id { keys } => {
            let text = keys.as_deref().or(env.get(PUBLIC_KEYS_VAR)).unwrap_or_default();
            let ring = KeyRing::parse(text).map_err(CliError::from)?;
            if ring.is_empty() {
                return Err(CliError::Environment(format!("no public key given and {PUBLIC_KEYS_VAR} is not set")));
            }
            for k in &ring.keys {
                match k.retired_from {
                    Some(t) => writeln!(out, "{} (retired from {t})", k.id)?,
                    None => writeln!(out, "{}", k.id)?,
                }
            }
        }
    }
    Ok(Outcome::Pass)
}
