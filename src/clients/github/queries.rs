//! The GraphQL queries changegate sends. Each batches many objects with
//! aliases (`c0: object(oid: ...)`, `p0: pullRequest(number: ...)`), so
//! the request count follows the number of batches, not of commits. Every
//! query built here is validated against GitHub's published schema in the
//! tests.
//!
//! Batch sizes, against GitHub's limits (a connection's `first` is at most
//! 100; one query asks for at most 500,000 nodes, counted as the product of
//! the `first` arguments down each path of connections):
//!
//! - a landing asks for `associatedPullRequests(first: 10)`: 10 nodes, so
//!   [`LANDINGS_PER_QUERY`] landings are 2,500 nodes (the repository's own
//!   fields folded into the first batch add no connection);
//! - a pull request asks for `files(first: 100)`, `commits(first: 100)`
//!   with `parents(first: 3)` under each commit, `reviews(first: 100)` and
//!   `timelineItems(first: 100)`: 100 + 100 + 100 × 3 + 100 + 100 = 700
//!   nodes, so [`PULLS_PER_QUERY`] pull requests are 70,000 nodes, a seventh
//!   of the limit. The node limit alone would allow 714; the batch stays
//!   at 100 because GitHub stops a query that runs longer than 10 seconds,
//!   and its cost against the hourly budget (about one point per 100
//!   connections read: 1 + 1 + 100 + 1 + 1 per pull request, 104 points a
//!   batch) is the same however the pull requests are batched.

/// Commits per landing query.
pub(crate) const LANDINGS_PER_QUERY: usize = 250;
/// The most pull requests per detail query; [`pull_batches`] splits a list
/// into the fewest batches of even size.
pub(crate) const PULLS_PER_QUERY: usize = 100;
/// Blobs per content query.
pub(crate) const BLOBS_PER_QUERY: usize = 50;

/// True for a full or abbreviated hex object id (safe to inline).
pub(crate) fn is_oid(s: &str) -> bool {
    (4..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The pull requests associated with each commit in `oids`.
pub(crate) fn landings(oids: &[&str]) -> String {
    let mut q =
        String::from("query Landings($owner: String!, $name: String!) {\n  repository(owner: $owner, name: $name) {\n");
    q.push_str(&landing_fields(oids));
    q.push_str("  }\n}\n");
    q.push_str(LANDING_FRAGMENT);
    q
}

const LANDING_FRAGMENT: &str = "fragment Landing on Commit {
  oid
  associatedPullRequests(first: 10) {
    nodes { number merged mergedAt baseRefName headRefOid mergeCommit { oid } baseRepository { nameWithOwner } }
  }
}
";

/// `c0: object(oid: ...) { ...Landing }`, one line per commit.
fn landing_fields(oids: &[&str]) -> String {
    let mut q = String::new();
    for (i, oid) in oids.iter().enumerate() {
        assert!(is_oid(oid), "not an object id: {oid}");
        q.push_str(&format!("    c{i}: object(oid: \"{oid}\") {{ ...Landing }}\n"));
    }
    q
}

/// `numbers` in the fewest batches of at most [`PULLS_PER_QUERY`], of even
/// size (120 pull requests: two of 60), so a pair of queries run at once
/// take about as long as each other.
pub(crate) fn pull_batches(numbers: &[u64]) -> Vec<&[u64]> {
    if numbers.is_empty() {
        return Vec::new();
    }
    let batches = numbers.len().div_ceil(PULLS_PER_QUERY);
    numbers.chunks(numbers.len().div_ceil(batches)).collect()
}

const PULL_FRAGMENT: &str = "fragment Pull on PullRequest {
  number
  merged
  mergedAt
  baseRefName
  baseRepository { nameWithOwner }
  headRefOid
  mergeCommit { oid }
  author { __typename login ... on User { databaseId } ... on Bot { databaseId } }
  files(first: 100) { totalCount pageInfo { hasNextPage } nodes { path changeType } }
  commits(first: 100) { ...PullCommits }
  reviews(first: 100) { ...Reviews }
  timelineItems(first: 100, itemTypes: [HEAD_REF_FORCE_PUSHED_EVENT, REVIEW_DISMISSED_EVENT, BASE_REF_CHANGED_EVENT, MERGED_EVENT]) { ...Timeline }
}
";

const COMMITS_FRAGMENT: &str = "fragment PullCommits on PullRequestCommitConnection {
  totalCount
  pageInfo { hasNextPage endCursor }
  nodes { commit { oid parents(first: 3) { nodes { oid tree { oid } } } tree { oid } committedViaWeb changedFilesIfAvailable signature { isValid wasSignedByGitHub } author { user { databaseId login } } committer { user { databaseId login } } } }
}
";

const REVIEWS_FRAGMENT: &str = "fragment Reviews on PullRequestReviewConnection {
  totalCount
  pageInfo { hasNextPage endCursor }
  nodes { fullDatabaseId state submittedAt authorCanPushToRepository commit { oid } author { __typename login ... on User { databaseId } ... on Bot { databaseId } } }
}
";

const TIMELINE_FRAGMENT: &str = "fragment Timeline on PullRequestTimelineItemsConnection {
  pageInfo { hasNextPage endCursor }
  nodes {
    __typename
    ... on HeadRefForcePushedEvent { createdAt actor { __typename login ... on User { databaseId } } beforeCommit { oid } afterCommit { oid } }
    ... on ReviewDismissedEvent { createdAt previousReviewState review { fullDatabaseId } actor { __typename login ... on User { databaseId } } }
    ... on BaseRefChangedEvent { createdAt previousRefName currentRefName }
    ... on MergedEvent { createdAt commit { oid } mergeRefName actor { __typename login ... on User { databaseId } } }
  }
}
";

/// The details of each pull request in `numbers`.
pub(crate) fn pulls(numbers: &[u64]) -> String {
    let mut q =
        String::from("query Pulls($owner: String!, $name: String!) {\n  repository(owner: $owner, name: $name) {\n");
    for (i, n) in numbers.iter().enumerate() {
        q.push_str(&format!("    p{i}: pullRequest(number: {n}) {{ ...Pull }}\n"));
    }
    q.push_str("  }\n}\n");
    for f in [PULL_FRAGMENT, COMMITS_FRAGMENT, REVIEWS_FRAGMENT, TIMELINE_FRAGMENT] {
        q.push_str(f);
    }
    q
}

/// Which connection of a pull request to page through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Connection {
    /// `commits`.
    Commits,
    /// `reviews`.
    Reviews,
    /// `timelineItems`.
    Timeline,
}

/// The next page of one connection of one pull request.
pub(crate) fn pull_page(number: u64, connection: Connection) -> String {
    let (field, fragment) = match connection {
        Connection::Commits => ("commits(first: 100, after: $after) { ...PullCommits }", COMMITS_FRAGMENT),
        Connection::Reviews => ("reviews(first: 100, after: $after) { ...Reviews }", REVIEWS_FRAGMENT),
        Connection::Timeline => (
            "timelineItems(first: 100, after: $after, itemTypes: [HEAD_REF_FORCE_PUSHED_EVENT, REVIEW_DISMISSED_EVENT, BASE_REF_CHANGED_EVENT, MERGED_EVENT]) { ...Timeline }",
            TIMELINE_FRAGMENT,
        ),
    };
    format!(
        "query PullPage($owner: String!, $name: String!, $after: String!) {{\n  repository(owner: $owner, name: $name) {{\n    pullRequest(number: {number}) {{ {field} }}\n  }}\n}}\n{fragment}"
    )
}

/// The repository's default branch, the text of files at commits
/// (`expressions` are `SHA:path`, answered as `b0`, `b1`, ...), the
/// entries of folders at commits (`trees`, answered as `t0`, `t1`, ...)
/// and the pull requests associated with the commits `landings` (answered
/// as `c0`, `c1`, ..., as in [`landings`]), in one query.
pub(crate) fn repository(expressions: &[(String, String)], trees: &[(String, String)], landings: &[&str]) -> String {
    let mut head = "    defaultBranchRef { name }\n".to_owned();
    head.push_str(&landing_fields(landings));
    for (i, (oid, path)) in trees.iter().enumerate() {
        assert!(is_oid(oid), "not an object id: {oid}");
        let expr = serde_json::to_string(&format!("{oid}:{path}")).expect("a string");
        head.push_str(&format!(
            "    t{i}: object(expression: {expr}) {{ ... on Tree {{ oid entries {{ name type oid }} }} }}\n"
        ));
    }
    let mut q = blob_query("Repository", &head, expressions);
    if !landings.is_empty() {
        q.push_str(LANDING_FRAGMENT);
    }
    q
}

/// The text of files at commits: `expressions` are `SHA:path`.
pub(crate) fn blobs(expressions: &[(String, String)]) -> String {
    blob_query("Blobs", "", expressions)
}

fn blob_query(name: &str, head: &str, expressions: &[(String, String)]) -> String {
    let mut q = format!(
        "query {name}($owner: String!, $name: String!) {{\n  repository(owner: $owner, name: $name) {{\n{head}"
    );
    for (i, (oid, path)) in expressions.iter().enumerate() {
        assert!(is_oid(oid), "not an object id: {oid}");
        let expr = serde_json::to_string(&format!("{oid}:{path}")).expect("a string");
        q.push_str(&format!(
            "    b{i}: object(expression: {expr}) {{ ... on Blob {{ oid byteSize isBinary isTruncated text }} }}\n"
        ));
    }
    q.push_str("  }\n}\n");
    q
}

/// Every query shape, for schema validation in the tests.
pub fn all_for_validation() -> Vec<(&'static str, String)> {
    let oid = "0123456789abcdef0123456789abcdef01234567";
    vec![
        ("landings", landings(&[oid, oid])),
        (
            "repository",
            repository(
                &[(oid.to_owned(), "changegate.toml".to_owned())],
                &[(oid.to_owned(), ".circleci".to_owned())],
                &[],
            ),
        ),
        (
            "repository with landings",
            repository(
                &[(oid.to_owned(), "changegate.toml".to_owned())],
                &[(oid.to_owned(), ".circleci".to_owned())],
                &[oid, oid],
            ),
        ),
        ("pulls", pulls(&[1, 2])),
        ("pull_page commits", pull_page(1, Connection::Commits)),
        ("pull_page reviews", pull_page(1, Connection::Reviews)),
        ("pull_page timeline", pull_page(1, Connection::Timeline)),
        (
            "blobs",
            blobs(&[(oid.to_owned(), "package.json".to_owned()), (oid.to_owned(), "dir/\"odd\" name.toml".to_owned())]),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_ids_are_checked_before_they_are_inlined() {
        assert!(is_oid("0123abcd"));
        assert!(!is_oid("0123abcd\") { x }"));
        assert!(std::panic::catch_unwind(|| landings(&["not-an-oid"])).is_err());
        assert!(std::panic::catch_unwind(|| repository(&[], &[], &["not-an-oid"])).is_err());
    }

    #[test]
    fn pull_requests_are_batched_evenly() {
        let sizes = |n: u64| pull_batches(&(1..=n).collect::<Vec<_>>()).iter().map(|b| b.len()).collect::<Vec<_>>();
        assert_eq!(sizes(0), Vec::<usize>::new());
        assert_eq!(sizes(25), [25]);
        assert_eq!(sizes(100), [100]);
        assert_eq!(sizes(120), [60, 60]);
        assert_eq!(sizes(201), [67, 67, 67]);
    }

    #[test]
    fn paths_are_escaped_as_graphql_strings() {
        let q = blobs(&[("abcd".into(), "a\"b\\c".into())]);
        assert!(q.contains(r#"object(expression: "abcd:a\"b\\c")"#), "{q}");
    }
}
