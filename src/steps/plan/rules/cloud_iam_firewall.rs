//! `cloud_iam_firewall`: the seed rules speak of AWS; this rule gives the
//! same attention to IAM bindings and firewall rules of Google Cloud and
//! Azure (`google_*_iam_*`, `azurerm_role_assignment`, network security
//! groups, firewall rules).

use super::shared::{Hit, access_severity};
use crate::base::glob::glob_match;
use crate::config::plan::Reason;
use crate::steps::plan::model::View;

const PATTERNS: &[&str] = &[
    "google_*_iam_*",
    "google_iam_*",
    "google_compute_firewall",
    "google_compute_firewall_policy*",
    "google_compute_network_firewall_policy*",
    "google_compute_region_network_firewall_policy*",
    "google_compute_security_policy",
    "azurerm_role_assignment",
    "azurerm_role_definition",
    "azurerm_network_security_group",
    "azurerm_network_security_rule",
    "azurerm_firewall*",
    "azurerm_key_vault_access_policy",
    "azuread_app_role_assignment",
    "azuread_directory_role_assignment",
];

pub(super) fn check(v: &View<'_>, out: &mut Vec<Hit>) {
    let kind = v.kind();
    let other_cloud = kind.starts_with("google_") || kind.starts_with("azurerm_") || kind.starts_with("azuread_");
    if other_cloud && PATTERNS.iter().any(|p| glob_match(p, kind)) {
        out.push(Hit::new(
            Reason::CloudIamFirewall,
            access_severity(v),
            format!("IAM or firewall resource {}", v.actions().verb()),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{reasons, run};
    use super::*;
    use serde_json::json;

    #[test]
    fn google_and_azure_access_resources_count() {
        for kind in [
            "google_project_iam_member",
            "google_project_iam_policy",
            "google_storage_bucket_iam_binding",
            "google_compute_firewall",
            "azurerm_role_assignment",
            "azurerm_network_security_rule",
            "azurerm_firewall_network_rule_collection",
        ] {
            assert_eq!(
                reasons(&run(check, kind, json!({"actions": ["update"]}))),
                [Reason::CloudIamFirewall],
                "{kind}"
            );
        }
        for kind in ["google_compute_instance", "azurerm_virtual_network", "aws_iam_role"] {
            assert!(run(check, kind, json!({"actions": ["update"]})).is_empty(), "{kind}");
        }
    }
}
