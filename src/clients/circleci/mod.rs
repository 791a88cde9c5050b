//! The CircleCI API v2 client: the operations changegate uses, each one of
//! the official description, over [`Http`].
//!
//! `CIRCLECI_API_URL` (default `https://circleci.com/api/v2`) and
//! `CIRCLE_TOKEN` (a personal API token, sent as `Circle-Token`).

use serde::Deserialize;

use crate::base::env::Env;
use crate::clients::http::{ApiError, Auth, Http, RetryPolicy, Secret, SetupError, percent_encode};

/// The default API base.
pub(crate) const DEFAULT_API_URL: &str = "https://circleci.com/api/v2";

/// A workflow.
#[derive(Debug, Clone, Deserialize)]
pub struct Workflow {
    /// Id (UUID).
    pub(crate) id: String,
    /// Name in the config.
    pub name: String,
    /// `success`, `running`, `not_run`, `failed`, `error`, `failing`,
    /// `on_hold`, `canceled`, `unauthorized`.
    pub status: String,
    /// Pipeline id.
    pub(crate) pipeline_id: String,
    /// Pipeline number.
    pub(crate) pipeline_number: u64,
    /// `gh/org/repo` (or `circleci/...`).
    pub(crate) project_slug: String,
    /// When it was created.
    #[serde(default)]
    pub(crate) created_at: Option<String>,
}

impl Workflow {
    /// Still running or waiting (not finished).
    pub fn is_active(&self) -> bool {
        matches!(self.status.as_str(), "running" | "on_hold" | "failing")
    }
}

/// A job of a workflow (approval jobs included).
#[derive(Debug, Clone, Deserialize)]
pub struct Job {
    /// Id (UUID); for an approval job, the approval request id.
    pub id: String,
    /// Name in the workflow.
    pub name: String,
    /// `build` or `approval`.
    #[serde(rename = "type")]
    pub(crate) kind: String,
    /// Status (`success`, `running`, `on_hold`, `blocked`, ...).
    pub status: String,
    /// Job number (build jobs).
    #[serde(default)]
    pub(crate) job_number: Option<u64>,
    /// Approval request id (approval jobs).
    #[serde(default)]
    pub(crate) approval_request_id: Option<String>,
    /// Who approved it (approval jobs; a CircleCI user id).
    #[serde(default)]
    pub(crate) approved_by: Option<String>,
    /// The ids of the jobs it requires.
    #[serde(default)]
    pub(crate) dependencies: Vec<String>,
}

/// A pipeline.
#[derive(Debug, Clone, Deserialize)]
pub struct Pipeline {
    /// Id (UUID).
    pub(crate) id: String,
    /// Number.
    pub number: u64,
    /// Project slug.
    pub project_slug: String,
    /// `created`, `errored`, `setup-pending`, `setup`, `pending`.
    #[serde(default)]
    pub state: Option<String>,
    /// What was built.
    #[serde(default)]
    pub(crate) vcs: Option<Vcs>,
    /// What triggered it, and who.
    #[serde(default)]
    pub(crate) trigger: Option<Trigger>,
}

/// What triggered a pipeline.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Trigger {
    /// Who.
    #[serde(default)]
    pub(crate) actor: Option<Actor>,
}

/// The user who triggered a pipeline.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Actor {
    /// VCS login.
    #[serde(default)]
    pub(crate) login: Option<String>,
}

/// A CircleCI user.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct User {
    /// Id (UUID).
    pub(crate) id: String,
    /// VCS login.
    pub(crate) login: String,
    /// Name.
    #[serde(default)]
    pub(crate) name: Option<String>,
}

/// A context of an organization.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Context {
    /// Id (UUID).
    pub(crate) id: String,
    /// Name.
    pub(crate) name: String,
}

/// A restriction of a context: who or what may use it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Restriction {
    /// Id (UUID).
    #[serde(default)]
    pub(crate) id: Option<String>,
    /// `group`, `project` or `expression` (the description's text names only
    /// the last two; its enum has all three).
    pub(crate) restriction_type: String,
    /// The group id, project id or expression.
    #[serde(default)]
    pub(crate) restriction_value: Option<String>,
    /// A readable name (the group's or project's), when there is one.
    #[serde(default)]
    pub(crate) name: Option<String>,
}

/// A project (`GET /project/{project-slug}`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Project {
    /// Id (UUID): the value of a project restriction and a webhook's scope.
    pub id: String,
    /// Slug (`gh/acme/web`, `circleci/<org id>/<project id>`).
    pub(crate) slug: String,
    /// Name.
    pub(crate) name: String,
    /// Id (UUID) of its organization.
    pub(crate) organization_id: String,
    /// Slug of its organization (`gh/acme`).
    pub(crate) organization_slug: String,
    /// Where its code lives.
    pub vcs_info: VcsInfo,
}

/// Where a project's code lives.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct VcsInfo {
    /// The repository's URL.
    pub(crate) vcs_url: String,
    /// `GitHub`, `Bitbucket` or `CircleCI` (GitHub App, GitLab and standalone orgs).
    pub(crate) provider: String,
    /// Its default branch.
    pub default_branch: String,
}

/// A group of an organization (`GET /organizations/{org_id}/groups`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Group {
    /// Id (UUID): the value of a group restriction.
    pub id: String,
    /// Name.
    pub(crate) name: String,
}

/// An outbound webhook (`/webhook`). Its signing secret is never read back:
/// CircleCI answers a masked value.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Webhook {
    /// Id (UUID).
    pub(crate) id: String,
    /// Name.
    pub(crate) name: String,
    /// Where deliveries go.
    pub(crate) url: String,
    /// Events delivered (`workflow-completed`, `job-completed`).
    pub(crate) events: Vec<String>,
    /// Whether the receiver's certificate is verified.
    #[serde(rename = "verify-tls")]
    pub(crate) verify_tls: bool,
}

/// What a webhook delivers and where (its scope is set at creation).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WebhookSpec<'a> {
    /// Name.
    pub name: &'a str,
    /// Where deliveries go (HTTPS).
    pub url: &'a str,
    /// Events delivered.
    pub events: &'a [&'a str],
    /// Verify the receiver's certificate.
    #[serde(rename = "verify-tls")]
    pub verify_tls: bool,
}

/// The commit a pipeline built.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Vcs {
    /// Commit SHA.
    #[serde(default)]
    pub(crate) revision: Option<String>,
    /// Branch (absent for tags).
    #[serde(default)]
    pub(crate) branch: Option<String>,
}

/// A stored artifact of a job.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Artifact {
    /// Path it was stored under.
    pub(crate) path: String,
    /// Download URL.
    pub url: String,
}

/// Details of a job.
#[derive(Debug, Clone, Deserialize)]
pub struct JobDetails {
    /// Number.
    pub number: u64,
    /// Name.
    pub name: String,
    /// Status.
    pub status: String,
    /// Web URL.
    #[serde(default)]
    pub web_url: Option<String>,
}

/// CircleCI connection settings.
#[derive(Debug, Clone)]
pub struct CircleCiSettings {
    /// API base.
    pub api_url: String,
    /// Personal API token.
    pub token: Secret,
}

impl CircleCiSettings {
    /// From `CIRCLE_TOKEN` and `CIRCLECI_API_URL`.
    pub fn from_env(env: &Env) -> Result<Self, crate::base::env::MissingVars> {
        let [token] = env.require(["CIRCLE_TOKEN"])?;
        let api_url = env.get("CIRCLECI_API_URL").unwrap_or(DEFAULT_API_URL).to_owned();
        Ok(CircleCiSettings { api_url, token: Secret::new(token) })
    }
}

/// The CircleCI client.
#[derive(Debug, Clone)]
pub struct CircleCi {
    http: Http,
}

impl CircleCi {
    /// A client for `settings`.
    pub fn new(
        settings: &CircleCiSettings,
        ca_bundle: Option<&std::path::Path>,
        retry: RetryPolicy,
    ) -> Result<Self, SetupError> {
        let auth = Auth::Header { name: "Circle-Token", token: settings.token.clone() };
        Ok(CircleCi { http: Http::new("CircleCI", "CIRCLECI_API_URL", &settings.api_url, auth, ca_bundle, retry)? })
    }

    /// A workflow.
    pub fn workflow(&self, id: &str) -> Result<Workflow, ApiError> {
        self.http.get_json(&format!("/workflow/{}", percent_encode(id)), &[])
    }

    /// Every item of a paged list (`items`, `next_page_token`), at most 50 pages.
    fn all_pages<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<Vec<T>, ApiError> {
        self.paged(path, &[])
    }

    /// Every item of a paged list queried with `query`, at most 50 pages.
    fn paged<T: serde::de::DeserializeOwned>(&self, path: &str, query: &[(&str, String)]) -> Result<Vec<T>, ApiError> {
        #[derive(Deserialize)]
        struct Page<T> {
            items: Vec<T>,
            #[serde(default)]
            next_page_token: Option<String>,
        }
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..50 {
            let mut q: Vec<(&str, String)> = query.to_vec();
            q.extend(token.iter().map(|t| ("page-token", t.clone())));
            let page: Page<T> = self.http.get_json(path, &q)?;
            out.extend(page.items);
            match page.next_page_token {
                Some(t) if !t.is_empty() => token = Some(t),
                _ => break,
            }
        }
        Ok(out)
    }

    /// Every job of a workflow.
    pub fn workflow_jobs(&self, id: &str) -> Result<Vec<Job>, ApiError> {
        self.all_pages(&format!("/workflow/{}/job", percent_encode(id)))
    }

    /// A pipeline.
    pub fn pipeline(&self, id: &str) -> Result<Pipeline, ApiError> {
        self.http.get_json(&format!("/pipeline/{}", percent_encode(id)), &[])
    }

    /// Details of a job.
    pub fn job(&self, project_slug: &str, number: u64) -> Result<JobDetails, ApiError> {
        self.http.get_json(&format!("/project/{project_slug}/job/{number}"), &[])
    }

    /// The artifacts of a job (every page).
    pub fn artifacts(&self, project_slug: &str, number: u64) -> Result<Vec<Artifact>, ApiError> {
        self.all_pages(&format!("/project/{project_slug}/{number}/artifacts"))
    }

    /// Downloads an artifact (at most `max` bytes).
    pub fn download(&self, url: &str, max: u64) -> Result<Vec<u8>, ApiError> {
        self.http.get_absolute(url, max)
    }

    /// Approves an approval job (`POST /workflow/{id}/approve/{approval_request_id}`).
    /// CircleCI answers 400 when the job is already approved, blocked or
    /// otherwise not waiting; the error carries its message.
    pub fn approve(&self, workflow_id: &str, approval_request_id: &str) -> Result<(), ApiError> {
        let path = format!("/workflow/{}/approve/{}", percent_encode(workflow_id), percent_encode(approval_request_id));
        self.http.call(ureq::http::Method::POST, &path, &[], &crate::clients::http::Body::Empty).map(|_| ())
    }

    /// Cancels a workflow (`POST /workflow/{id}/cancel`).
    pub fn cancel(&self, workflow_id: &str) -> Result<(), ApiError> {
        let path = format!("/workflow/{}/cancel", percent_encode(workflow_id));
        self.http.call(ureq::http::Method::POST, &path, &[], &crate::clients::http::Body::Empty).map(|_| ())
    }

    /// The token's own user (`GET /me`).
    pub fn me(&self) -> Result<User, ApiError> {
        self.http.get_json("/me", &[])
    }

    /// A user (`GET /user/{id}`): who approved a hold.
    pub fn user(&self, id: &str) -> Result<User, ApiError> {
        self.http.get_json(&format!("/user/{}", percent_encode(id)), &[])
    }

    /// The contexts of an organization (`GET /context?owner-slug=...`).
    pub fn contexts(&self, owner_slug: &str) -> Result<Vec<Context>, ApiError> {
        self.paged("/context", &[("owner-slug", owner_slug.to_owned())])
    }

    /// The restrictions of a context (`GET /context/{id}/restrictions`).
    pub fn context_restrictions(&self, context_id: &str) -> Result<Vec<Restriction>, ApiError> {
        self.all_pages(&format!("/context/{}/restrictions", percent_encode(context_id)))
    }

    /// A project (`GET /project/{project-slug}`).
    pub fn project(&self, project_slug: &str) -> Result<Project, ApiError> {
        self.http.get_json(&format!("/project/{project_slug}"), &[])
    }

    /// The contexts of the organization with id `owner_id`
    /// (`GET /context?owner-id=...`, every page).
    pub fn contexts_of_owner(&self, owner_id: &str) -> Result<Vec<Context>, ApiError> {
        self.paged("/context", &[("owner-id", owner_id.to_owned())])
    }

    /// The groups of an organization (`GET /organizations/{org_id}/groups`,
    /// every page). CircleCI answers 403 to a token whose user may not list them.
    pub fn groups(&self, org_id: &str) -> Result<Vec<Group>, ApiError> {
        self.all_pages(&format!("/organizations/{}/groups", percent_encode(org_id)))
    }

    /// Creates a context in the organization with id `owner_id` (`POST /context`).
    pub fn create_context(&self, name: &str, owner_id: &str) -> Result<Context, ApiError> {
        let body = serde_json::json!({"name": name, "owner": {"id": owner_id, "type": "organization"}});
        self.http.send_json(ureq::http::Method::POST, "/context", &body)
    }

    /// Adds a restriction to a context (`POST /context/{id}/restrictions`):
    /// `kind` is `group` (a group id), `project` (a project id) or
    /// `expression` (an expression rule).
    pub fn add_restriction(&self, context_id: &str, kind: &str, value: &str) -> Result<Restriction, ApiError> {
        let body = serde_json::json!({"restriction_type": kind, "restriction_value": value});
        let path = format!("/context/{}/restrictions", percent_encode(context_id));
        self.http.send_json(ureq::http::Method::POST, &path, &body)
    }

    /// The outbound webhooks of a project (`GET /webhook?scope-id=...&scope-type=project`).
    pub fn webhooks(&self, project_id: &str) -> Result<Vec<Webhook>, ApiError> {
        #[derive(Deserialize)]
        struct Page {
            items: Vec<Webhook>,
        }
        let query = [("scope-id", project_id.to_owned()), ("scope-type", "project".to_owned())];
        let page: Page = self.http.get_json("/webhook", &query)?;
        Ok(page.items)
    }

    /// Creates an outbound webhook of a project (`POST /webhook`), signed with `secret`.
    pub fn create_webhook(
        &self,
        project_id: &str,
        spec: &WebhookSpec<'_>,
        secret: &Secret,
    ) -> Result<Webhook, ApiError> {
        let mut body = serde_json::to_value(spec).expect("a webhook serialises");
        body["signing-secret"] = serde_json::Value::String(secret.expose().to_owned());
        body["scope"] = serde_json::json!({"id": project_id, "type": "project"});
        self.send_with_secret(ureq::http::Method::POST, "/webhook", &body, secret)
    }

    /// Updates an outbound webhook (`PUT /webhook/{id}`); its signing secret
    /// too when `secret` is given.
    pub fn update_webhook(
        &self,
        id: &str,
        spec: &WebhookSpec<'_>,
        secret: Option<&Secret>,
    ) -> Result<Webhook, ApiError> {
        let mut body = serde_json::to_value(spec).expect("a webhook serialises");
        let path = format!("/webhook/{}", percent_encode(id));
        match secret {
            Some(s) => {
                body["signing-secret"] = serde_json::Value::String(s.expose().to_owned());
                self.send_with_secret(ureq::http::Method::PUT, &path, &body, s)
            }
            None => self.http.send_json(ureq::http::Method::PUT, &path, &body),
        }
    }

    /// Sends a body that holds `secret`; an error never repeats it.
    fn send_with_secret(
        &self,
        method: ureq::http::Method,
        path: &str,
        body: &serde_json::Value,
        secret: &Secret,
    ) -> Result<Webhook, ApiError> {
        let scrub = |text: String| text.replace(secret.expose(), "***");
        self.http.send_json(method, path, body).map_err(|e| match e {
            ApiError::Status { service, method, path, status, message } => {
                ApiError::Status { service, method, path, status, message: scrub(message) }
            }
            ApiError::Network { service, method, path, detail } => {
                ApiError::Network { service, method, path, detail: scrub(detail) }
            }
            ApiError::Decode { service, method, path, detail } => {
                ApiError::Decode { service, method, path, detail: scrub(detail) }
            }
        })
    }

    /// The workflows of a pipeline (every page).
    pub fn pipeline_workflows(&self, id: &str) -> Result<Vec<Workflow>, ApiError> {
        self.all_pages(&format!("/pipeline/{}/workflow", percent_encode(id)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::fake::{FakeServer, Reply};

    fn client(url: &str) -> CircleCi {
        CircleCi::new(
            &CircleCiSettings { api_url: url.into(), token: Secret::new("cc-token") },
            None,
            RetryPolicy::default(),
        )
        .unwrap()
    }

    #[test]
    fn workflow_jobs_follow_page_tokens_and_send_the_token_header() {
        let server = FakeServer::start(vec![
            Reply::json(
                200,
                r#"{"items":[{"id":"a","name":"build","type":"build","status":"success","job_number":7,"dependencies":[],"project_slug":"gh/o/r","started_at":null}],"next_page_token":"n2"}"#,
            ),
            Reply::json(
                200,
                r#"{"items":[{"id":"b","name":"hold","type":"approval","status":"on_hold","approval_request_id":"b","dependencies":["a"],"project_slug":"gh/o/r","started_at":null}],"next_page_token":null}"#,
            ),
        ]);
        let jobs = client(&server.url()).workflow_jobs("wf-1").unwrap();
        assert_eq!(jobs.len(), 2);
        assert_eq!(jobs[0].job_number, Some(7));
        assert_eq!(jobs[1].approval_request_id.as_deref(), Some("b"));
        let reqs = server.requests();
        assert_eq!(reqs[1].url, "/workflow/wf-1/job?page-token=n2");
        assert_eq!(reqs[0].header("circle-token"), Some("cc-token"));
    }
}
