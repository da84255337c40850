//! `ferrohsm serve` (the AWS-KMS-compatible API server) and the commands
//! that manage its principals and groups.

use std::sync::Arc;

use ferrohsm::server::{self, directory};

use crate::cli::{GroupCmd, Login, PolicyDoc, PrincipalCmd, Serve};
use crate::common::{self, CliResult};

fn fail(e: String) -> i32 {
    eprintln!("ferrohsm: {e}");
    1
}

fn session(login: &Login) -> CliResult<(ferrohsm::token::Module, ferrohsm::token::SessionHandle)> {
    let m = common::module()?;
    let h = common::user_session(&m, login.token.as_deref(), &login.pin.source())?;
    Ok((m, h))
}

fn say(e: ferrohsm::error::Error) -> String {
    use ferrohsm::error::Error as E;
    match e {
        E::KmsNotFound => "no such user, group or policy".into(),
        E::KmsAliasExists => "one by that name exists already".into(),
        E::ArgumentsBad => "invalid name or policy (see the log line above)".into(),
        e => e.to_string(),
    }
}

pub fn serve(a: &Serve) -> i32 {
    match serve_inner(a) {
        Ok(()) => 0,
        Err(e) => fail(e),
    }
}

fn serve_inner(a: &Serve) -> CliResult<()> {
    if a.tls_cert.is_none() && !a.listen.ip().is_loopback() && !a.insecure_http {
        return Err(format!(
            "refusing to serve plain HTTP on {} (not loopback): give --tls-cert and --tls-key, or --insecure-http",
            a.listen
        ));
    }
    let config = ferrohsm::config::Config::load().map_err(|e| format!("configuration: {e}"))?;
    ferrohsm::logging::init(&config.log);
    let m = ferrohsm::token::Module::new(config).map_err(|e| format!("store: {e}"))?;
    let h = common::user_session(&m, a.login.token.as_deref(), &a.login.pin.source())?;
    let state = Arc::new(server::State::new(Arc::new(m), h, &a.region, &a.account));
    let opts = server::Options {
        listen: a.listen,
        region: a.region.clone(),
        account: a.account.clone(),
        tls: a.tls_cert.clone().zip(a.tls_key.clone()),
        max_connections: a.max_connections as usize,
    };
    let scheme = if opts.tls.is_some() { "https" } else { "http" };
    server::run(state, opts, |addr| {
        use std::io::Write;
        println!("ferrohsm: serving the KMS API on {scheme}://{addr}");
        let _ = std::io::stdout().flush();
    })
}

fn policy_text(d: &PolicyDoc) -> CliResult<String> {
    match (&d.policy, &d.policy_file) {
        (Some(p), _) => Ok(p.clone()),
        (None, Some(f)) => std::fs::read_to_string(f).map_err(|e| format!("{f}: {e}")),
        (None, None) => Err("give --policy or --policy-file".into()),
    }
}

fn print(v: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

pub fn principal(c: PrincipalCmd) -> i32 {
    let r = (|| -> CliResult<()> {
        match c {
            PrincipalCmd::Create { name, group, admin, login } => {
                let (m, h) = session(&login)?;
                print(&directory::create_principal(&m, h, &name, &group, admin).map_err(say)?);
            }
            PrincipalCmd::List { account, login } => {
                let (m, h) = session(&login)?;
                let users = directory::list_principals(&m, h, &account.account).map_err(say)?;
                print(&serde_json::json!({ "Users": users }));
            }
            PrincipalCmd::Delete { name, login } => {
                let (m, h) = session(&login)?;
                directory::delete_principal(&m, h, &name).map_err(say)?;
            }
            PrincipalCmd::RotateSecret { name, login } => {
                let (m, h) = session(&login)?;
                print(&directory::rotate_secret(&m, h, &name).map_err(say)?);
            }
            PrincipalCmd::AttachPolicy { name, doc, login } => {
                let text = policy_text(&doc)?;
                let (m, h) = session(&login)?;
                directory::attach_user_policy(&m, h, &name, &doc.policy_name, &text).map_err(say)?;
            }
            PrincipalCmd::DetachPolicy { name, policy_name, login } => {
                let (m, h) = session(&login)?;
                directory::detach_user_policy(&m, h, &name, &policy_name).map_err(say)?;
            }
        }
        Ok(())
    })();
    r.map_or_else(fail, |()| 0)
}

pub fn group(c: GroupCmd) -> i32 {
    let r = (|| -> CliResult<()> {
        match c {
            GroupCmd::Create { name, login } => {
                let (m, h) = session(&login)?;
                directory::create_group(&m, h, &name).map_err(say)?;
            }
            GroupCmd::Delete { name, login } => {
                let (m, h) = session(&login)?;
                directory::delete_group(&m, h, &name).map_err(say)?;
            }
            GroupCmd::Add { group, user, login } => {
                let (m, h) = session(&login)?;
                directory::set_membership(&m, h, &group, &user, true).map_err(say)?;
            }
            GroupCmd::Remove { group, user, login } => {
                let (m, h) = session(&login)?;
                directory::set_membership(&m, h, &group, &user, false).map_err(say)?;
            }
            GroupCmd::AttachPolicy { group, doc, login } => {
                let text = policy_text(&doc)?;
                let (m, h) = session(&login)?;
                directory::attach_group_policy(&m, h, &group, &doc.policy_name, &text).map_err(say)?;
            }
            GroupCmd::List { login } => {
                let (m, h) = session(&login)?;
                print(&serde_json::json!({ "Groups": directory::list_groups(&m, h).map_err(say)? }));
            }
        }
        Ok(())
    })();
    r.map_or_else(fail, |()| 0)
}
