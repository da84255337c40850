//! The `ferrohsm` command tree, declared for clap: every command's flags,
//! its `--help`, and the usage errors (exit 2). The handlers are in
//! kms.rs, store.rs, migrate/ and softhsm_util.rs.

use clap::{ArgGroup, Args, Parser, Subcommand};

use crate::common::PinSource;

const AFTER_HELP: &str = "\
PINs never need to be on the command line: --pin-fd N (first line of descriptor N),
--pin-env VAR, FERROHSM_USER_PIN, else a no-echo prompt on a terminal; the SO PIN likewise
(--so-pin-fd, --so-pin-env, FERROHSM_SO_PIN). KEY is a key id (CKA_UNIQUE_ID) or alias/NAME.

Exit codes: 0 success, 1 a failed operation (message on stderr), 2 a usage error.";

#[derive(Parser)]
#[command(
    name = "ferrohsm",
    version,
    about = "FerroHSM token administration, KMS key management and the SoftHSM front",
    after_help = AFTER_HELP,
    arg_required_else_help = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Initialize a token (softhsm2-util --init-token)
    InitToken(InitToken),
    /// List the slots and their tokens (softhsm2-util --show-slots)
    ShowSlots,
    /// Delete a token and all its objects (softhsm2-util --delete-token)
    DeleteToken(DeleteToken),
    /// Import a PEM/DER key pair, a certificate or an AES key (softhsm2-util --import)
    Import(Import),
    /// Recreate the objects of SoftHSM v2 tokens in FerroHSM tokens of the same label
    MigrateSofthsm(Migrate),
    /// SoftHSM's softhsm2-util, with its own flags, messages and exit codes
    #[command(name = "softhsm2-util", disable_help_flag = true)]
    Softhsm2Util {
        /// softhsm2-util's arguments, as SoftHSM's tool takes them (see softhsm-compat/README.md)
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "ARGS")]
        args: Vec<String>,
    },
    /// Check the store of a token
    #[command(subcommand)]
    Store(StoreCmd),
    /// KMS master keys
    #[command(subcommand)]
    Key(KeyCmd),
    /// KMS aliases (alias/NAME) for keys
    #[command(subcommand)]
    Alias(AliasCmd),
    /// Encrypt up to 4096 bytes under a KMS key
    Encrypt(Encrypt),
    /// Decrypt a KMS ciphertext (the key is named inside it)
    Decrypt(Decrypt),
    /// Decrypt and encrypt again under another key or context, inside the module
    ReEncrypt(ReEncrypt),
    /// Generate a data key, sealed under one or more KMS keys
    DataKey(DataKey),
    /// The audit trail: show, verify, export, prune
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Serve the AWS KMS JSON API (boto3, the aws CLI, the Encryption SDK) over the token
    Serve(Serve),
    /// KMS API principals: users with an access key and identity policies
    #[command(subcommand)]
    Principal(PrincipalCmd),
    /// KMS API groups of principals, with identity policies
    #[command(subcommand)]
    Group(GroupCmd),
    /// Print a shell completion script to standard output
    Completions {
        /// The shell to complete for
        shell: clap_complete::Shell,
    },
}

/// The user PIN's sources (see [`PinSource`]).
#[derive(Args)]
pub struct UserPin {
    /// Read the user PIN from file descriptor N (its first line)
    #[arg(long, value_name = "N")]
    pub pin_fd: Option<u32>,
    /// Read the user PIN from the environment variable VAR
    #[arg(long, value_name = "VAR")]
    pub pin_env: Option<String>,
    /// The user PIN itself (discouraged: other users can see it)
    #[arg(long, value_name = "PIN", env = "FERROHSM_USER_PIN", hide_env_values = true)]
    pub pin: Option<String>,
}

impl UserPin {
    pub fn source(&self) -> PinSource<'_> {
        PinSource {
            flag: "pin",
            env: "FERROHSM_USER_PIN",
            fd: self.pin_fd,
            var: self.pin_env.as_deref(),
            value: self.pin.as_deref(),
        }
    }
}

/// The SO PIN's sources (see [`PinSource`]).
#[derive(Args)]
pub struct SoPin {
    /// Read the SO PIN from file descriptor N (its first line)
    #[arg(long, value_name = "N")]
    pub so_pin_fd: Option<u32>,
    /// Read the SO PIN from the environment variable VAR
    #[arg(long, value_name = "VAR")]
    pub so_pin_env: Option<String>,
    /// The SO PIN itself (discouraged: other users can see it)
    #[arg(long, value_name = "PIN", env = "FERROHSM_SO_PIN", hide_env_values = true)]
    pub so_pin: Option<String>,
}

impl SoPin {
    pub fn source(&self) -> PinSource<'_> {
        PinSource {
            flag: "so-pin",
            env: "FERROHSM_SO_PIN",
            fd: self.so_pin_fd,
            var: self.so_pin_env.as_deref(),
            value: self.so_pin.as_deref(),
        }
    }
}

/// The token a KMS command works on, and the user PIN.
#[derive(Args)]
#[command(next_help_heading = "Token and PIN")]
pub struct Login {
    /// The token's label (default: the first initialized token)
    #[arg(long, value_name = "LABEL")]
    pub token: Option<String>,
    #[command(flatten)]
    pub pin: UserPin,
}

/// The token, logged in as the security officer.
#[derive(Args)]
#[command(next_help_heading = "Token and SO PIN")]
pub struct SoLogin {
    /// The token's label (default: the first initialized token)
    #[arg(long, value_name = "LABEL")]
    pub token: Option<String>,
    #[command(flatten)]
    pub so_pin: SoPin,
}

#[derive(Args)]
#[command(group(ArgGroup::new("where").required(true).args(["slot", "free", "token"])))]
pub struct InitToken {
    /// The slot to initialize the token in
    #[arg(long, value_name = "N")]
    pub slot: Option<u64>,
    /// Use the first free (uninitialized) slot
    #[arg(long)]
    pub free: bool,
    /// Re-initialize the token with this label
    #[arg(long, value_name = "LABEL")]
    pub token: Option<String>,
    /// The new token's label (at most 32 characters)
    #[arg(long, value_name = "LABEL")]
    pub label: String,
    #[command(flatten, next_help_heading = "PINs (asked twice on a terminal when not given)")]
    pub so_pin: SoPin,
    #[command(flatten)]
    pub pin: UserPin,
}

#[derive(Args)]
#[command(group(ArgGroup::new("which").required(true).args(["token", "serial"])))]
pub struct DeleteToken {
    /// The token's label
    #[arg(long, value_name = "LABEL")]
    pub token: Option<String>,
    /// The token's serial number
    #[arg(long, value_name = "SERIAL")]
    pub serial: Option<String>,
}

#[derive(Args)]
#[command(group(ArgGroup::new("where").required(true).args(["token", "slot", "serial"])))]
pub struct Import {
    /// The file to import (PEM or DER; raw bytes for an AES key)
    #[arg(value_name = "FILE")]
    pub file: String,
    /// What FILE holds
    #[arg(long, value_name = "TYPE", value_parser = ["keypair", "aes", "cert"], default_value = "keypair")]
    pub import_type: String,
    /// The objects' label
    #[arg(long, value_name = "LABEL")]
    pub label: String,
    /// The objects' CKA_ID, in hexadecimal
    #[arg(long, value_name = "HEX")]
    pub id: String,
    /// The token's label
    #[arg(long, value_name = "LABEL")]
    pub token: Option<String>,
    /// The token's slot
    #[arg(long, value_name = "N")]
    pub slot: Option<u64>,
    /// The token's serial number
    #[arg(long, value_name = "SERIAL")]
    pub serial: Option<String>,
    /// Import the private key only, without its public key
    #[arg(long)]
    pub no_public_key: bool,
    /// Import even when an object of the same class has this ID
    #[arg(long)]
    pub force: bool,
    #[command(flatten, next_help_heading = "PIN")]
    pub pin: UserPin,
}

#[derive(Args)]
pub struct Migrate {
    /// SoftHSM's token directory (default: directories.tokendir of softhsm2.conf,
    /// found by SOFTHSM2_CONF, ~/.config/softhsm2, /etc/softhsm)
    #[arg(long, value_name = "DIR")]
    pub tokendir: Option<String>,
    /// Migrate only the token with this label
    #[arg(long, value_name = "LABEL")]
    pub token: Option<String>,
    /// Say what would be migrated; write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Migrate what can be, even when some objects cannot
    #[arg(long)]
    pub allow_partial: bool,
    // The SoftHSM token's user PIN (kept for the FerroHSM token); the SO
    // PIN is needed when the FerroHSM token does not exist yet.
    #[command(flatten, next_help_heading = "PINs")]
    pub pin: UserPin,
    #[command(flatten)]
    pub so_pin: SoPin,
}

#[derive(Subcommand)]
pub enum StoreCmd {
    /// Open every object of the token, check each one's authentication tag
    /// and the token's object-set digest (catches objects edited, rolled back
    /// whole, deleted or brought back). Exit 0 when all is intact, 1 otherwise.
    Verify {
        /// Log in as the security officer (SO PIN) instead of the user
        #[arg(long)]
        so: bool,
        #[command(flatten)]
        login: Login,
        #[command(flatten)]
        so_pin: SoPin,
    },
    /// Copy every token, object and audit batch from one store into another,
    /// empty one (SQLite to PostgreSQL or back), then compare the two object
    /// by object. Only sealed bytes move: no PIN is needed. Stop the
    /// processes that write the source first.
    Copy {
        /// The source: a SQLite file or a postgresql:// URL
        #[arg(long, value_name = "STORE")]
        from: String,
        /// The destination (created if a SQLite file; must hold no token
        /// and no audit batch)
        #[arg(long, value_name = "STORE")]
        to: String,
    },
}

/// A KMS key: its id (CKA_UNIQUE_ID) or alias/NAME.
#[derive(Args)]
pub struct KeyArg {
    #[arg(value_name = "KEY")]
    pub key: String,
    #[command(flatten)]
    pub login: Login,
}

#[derive(Subcommand)]
pub enum KeyCmd {
    /// Create a KMS master key; prints its id
    Create {
        #[arg(long, value_name = "L")]
        label: Option<String>,
        #[arg(long, value_name = "D")]
        description: Option<String>,
        /// What the key may do
        #[arg(long, value_parser = ["encrypt-decrypt", "encrypt-only", "decrypt-only"], default_value = "encrypt-decrypt")]
        usage: String,
        /// Rotate automatically every N days (90..2560)
        #[arg(long, value_name = "N")]
        rotation_days: Option<u64>,
        /// Also create this alias for the key
        #[arg(long, value_name = "alias/NAME")]
        alias: Option<String>,
        #[command(flatten)]
        login: Login,
    },
    /// List the keys
    List {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        login: Login,
    },
    /// Show a key's state, versions and rotation
    Describe {
        #[command(flatten)]
        key: KeyArg,
        #[arg(long)]
        json: bool,
    },
    /// Add a new version of the key and make it current
    Rotate(KeyArg),
    /// Set automatic rotation: --enable (365 days), --days N or --off
    #[command(group(ArgGroup::new("period").required(true).args(["enable", "days", "off"])))]
    Rotation {
        #[command(flatten)]
        key: KeyArg,
        /// Rotate every 365 days
        #[arg(long)]
        enable: bool,
        /// Rotate every N days (90..2560)
        #[arg(long, value_name = "N")]
        days: Option<u64>,
        /// No automatic rotation
        #[arg(long)]
        off: bool,
    },
    /// Allow the key's use again
    Enable(KeyArg),
    /// Refuse every use of the key until enabled
    Disable(KeyArg),
    /// Disable the key and purge it after 7..30 days
    ScheduleDeletion {
        #[command(flatten)]
        key: KeyArg,
        /// Days until the purge (7..30)
        #[arg(long, value_name = "N", default_value_t = ferrohsm::token::kms::DEFAULT_DELETION_DAYS)]
        days: u64,
    },
    /// Cancel a scheduled deletion (the key stays disabled)
    CancelDeletion(KeyArg),
    /// Destroy a key pending deletion now (SO PIN)
    Purge {
        #[arg(value_name = "KEY")]
        key: String,
        #[command(flatten)]
        login: SoLogin,
    },
}

#[derive(Subcommand)]
pub enum AliasCmd {
    /// Create alias/NAME for KEY
    Create(AliasTarget),
    /// Point alias/NAME at another KEY
    Update(AliasTarget),
    /// Delete alias/NAME
    Delete {
        #[arg(value_name = "NAME")]
        name: String,
        #[command(flatten)]
        login: Login,
    },
    /// List the aliases and their keys
    List {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        login: Login,
    },
}

#[derive(Args)]
pub struct AliasTarget {
    #[arg(value_name = "NAME")]
    pub name: String,
    #[arg(value_name = "KEY")]
    pub key: String,
    #[command(flatten)]
    pub login: Login,
}

/// An encryption context pair.
pub type Pair = (Vec<u8>, Vec<u8>);

fn context_pair(s: &str) -> Result<Pair, String> {
    let (k, v) = s.split_once('=').ok_or("wants key=value")?;
    Ok((k.as_bytes().to_vec(), v.as_bytes().to_vec()))
}

/// `--since`/`--until`: a date as Unix seconds.
fn date(s: &str) -> Result<u64, String> {
    ferrohsm::token::clock::parse_time(s).ok_or_else(|| "wants YYYY-MM-DD[THH:MM:SSZ] or Unix seconds".into())
}

/// Where the data comes from and goes.
#[derive(Args)]
pub struct InOut {
    /// Read from FILE (default, or -: standard input)
    #[arg(long = "in", value_name = "FILE")]
    pub input: Option<String>,
    /// Write to FILE, created readable by its owner only (default, or -: standard output)
    #[arg(long, value_name = "FILE")]
    pub out: Option<String>,
}

#[derive(Args)]
pub struct Encrypt {
    #[arg(long, value_name = "KEY")]
    pub key: String,
    /// An encryption context pair; decrypting needs the same pairs
    #[arg(long, value_name = "K=V", value_parser = context_pair)]
    pub context: Vec<Pair>,
    /// Keep the context in the ciphertext, so decrypt needs no --context
    #[arg(long)]
    pub store_context: bool,
    #[command(flatten)]
    pub io: InOut,
    #[command(flatten)]
    pub login: Login,
}

#[derive(Args)]
pub struct Decrypt {
    /// The encryption context the data was encrypted with
    #[arg(long, value_name = "K=V", value_parser = context_pair)]
    pub context: Vec<Pair>,
    #[command(flatten)]
    pub io: InOut,
    #[command(flatten)]
    pub login: Login,
}

#[derive(Args)]
pub struct ReEncrypt {
    /// The key to encrypt under
    #[arg(long, value_name = "KEY")]
    pub key: String,
    /// The context the data was encrypted with
    #[arg(long, value_name = "K=V", value_parser = context_pair)]
    pub context: Vec<Pair>,
    /// The context to encrypt with
    #[arg(long, value_name = "K=V", value_parser = context_pair)]
    pub dest_context: Vec<Pair>,
    /// Keep the destination context in the ciphertext
    #[arg(long)]
    pub store_context: bool,
    #[command(flatten)]
    pub io: InOut,
    #[command(flatten)]
    pub login: Login,
}

#[derive(Args)]
pub struct DataKey {
    /// A key to seal the data key under (repeat for several)
    #[arg(long, value_name = "KEY", required = true)]
    pub key: Vec<String>,
    /// The data key's length
    #[arg(long, value_name = "N", default_value_t = 32)]
    pub bytes: usize,
    #[arg(long, value_name = "K=V", value_parser = context_pair)]
    pub context: Vec<Pair>,
    /// Keep the context in the blob
    #[arg(long)]
    pub store_context: bool,
    /// Return the sealed blob only
    #[arg(long, conflicts_with = "plaintext_out")]
    pub without_plaintext: bool,
    /// Where the sealed blob goes (created readable by its owner only)
    #[arg(long, value_name = "FILE")]
    pub blob_out: String,
    /// Where the plaintext key goes (default: hex on standard output)
    #[arg(long, value_name = "FILE")]
    pub plaintext_out: Option<String>,
    #[command(flatten)]
    pub login: Login,
}

#[derive(Subcommand)]
pub enum AuditCmd {
    /// Print the audit records
    Show {
        /// Only records from DATE (YYYY-MM-DD[THH:MM:SSZ] or Unix seconds)
        #[arg(long, value_name = "DATE", value_parser = date)]
        since: Option<u64>,
        /// Only the records of KEY
        #[arg(long, value_name = "KEY")]
        key: Option<String>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        login: Login,
    },
    /// Verify the hash chain, the sidecar anchor and (with a PIN given, never
    /// prompted) the checkpoint MACs; see docs/audit.md
    Verify {
        /// Fail unless the sidecar anchors the last batch
        #[arg(long)]
        require_anchor: bool,
        #[command(flatten)]
        login: Login,
    },
    /// Write the batches before DATE, with a proof line
    Export {
        #[arg(long, value_name = "DATE", value_parser = date)]
        until: u64,
        /// Default, or -: standard output
        #[arg(long, value_name = "FILE")]
        out: Option<String>,
        #[command(flatten)]
        login: Login,
    },
    /// Check an export offline (no store)
    VerifyExport {
        #[arg(value_name = "FILE")]
        file: String,
    },
    /// Delete exported batches before DATE (user PIN)
    Prune {
        #[arg(long, value_name = "DATE", value_parser = date)]
        until: u64,
        /// Prune nothing past what FILE (an export) holds
        #[arg(long, value_name = "FILE")]
        export: Option<String>,
        #[command(flatten)]
        login: Login,
    },
}

/// `ferrohsm serve`.
#[derive(Args)]
pub struct Serve {
    /// Address and port to listen on (port 0: any free port; the address is printed)
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:4599")]
    pub listen: std::net::SocketAddr,
    /// The region in ARNs and in the SigV4 credential scope
    #[arg(long, value_name = "REGION", default_value = "us-east-1")]
    pub region: String,
    /// The account id in ARNs
    #[arg(long, value_name = "ID", default_value = "111122223333")]
    pub account: String,
    /// PEM certificate chain: serve HTTPS (with --tls-key)
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// PEM private key of --tls-cert
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
    /// Allow plain HTTP on an address other than loopback
    #[arg(long)]
    pub insecure_http: bool,
    /// Connections served at once (more wait to be accepted)
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub max_connections: u32,
    #[command(flatten)]
    pub login: Login,
}

/// Where principals' ARNs live.
#[derive(Args)]
pub struct Account {
    /// The account id in ARNs (as given to `ferrohsm serve`)
    #[arg(long, value_name = "ID", default_value = "111122223333")]
    pub account: String,
}

/// An identity policy to attach.
#[derive(Args)]
#[command(group(ArgGroup::new("doc").required(true).args(["policy_file", "policy"])))]
pub struct PolicyDoc {
    /// The policy's name (attaching under an existing name replaces it)
    #[arg(long, value_name = "NAME")]
    pub policy_name: String,
    /// The policy document (JSON) from a file
    #[arg(long, value_name = "FILE")]
    pub policy_file: Option<String>,
    /// The policy document (JSON) itself
    #[arg(long, value_name = "JSON")]
    pub policy: Option<String>,
}

#[derive(Subcommand)]
pub enum PrincipalCmd {
    /// Create a user with an access key; prints it once, as `aws iam create-access-key` does
    Create {
        /// The user name (1..=64 of A-Z a-z 0-9 +=,.@_-)
        name: String,
        /// A group to join (repeatable)
        #[arg(long, value_name = "GROUP")]
        group: Vec<String>,
        /// Attach an identity policy allowing kms:* on every key
        #[arg(long)]
        admin: bool,
        #[command(flatten)]
        login: Login,
    },
    /// List the users (without secrets)
    List {
        #[command(flatten)]
        account: Account,
        #[command(flatten)]
        login: Login,
    },
    /// Delete a user (its access key stops working at once)
    Delete {
        name: String,
        #[command(flatten)]
        login: Login,
    },
    /// Replace a user's access key; prints the new one once
    RotateSecret {
        name: String,
        #[command(flatten)]
        login: Login,
    },
    /// Attach an identity policy to a user
    AttachPolicy {
        name: String,
        #[command(flatten)]
        doc: PolicyDoc,
        #[command(flatten)]
        login: Login,
    },
    /// Detach a user's identity policy
    DetachPolicy {
        name: String,
        #[arg(long, value_name = "NAME")]
        policy_name: String,
        #[command(flatten)]
        login: Login,
    },
}

#[derive(Subcommand)]
pub enum GroupCmd {
    /// Create a group
    Create {
        name: String,
        #[command(flatten)]
        login: Login,
    },
    /// Delete a group
    Delete {
        name: String,
        #[command(flatten)]
        login: Login,
    },
    /// Add a user to a group
    Add {
        group: String,
        user: String,
        #[command(flatten)]
        login: Login,
    },
    /// Remove a user from a group
    Remove {
        group: String,
        user: String,
        #[command(flatten)]
        login: Login,
    },
    /// Attach an identity policy to a group (every member gets it)
    AttachPolicy {
        group: String,
        #[command(flatten)]
        doc: PolicyDoc,
        #[command(flatten)]
        login: Login,
    },
    /// List the groups, their members and policies
    List {
        #[command(flatten)]
        login: Login,
    },
}
