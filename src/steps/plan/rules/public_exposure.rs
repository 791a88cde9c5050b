//! `public_exposure`: a change makes something reachable from the internet
//! or usable by anyone: a public S3 ACL or grant, an S3 public access block
//! turned off or removed, `publicly_accessible = true`, a policy statement
//! allowing principal `*`, ingress from `0.0.0.0/0` or `::/0` (AWS security
//! groups and network ACLs, Google firewalls, Azure security rules), a
//! Lambda URL without auth. Only exposure the change adds is reported.

use serde_json::Value;

use super::shared::{Hit, added_statements};
use crate::config::plan::{Reason, Severity};
use crate::steps::plan::model::Marked;
use crate::steps::plan::model::View;
use crate::steps::plan::policy_doc::STATEMENT_ATTRS;

const PUBLIC_ACLS: &[&str] = &["public-read", "public-read-write", "authenticated-read"];
const PUBLIC_GRANTEES: &[&str] =
    &["http://acs.amazonaws.com/groups/global/AllUsers", "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"];
const BLOCK_FLAGS: &[&str] =
    &["block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"];

pub(super) fn check(v: &View<'_>, out: &mut Vec<Hit>) {
    let mut found = Vec::new();
    acl(v, &mut found);
    public_access_block(v, &mut found);
    publicly_accessible(v, &mut found);
    anyone_principal(v, &mut found);
    open_ingress(v, &mut found);
    lambda_url(v, &mut found);
    out.extend(found.into_iter().map(|d| Hit::new(Reason::PublicExposure, Severity::High, d)));
}

/// The value before the change, or `None` for a new object.
fn before(v: &View<'_>, attr: &str) -> Option<Value> {
    if v.actions().is_create_only() { None } else { v.before(attr) }
}

fn acl(v: &View<'_>, found: &mut Vec<String>) {
    if !v.kind().starts_with("aws_s3_") {
        return;
    }
    if let Some(Value::String(new)) = v.after("acl") {
        let old = before(v, "acl");
        if PUBLIC_ACLS.contains(&new.as_str()) && old.as_ref().and_then(Value::as_str) != Some(new.as_str()) {
            let from = old.map_or_else(|| "none".to_owned(), |o| v.show("acl", &o));
            found.push(format!("`acl` {from} -> {}", v.show("acl", &Value::String(new))));
        }
    }
    for attr in ["grant", "access_control_policy"] {
        let has =
            |x: Option<Value>| x.map(|x| x.to_string()).is_some_and(|s| PUBLIC_GRANTEES.iter().any(|g| s.contains(g)));
        if has(v.after(attr)) && !has(before(v, attr)) {
            found.push(format!("`{attr}` grants access to all (authenticated) AWS users"));
        }
    }
}

fn public_access_block(v: &View<'_>, found: &mut Vec<String>) {
    if !v.kind().ends_with("_public_access_block") {
        return;
    }
    if v.actions().is_delete_only() {
        if BLOCK_FLAGS.iter().any(|f| v.before(f) == Some(Value::Bool(true))) {
            found.push("public access block removed".into());
        }
        return;
    }
    let off: Vec<&str> = BLOCK_FLAGS
        .iter()
        .copied()
        .filter(|f| {
            let now_off = v.after(f) != Some(Value::Bool(true)) && v.unknown(f) == Marked::No;
            let was_off = before(v, f).is_some_and(|b| b != Value::Bool(true));
            now_off && !was_off
        })
        .collect();
    if !off.is_empty() {
        found.push(format!("public access block off: {}", off.join(", ")));
    }
}

fn publicly_accessible(v: &View<'_>, found: &mut Vec<String>) {
    const ATTR: &str = "publicly_accessible";
    if v.after(ATTR) == Some(Value::Bool(true)) && before(v, ATTR) != Some(Value::Bool(true)) {
        found.push(format!("`{ATTR}` set to true"));
    }
}

fn anyone_principal(v: &View<'_>, found: &mut Vec<String>) {
    for attr in STATEMENT_ATTRS {
        if added_statements(v, attr).iter().any(super::super::policy_doc::Statement::allows_anyone) {
            found.push(format!("`{attr}` allows any principal (\"*\")"));
        }
    }
}

const OPEN: &[&str] = &["0.0.0.0/0", "::/0"];

/// One side of a change (before or after), or one block of it: an
/// attribute's value by name.
type Side<'a> = &'a dyn Fn(&str) -> Option<Value>;

/// Ingress rules open to the world, as comparable signatures: each kind of
/// firewall resource read by its own function.
fn open_rules(kind: &str, side: Side<'_>) -> Vec<String> {
    let mut out = Vec::new();
    match kind {
        "aws_security_group" | "aws_default_security_group" => security_group(side, &mut out),
        "aws_security_group_rule" => security_group_rule(side, &mut out),
        "aws_vpc_security_group_ingress_rule" => vpc_ingress_rule(side, &mut out),
        "aws_network_acl_rule" => network_acl_rule(side, &mut out),
        "aws_network_acl" | "aws_default_network_acl" => network_acl(side, &mut out),
        "google_compute_firewall" => google_firewall(side, &mut out),
        "azurerm_network_security_rule" => {
            let rule = Value::Object(
                ["direction", "access", "source_address_prefix", "source_address_prefixes", "destination_port_range"]
                    .iter()
                    .filter_map(|k| side(k).map(|x| ((*k).to_owned(), x)))
                    .collect(),
            );
            azure_rules(vec![rule], &mut out);
        }
        "azurerm_network_security_group" => {
            let rules = match side("security_rule") {
                Some(Value::Array(a)) => a,
                _ => Vec::new(),
            };
            azure_rules(rules, &mut out);
        }
        _ => {}
    }
    out
}

/// A block of a side read as a side of its own.
fn block(o: &Value) -> impl Fn(&str) -> Option<Value> + '_ {
    |k| o.get(k).cloned()
}

/// True for an address range open to the world, or a list holding one.
fn is_open(v: &Value) -> bool {
    match v {
        Value::Array(a) => a.iter().any(|c| c.as_str().is_some_and(|c| OPEN.contains(&c))),
        Value::String(c) => OPEN.contains(&c.as_str()),
        _ => false,
    }
}

/// Whether any of `keys` holds an address range open to the world.
fn open_cidr(side: Side<'_>, keys: &[&str]) -> bool {
    keys.iter().any(|k| side(k).as_ref().is_some_and(is_open))
}

/// A rule's protocol and port range, as in `tcp 22-22` (`?` for unknown).
fn ports(side: Side<'_>) -> String {
    let p =
        |k: &str| side(k).map_or_else(|| "?".to_owned(), |x| x.as_str().map_or_else(|| x.to_string(), str::to_owned));
    format!("{} {}-{}", p("protocol").replace("ip_protocol", ""), p("from_port"), p("to_port"))
}

/// The string value of `key`, if it is one.
fn text(side: Side<'_>, key: &str) -> Option<String> {
    match side(key) {
        Some(Value::String(s)) => Some(s),
        _ => None,
    }
}

/// An AWS security group: each of its `ingress` blocks from anywhere.
fn security_group(side: Side<'_>, out: &mut Vec<String>) {
    if let Some(Value::Array(rules)) = side("ingress") {
        for r in &rules {
            let r = block(r);
            if open_cidr(&r, &["cidr_blocks", "ipv6_cidr_blocks"]) {
                out.push(format!("ingress {}", ports(&r)));
            }
        }
    }
}

/// An AWS security group rule of type `ingress` from anywhere.
fn security_group_rule(side: Side<'_>, out: &mut Vec<String>) {
    if text(side, "type").as_deref() == Some("ingress") && open_cidr(side, &["cidr_blocks", "ipv6_cidr_blocks"]) {
        out.push(format!("ingress {}", ports(side)));
    }
}

/// A VPC security group ingress rule from anywhere (its protocol is
/// `ip_protocol`).
fn vpc_ingress_rule(side: Side<'_>, out: &mut Vec<String>) {
    if open_cidr(side, &["cidr_ipv4", "cidr_ipv6"]) {
        let renamed = |k: &str| side(if k == "protocol" { "ip_protocol" } else { k });
        out.push(format!("ingress {}", ports(&renamed)));
    }
}

/// Network ACLs: an inbound `allow` entry from anywhere. A rule resource
/// says `egress` and `rule_action`.
fn network_acl_rule(side: Side<'_>, out: &mut Vec<String>) {
    let inbound = side("egress").as_ref().and_then(Value::as_bool) != Some(true);
    let allow = || text(side, "rule_action").is_some_and(|a| a.eq_ignore_ascii_case("allow"));
    if inbound && allow() && open_cidr(side, &["cidr_block", "ipv6_cidr_block"]) {
        out.push(format!("network ACL inbound {}", ports(side)));
    }
}

/// A whole network ACL lists its `ingress` entries with `action`: each
/// `allow` from anywhere.
fn network_acl(side: Side<'_>, out: &mut Vec<String>) {
    if let Some(Value::Array(entries)) = side("ingress") {
        for r in &entries {
            let r = block(r);
            if text(&r, "action").is_some_and(|a| a.eq_ignore_ascii_case("allow"))
                && open_cidr(&r, &["cidr_block", "ipv6_cidr_block"])
            {
                out.push(format!("network ACL inbound {}", ports(&r)));
            }
        }
    }
}

/// A Google firewall: ingress (the default direction) from anywhere.
fn google_firewall(side: Side<'_>, out: &mut Vec<String>) {
    let ingress = side("direction").and_then(|d| d.as_str().map(str::to_owned)).is_none_or(|d| d == "INGRESS");
    if ingress && open_cidr(side, &["source_ranges"]) {
        out.push("firewall ingress from 0.0.0.0/0".to_owned());
    }
}

/// Azure security rules: each inbound `allow` from any source.
fn azure_rules(rules: Vec<Value>, out: &mut Vec<String>) {
    for r in rules {
        let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or_default().to_ascii_lowercase();
        let any_source = |p: &str| matches!(p, "*" | "internet" | "any" | "0.0.0.0/0" | "::/0");
        let prefixes: Vec<String> = match r.get("source_address_prefixes") {
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(str::to_ascii_lowercase).collect(),
            _ => Vec::new(),
        };
        if s("direction") == "inbound"
            && s("access") == "allow"
            && (any_source(&s("source_address_prefix")) || prefixes.iter().any(|p| any_source(p)))
        {
            out.push(format!(
                "inbound from any source to port {}",
                r.get("destination_port_range").and_then(Value::as_str).unwrap_or("*")
            ));
        }
    }
}

fn open_ingress(v: &View<'_>, found: &mut Vec<String>) {
    let after = open_rules(v.kind(), &|a| v.after(a));
    if after.is_empty() {
        return;
    }
    let before = if v.actions().is_create_only() { Vec::new() } else { open_rules(v.kind(), &|a| v.before(a)) };
    for rule in after.into_iter().filter(|r| !before.contains(r)) {
        found.push(format!("{rule} open to the internet"));
    }
}

fn lambda_url(v: &View<'_>, found: &mut Vec<String>) {
    const ATTR: &str = "authorization_type";
    if v.kind() == "aws_lambda_function_url"
        && v.after(ATTR).as_ref().and_then(Value::as_str) == Some("NONE")
        && before(v, ATTR).as_ref().and_then(Value::as_str) != Some("NONE")
    {
        found.push("function URL without authentication".into());
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::run;
    use super::*;
    use serde_json::json;

    fn details(kind: &str, change: Value) -> Vec<String> {
        run(check, kind, change).into_iter().map(|h| h.detail).collect()
    }

    #[test]
    fn public_acl_update_counts_private_does_not() {
        assert_eq!(
            details(
                "aws_s3_bucket",
                json!({"actions": ["update"], "before": {"acl": "private"}, "after": {"acl": "public-read"}})
            ),
            ["`acl` private -> public-read"]
        );
        assert!(
            details(
                "aws_s3_bucket",
                json!({"actions": ["update"], "before": {"acl": "public-read"}, "after": {"acl": "private"}})
            )
            .is_empty()
        );
        assert!(details("aws_s3_bucket", json!({"actions": ["create"], "after": {"acl": "private"}})).is_empty());
    }

    #[test]
    fn public_access_block_turned_off_or_removed() {
        let on = json!({"block_public_acls": true, "block_public_policy": true, "ignore_public_acls": true, "restrict_public_buckets": true});
        let mut off = on.clone();
        off["block_public_policy"] = json!(false);
        assert_eq!(
            details("aws_s3_bucket_public_access_block", json!({"actions": ["update"], "before": on, "after": off})),
            ["public access block off: block_public_policy"]
        );
        assert_eq!(
            details("aws_s3_bucket_public_access_block", json!({"actions": ["delete"], "before": on})),
            ["public access block removed"]
        );
        assert!(details("aws_s3_bucket_public_access_block", json!({"actions": ["create"], "after": on})).is_empty());
    }

    #[test]
    fn publicly_accessible_true() {
        assert_eq!(
            details(
                "aws_db_instance",
                json!({"actions": ["update"], "before": {"publicly_accessible": false}, "after": {"publicly_accessible": true}})
            ),
            ["`publicly_accessible` set to true"]
        );
        assert!(details("aws_db_instance", json!({"actions": ["update"], "before": {"publicly_accessible": true}, "after": {"publicly_accessible": true}})).is_empty());
    }

    #[test]
    fn star_principal_added_to_bucket_policy() {
        let p = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#;
        assert_eq!(
            details("aws_s3_bucket_policy", json!({"actions": ["create"], "after": {"policy": p}})),
            ["`policy` allows any principal (\"*\")"]
        );
        let deny = r#"{"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#;
        assert!(details("aws_s3_bucket_policy", json!({"actions": ["create"], "after": {"policy": deny}})).is_empty());
    }

    #[test]
    fn world_open_ingress_in_each_form() {
        let sg = json!({"actions": ["create"], "after": {"ingress": [
            {"cidr_blocks": ["0.0.0.0/0"], "ipv6_cidr_blocks": [], "protocol": "tcp", "from_port": 22, "to_port": 22},
            {"cidr_blocks": ["10.0.0.0/8"], "protocol": "tcp", "from_port": 443, "to_port": 443}]}});
        assert_eq!(details("aws_security_group", sg), ["ingress tcp 22-22 open to the internet"]);
        let rule = json!({"actions": ["create"], "after": {"type": "ingress", "cidr_blocks": null, "ipv6_cidr_blocks": ["::/0"], "protocol": "-1", "from_port": 0, "to_port": 0}});
        assert_eq!(details("aws_security_group_rule", rule), ["ingress -1 0-0 open to the internet"]);
        let egress = json!({"actions": ["create"], "after": {"type": "egress", "cidr_blocks": ["0.0.0.0/0"]}});
        assert!(details("aws_security_group_rule", egress).is_empty());
        let vpc = json!({"actions": ["create"], "after": {"cidr_ipv4": "0.0.0.0/0", "ip_protocol": "tcp", "from_port": 3389, "to_port": 3389}});
        assert_eq!(details("aws_vpc_security_group_ingress_rule", vpc), ["ingress tcp 3389-3389 open to the internet"]);
        let gcp = json!({"actions": ["create"], "after": {"direction": "INGRESS", "source_ranges": ["0.0.0.0/0"]}});
        assert_eq!(details("google_compute_firewall", gcp).len(), 1);
        let az = json!({"actions": ["create"], "after": {"direction": "Inbound", "access": "Allow", "source_address_prefix": "*", "destination_port_range": "22"}});
        assert_eq!(
            details("azurerm_network_security_rule", az),
            ["inbound from any source to port 22 open to the internet"]
        );
    }

    #[test]
    fn network_acl_entries_open_to_the_internet() {
        let rule = json!({"actions": ["create"], "after": {"egress": false, "rule_action": "allow", "cidr_block": "0.0.0.0/0", "protocol": "tcp", "from_port": 22, "to_port": 22, "rule_number": 100}});
        assert_eq!(details("aws_network_acl_rule", rule), ["network ACL inbound tcp 22-22 open to the internet"]);
        let v6 = json!({"actions": ["create"], "after": {"egress": false, "rule_action": "allow", "ipv6_cidr_block": "::/0", "protocol": "-1", "from_port": 0, "to_port": 0}});
        assert_eq!(details("aws_network_acl_rule", v6).len(), 1);
        // Outbound, deny, and a private range are not exposure.
        for after in [
            json!({"egress": true, "rule_action": "allow", "cidr_block": "0.0.0.0/0"}),
            json!({"egress": false, "rule_action": "deny", "cidr_block": "0.0.0.0/0"}),
            json!({"egress": false, "rule_action": "allow", "cidr_block": "10.0.0.0/8"}),
        ] {
            assert!(details("aws_network_acl_rule", json!({"actions": ["create"], "after": after})).is_empty());
        }
        let entry = |action: &str, cidr: &str, port: u16| json!({"action": action, "cidr_block": cidr, "ipv6_cidr_block": "", "protocol": "tcp", "from_port": port, "to_port": port, "rule_no": 100, "icmp_code": 0, "icmp_type": 0});
        let before = json!({"ingress": [entry("allow", "10.0.0.0/8", 443)], "egress": []});
        let after = json!({"ingress": [entry("allow", "10.0.0.0/8", 443), entry("allow", "0.0.0.0/0", 3389)], "egress": [entry("allow", "0.0.0.0/0", 0)]});
        for kind in ["aws_network_acl", "aws_default_network_acl"] {
            assert_eq!(
                details(kind, json!({"actions": ["update"], "before": before, "after": after})),
                ["network ACL inbound tcp 3389-3389 open to the internet"],
                "{kind}"
            );
        }
        let denied = json!({"ingress": [entry("deny", "0.0.0.0/0", 22)]});
        assert!(details("aws_network_acl", json!({"actions": ["create"], "after": denied})).is_empty());
    }

    #[test]
    fn account_public_access_block_and_new_public_databases() {
        let on = json!({"block_public_acls": true, "block_public_policy": true, "ignore_public_acls": true, "restrict_public_buckets": true});
        assert_eq!(
            details("aws_s3_account_public_access_block", json!({"actions": ["delete"], "before": on})),
            ["public access block removed"]
        );
        let mut loose = on.clone();
        loose["restrict_public_buckets"] = json!(false);
        loose["ignore_public_acls"] = json!(false);
        assert_eq!(
            details(
                "aws_s3_bucket_public_access_block",
                json!({"actions": ["delete", "create"], "before": on, "after": loose})
            ),
            ["public access block off: ignore_public_acls, restrict_public_buckets"]
        );
        for kind in ["aws_db_instance", "aws_rds_cluster_instance", "aws_redshift_cluster"] {
            assert_eq!(
                details(kind, json!({"actions": ["create"], "after": {"publicly_accessible": true}})),
                ["`publicly_accessible` set to true"],
                "{kind}"
            );
        }
    }

    #[test]
    fn existing_open_rule_is_not_new_exposure() {
        let rules = json!([{"cidr_blocks": ["0.0.0.0/0"], "protocol": "tcp", "from_port": 443, "to_port": 443}]);
        let change = json!({"actions": ["update"], "before": {"ingress": rules, "description": "a"}, "after": {"ingress": rules, "description": "b"}});
        assert!(details("aws_security_group", change).is_empty());
    }
}
