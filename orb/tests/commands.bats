#!/usr/bin/env bats
# The orb's commands, run from the packed orb as CircleCI would run them (in
# busybox sh), against `changegate stand-ins`: the whole process of one deploy
# without a bot (without_bot=true) and with one (the bot's policy published,
# its public key in the job, its reconcile resuming the hold), and the
# handling of credentials.

load helpers

JIRA_SECRET=ci-token
CI_SECRET=""

setup_file() {
  pack_orb
  local bin
  bin=$(changegate_bin)
  mkdir -p "$BATS_FILE_TMPDIR/bin"
  ln -sf "$bin" "$BATS_FILE_TMPDIR/bin/changegate"
  # The plan tool: renders the "binary plan" (see stand-in-terraform).
  ln -sf "$BATS_TEST_DIRNAME/stand-in-terraform" "$BATS_FILE_TMPDIR/bin/terraform"
  "$bin" stand-ins --listen 127.0.0.1:0 --write-config "$BATS_FILE_TMPDIR/changegate.toml" \
    >"$BATS_FILE_TMPDIR/stand-ins.env" 2>"$BATS_FILE_TMPDIR/stand-ins.log" &
  echo $! >"$BATS_FILE_TMPDIR/stand-ins.pid"
  for _ in $(seq 100); do
    grep -q '^GITHUB_API_URL=' "$BATS_FILE_TMPDIR/stand-ins.env" && break
    sleep 0.1
  done
  grep -q '^GITHUB_API_URL=' "$BATS_FILE_TMPDIR/stand-ins.env" ||
    fail_setup "changegate stand-ins did not start: $(cat "$BATS_FILE_TMPDIR/stand-ins.log")"
}

teardown_file() {
  kill "$(cat "$BATS_FILE_TMPDIR/stand-ins.pid")" 2>/dev/null || true
}

setup() {
  export PATH=$BATS_FILE_TMPDIR/bin:/usr/bin:/bin
  JIRA_BASE_URL=$(sed -n 's/^JIRA_BASE_URL=//p' "$BATS_FILE_TMPDIR/stand-ins.env")
  CIRCLECI_API_URL=$(sed -n 's/^CIRCLECI_API_URL=//p' "$BATS_FILE_TMPDIR/stand-ins.env")
  CI_SECRET=$(sed -n 's/.*CIRCLE_TOKEN=\([^;]*\);.*/\1/p' "$BATS_FILE_TMPDIR/stand-ins.env")
  export JIRA_BASE_URL CIRCLECI_API_URL
  export JIRA_USER_EMAIL=ci@acme.test JIRA_API_TOKEN=$JIRA_SECRET CIRCLE_TOKEN=$CI_SECRET
  export CHANGEGATE_HTTP_TIMEOUT=2 CHANGEGATE_HTTP_ATTEMPTS=2 CHANGEGATE_HTTP_MAX_WAIT=1
  cd "$BATS_TEST_TMPDIR" || return 1
  cp "$BATS_FILE_TMPDIR/changegate.toml" changegate.toml
  ORB=$BATS_FILE_TMPDIR/orb.yml
}

# control POST PATH JSON: the stand-ins' control API.
control() {
  curl -fsS -X "$1" -H 'Content-Type: application/json' --data "$3" "${JIRA_BASE_URL%/}$2"
}

# A deploy workflow in the CircleCI stand-in for commit $1; exports the
# job variables CircleCI would set.
new_pipeline() {
  local out
  out=$(control POST /_standin/circleci/pipelines "{\"project_slug\": \"gh/acme/web\", \"branch\": \"main\", \"revision\": \"$1\", \"workflow\": \"deploy-prod\", \"jobs\": [
    {\"name\": \"build\"}, {\"name\": \"cg/request_change\", \"requires\": [\"build\"]},
    {\"name\": \"hold_change\", \"type\": \"approval\", \"requires\": [\"cg/request_change\"]},
    {\"name\": \"plan\", \"requires\": [\"hold_change\"]},
    {\"name\": \"hold_plan_review\", \"type\": \"approval\", \"requires\": [\"plan\"]},
    {\"name\": \"apply\", \"requires\": [\"hold_plan_review\"]},
    {\"name\": \"cg/close_change\", \"requires\": [\"apply\"], \"status\": \"running\"}]}")
  PIPELINE_ID=$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pipeline_id"])')
  PIPELINE_NUMBER=$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pipeline_number"])')
  CIRCLE_WORKFLOW_ID=$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["workflow_id"])')
  export PIPELINE_ID PIPELINE_NUMBER CIRCLE_WORKFLOW_ID CIRCLE_SHA1=$1 CIRCLE_BRANCH=main
  export CIRCLE_BUILD_URL=https://app.circleci.com/jobs/1 CIRCLE_USERNAME=dev-dana
}

# jira_as EMAIL TOKEN METHOD PATH [JSON]: a Jira call as a person.
jira_as() {
  curl -fsS -u "$1:$2" -X "$3" -H 'Content-Type: application/json' ${5:+--data "$5"} "${JIRA_BASE_URL%/}/rest/api/3$4"
}

approve() {
  jira_as alice@acme.test alice-token POST "/issue/$1/transitions" '{"transition": {"id": "31"}}'
}

issue_status() {
  jira_as alice@acme.test alice-token GET "/issue/$1?fields=status" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["fields"]["status"]["name"])'
}

job_status() {
  control GET /_standin/circleci "" | python3 -c '
import json, sys
d = json.load(sys.stdin)
wf = next(w for w in d["workflows"] if w["id"] == sys.argv[1])
print(next(j["status"] for j in wf["jobs"] if j["name"] == sys.argv[2]))' "$CIRCLE_WORKFLOW_ID" "$1"
}

# cg COMMAND name=value...: an orb command without a bot (the tests below
# that run one with a bot call run_orb_command directly).
cg() {
  local c=$1
  shift
  case "$c" in
    request_change | validate_change | plan_gate | analyze | resume_when_approved)
      run_orb_command "$ORB" "$c" without_bot=true "$@" ;;
    *) run_orb_command "$ORB" "$c" "$@" ;;
  esac
}

request() {
  cg request_change environment=production build_job=build hold_job=hold_change \
    "pipeline_id=$PIPELINE_ID" "pipeline_number=$PIPELINE_NUMBER" \
    "justification=Ship the checkout fix" "rollback_plan=Redeploy the previous build" "$@"
}

@test "a deploy from request to close through the orb's commands, without a bot" {
  new_pipeline "$(printf '%040d' 1)"
  run request
  echo "$output"
  [ "$status" -eq 0 ]
  [ -f changegate.json ]
  key=$(python3 -c 'import json; print(json.load(open("changegate.json"))["ticket"])')
  [ "$(issue_status "$key")" = Open ]
  [ "$(job_status hold_change)" = on_hold ]

  # Not approved: validate refuses, and the wait beside the hold ends unresumed.
  run cg validate_change environment=production
  [ "$status" -eq 1 ]
  run cg resume_when_approved hold_job=hold_change timeout=2s interval=1s
  echo "$output"
  [ "$status" -eq 1 ]
  [ "$(job_status hold_change)" = on_hold ]

  approve "$key"
  run cg resume_when_approved hold_job=hold_change timeout=10s interval=1s
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$(job_status hold_change)" = success ]
  run cg validate_change environment=production
  [ "$status" -eq 0 ]

  # A risky plan is escalated; the plan hold waits for a second approval.
  # Its JSON is rendered from the binary plan, after init.
  base64 <"$REPO/examples/plan.json" >plan.tfplan
  run cg plan_gate plan_file=plan.tfplan hold_job=hold_plan_review
  [ "$status" -eq 2 ]
  [[ "$output" == *init* ]]
  mkdir .terraform
  run cg plan_gate plan_file=plan.tfplan hold_job=hold_plan_review json_report=reports/plan.json
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *RISKY* ]]
  [[ "$output" == *"exit 1, escalated to a person: this step passes"* ]]
  [ -s reports/plan.json ]
  [ "$(issue_status "$key")" = "Manual review" ]
  control POST /_standin/circleci/jobs "{\"workflow_id\": \"$CIRCLE_WORKFLOW_ID\", \"job\": \"plan\", \"status\": \"success\"}"
  run cg validate_change environment=production stage=apply plan_file=plan.tfplan
  [ "$status" -eq 1 ]
  approve "$key"
  run cg resume_when_approved hold_job=hold_plan_review stack=default timeout=10s interval=1s
  [ "$status" -eq 0 ]
  [ "$(job_status hold_plan_review)" = success ]
  run cg validate_change environment=production stage=apply plan_file=plan.tfplan
  echo "$output"
  [ "$status" -eq 0 ]
  # Another plan than the reviewed one is refused.
  printf '{"format_version": "1.2", "planned_values": {}}' | base64 >plan.tfplan
  run cg validate_change environment=production stage=apply plan_file=plan.tfplan
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *plan_file_mismatch* ]]

  control POST /_standin/circleci/jobs "{\"workflow_id\": \"$CIRCLE_WORKFLOW_ID\", \"job\": \"apply\", \"status\": \"success\"}"
  run cg close_change deploy_job=apply
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$(issue_status "$key")" = Done ]
}

@test "a plan gate without a hold fails on risk when asked, and never passes a plan it cannot record" {
  new_pipeline "$(printf '%040d' 2)"
  run request
  [ "$status" -eq 0 ]
  base64 <"$REPO/examples/plan.json" >plan.tfplan
  mkdir .terraform
  run cg plan_gate plan_file=plan.tfplan fail_on_escalation=true
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *RISKY* ]]
  [[ "$output" != *"this step passes"* ]]
  # The older name does the same.
  run cg plan_gate plan_file=plan.tfplan fail_on_risk=true
  [ "$status" -eq 1 ]

  # No ticket bound to the pipeline of a controlled environment: exit 2,
  # which no default lets through.
  new_pipeline "$(printf '%040d' 12)"
  rm changegate.json
  run cg plan_gate plan_file=plan.tfplan environment=production
  echo "$output"
  [ "$status" -eq 2 ]
  [[ "$output" == *"no change ticket is bound to this pipeline"* ]]
}

@test "secrets come through env_var_name parameters and never appear in the output" {
  new_pipeline "$(printf '%040d' 3)"
  unset JIRA_API_TOKEN
  export TEAM_JIRA_TOKEN=$JIRA_SECRET
  run request jira_api_token=TEAM_JIRA_TOKEN
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" != *"$JIRA_SECRET"* ]]
  [[ "$output" != *"$CI_SECRET"* ]]

  # A missing secret stops the step with its name, not a value.
  unset TEAM_JIRA_TOKEN
  run request jira_api_token=TEAM_JIRA_TOKEN
  [ "$status" -eq 2 ]
  [[ "$output" == *"TEAM_JIRA_TOKEN is not set"* ]]

  # A name that is not a variable name is refused before anything runs.
  run request 'jira_api_token=X;echo pwned'
  [ "$status" -eq 2 ]
  [[ "$output" == *"'X;echo pwned' is not an environment variable name"* ]]
  ! printf '%s\n' "$output" | grep -qx pwned
}

@test "parameter values with spaces and shell characters reach changegate intact" {
  new_pipeline "$(printf '%040d' 4)"
  run request 'justification=Fix "quotes"; $(not run) & `not run` *' 'summary=Deploy web; rm -rf /'
  echo "$output"
  [ "$status" -eq 0 ]
  key=$(python3 -c 'import json; print(json.load(open("changegate.json"))["ticket"])')
  run jira_as alice@acme.test alice-token GET "/issue/$key?fields=summary"
  [[ "$output" == *'Deploy web; rm -rf /'* ]]
}

@test "commands fail closed when changegate is missing" {
  new_pipeline "$(printf '%040d' 5)"
  export PATH=/usr/bin:/bin HOME=$BATS_TEST_TMPDIR
  run cg validate_change environment=production
  [ "$status" -eq 2 ]
  [[ "$output" == *"run the install command first"* ]]
}

@test "analyze posts the analysis and never approves the ticket" {
  new_pipeline "$(printf '%040d' 6)"
  run request
  [ "$status" -eq 0 ]
  key=$(python3 -c 'import json; print(json.load(open("changegate.json"))["ticket"])')
  GITHUB_API_URL=$(sed -n 's/^GITHUB_API_URL=//p' "$BATS_FILE_TMPDIR/stand-ins.env")
  export GITHUB_API_URL GITHUB_TOKEN=$(sed -n 's/.*GITHUB_TOKEN=\([^;]*\)$/\1/p' "$BATS_FILE_TMPDIR/stand-ins.env")
  export ORB_TEST_STORED=$BATS_TEST_TMPDIR/stored.jsonl
  run cg analyze evidence_file=reports/evidence.json
  echo "$output"
  [ "$status" -eq 0 ]
  [ -s reports/evidence.json ]
  [ "$(issue_status "$key")" != Approved ]
  # The analysis as test results (a failure: a person must approve) and as
  # markdown and HTML artifacts.
  read -r tests failures errors <<<"$(junit_counts changegate-reports/analysis/junit/analysis.xml)"
  [ "$failures" -ge 1 ]
  [ "$(stored_files store_artifacts changegate-reports/analysis | tr '\n' ' ')" = "analysis.html analysis.md junit/analysis.xml " ]
  grep -q "/browse/$key" changegate-reports/analysis/analysis.html
  # A first deploy without scans needs a person: changegate exits 1, and
  # the step passes on it unless asked to fail.
  [[ "$output" == *"exit 1, escalated to a person: this step passes"* ]]
  run cg analyze fail_on_escalation=true
  echo "$output"
  [ "$status" -eq 1 ]
  [ "$(issue_status "$key")" != Approved ]
}

@test "an emergency through the orb: asked for by the job, granted only by break-glass in Jira" {
  new_pipeline "$(printf '%040d' 7)"
  run request "emergency_reason=Checkout is down; see INC-4411 & \$HOME"
  echo "$output"
  [ "$status" -eq 0 ]
  key=$(python3 -c 'import json; print(json.load(open("changegate.json"))["ticket"])')
  jira_as alice@acme.test alice-token GET "/issue/$key?fields=labels" | grep -q changegate-emergency
  run cg validate_change environment=production
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *emergency_not_granted* ]]
  # An approver outside the group is refused the transition by Jira.
  run jira_as alice@acme.test alice-token POST "/issue/$key/transitions" '{"transition": {"id": "32"}}'
  [ "$status" -ne 0 ]
  jira_as carol@acme.test carol-token POST "/issue/$key/transitions" '{"transition": {"id": "32"}}'
  run cg validate_change environment=production
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"is an EMERGENCY change approved by 712020:carol"* ]]
  [[ "$output" == *"retrospective: PRODCM-"* ]]
  jira_as alice@acme.test alice-token GET "/issue/$key/comment" | grep -q 'Checkout is down; see INC-4411 & $HOME'
}

# bot_reconcile: one pass of the bot (its Jira user, its key, GitHub at the
# stand-ins), as `changegate serve` runs it.
bot_reconcile() {
  local github
  github=$(sed -n 's/^GITHUB_API_URL=//p' "$BATS_FILE_TMPDIR/stand-ins.env")
  env JIRA_USER_EMAIL=bot@acme.test JIRA_API_TOKEN=bot-token CHANGEGATE_RECEIPT_KEY="$BOT_KEY" CIRCLE_TOKEN=bot-circle-token \
    GITHUB_API_URL="$github" GITHUB_TOKEN=gh-token changegate reconcile --hold-wait 2
}

@test "a deploy through the orb's commands with the bot: its signed policy, its analysis, its receipt" {
  new_pipeline "$(printf '%040d' 8)"
  keys=$(changegate keys generate)
  BOT_KEY=$(printf '%s\n' "$keys" | sed -n 's/^CHANGEGATE_RECEIPT_KEY=//p')
  pubkey=$(printf '%s\n' "$keys" | sed -n 's/^CHANGEGATE_RECEIPT_PUBKEY=//p')
  # The bot starts: it publishes its signed policy.
  run bot_reconcile
  echo "$output"
  [[ "$output" == *"published the policy"* ]]

  # A job without the bot's public key decides nothing.
  run run_orb_command "$ORB" request_change environment=production build_job=build hold_job=hold_change \
    "pipeline_id=$PIPELINE_ID" "pipeline_number=$PIPELINE_NUMBER" justification=j rollback_plan=r
  echo "$output"
  [ "$status" -eq 2 ]
  [[ "$output" == *"CHANGEGATE_RECEIPT_PUBKEY is not set"* ]]
  [ ! -f changegate.json ]

  # With it, whatever the checkout's changegate.toml says may only tighten
  # the bot's policy: one that turns the gate off is refused, by name.
  export CHANGEGATE_RECEIPT_PUBKEY=$pubkey
  cp changegate.toml bot.toml
  { printf 'controlled_environments = []\n'; cat bot.toml; } >changegate.toml
  run run_orb_command "$ORB" request_change environment=Production build_job=build hold_job=hold_change \
    "pipeline_id=$PIPELINE_ID" "pipeline_number=$PIPELINE_NUMBER" justification=j rollback_plan=r
  echo "$output"
  [ "$status" -eq 2 ]
  [[ "$output" == *"controlled_environments: leaves out production"* ]]
  cp bot.toml changegate.toml

  run run_orb_command "$ORB" request_change environment=Production build_job=build hold_job=hold_change \
    "pipeline_id=$PIPELINE_ID" "pipeline_number=$PIPELINE_NUMBER" justification=j rollback_plan=r
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"policy: the changegate bot's"* ]]
  key=$(python3 -c 'import json; print(json.load(open("changegate.json"))["ticket"])')
  control POST /_standin/circleci/jobs "{\"workflow_id\": \"$CIRCLE_WORKFLOW_ID\", \"job\": \"cg/request_change\", \"status\": \"success\"}"

  # The bot analyses it, a person approves; only the bot's receipt lets the
  # deploy through.
  run bot_reconcile
  approve "$key"
  run run_orb_command "$ORB" validate_change environment=production
  [ "$status" -eq 1 ]
  [[ "$output" == *receipt_missing* ]]
  run bot_reconcile
  echo "$output"
  [ "$(job_status hold_change)" = success ]
  run run_orb_command "$ORB" validate_change environment=production
  echo "$output"
  [ "$status" -eq 0 ]
}

# drift_plan FILE DRIFT_JSON: a refresh-only plan whose resource_drift is DRIFT_JSON.
drift_plan() {
  printf '{"format_version":"1.2","terraform_version":"1.9.8","planned_values":{},"resource_changes":[],"resource_drift":%s}' "$2" >"$1"
}

@test "the drift check opens the stream's drift ticket, stores its reports and closes it when the drift is gone" {
  drift_plan drift.json '[{"address":"aws_security_group.web","mode":"managed","type":"aws_security_group","name":"web","change":{"actions":["update"],"before":{"ingress":[{"cidr_blocks":["10.0.0.0/8"],"from_port":22,"to_port":22,"protocol":"tcp"}]},"after":{"ingress":[{"cidr_blocks":["0.0.0.0/0"],"from_port":22,"to_port":22,"protocol":"tcp"}]}}}]'
  export STANDIN_PLAN_JSON=$PWD/drift.json
  # The drift check's own Jira account, from its restricted context: only its closes settle drift.
  export JIRA_USER_EMAIL=drift@acme.test JIRA_API_TOKEN=drift-token
  run cg drift_check environment=production stack=network reports_dir=reports
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"opened drift ticket"* ]]
  grep -q 'aws_security_group.web' reports/drift-network/drift.md
  python3 -c 'import json; r = json.load(open("reports/drift-network/drift.json")); assert r["drifted"] and r["resources"][0]["severity"] == "high", r'
  [ "$(junit_counts reports/drift-network/junit/drift.xml)" = "1 1 0" ]
  python3 -c 'import json; d = json.load(open("reports/drift-network/drift.sarif")); assert d["runs"][0]["results"][0]["level"] == "error", d'
  key=$(printf '%s\n' "$output" | sed -n 's/.*opened drift ticket \([A-Z]*-[0-9]*\).*/\1/p')
  [ "$(issue_status "$key")" = Open ]

  drift_plan drift.json '[]'
  run cg drift_check environment=production stack=network reports_dir=reports
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"closed drift ticket $key: no drift"* ]]
  [ "$(issue_status "$key")" = Cancelled ]
}

@test "reports are written and stored whatever the outcome: JUnit for the Tests tab, markdown and HTML as artifacts" {
  new_pipeline "$(printf '%040d' 9)"
  run request
  [ "$status" -eq 0 ]
  export ORB_TEST_STORED=$BATS_TEST_TMPDIR/stored.jsonl
  # Not approved: the step fails, and its JUnit file is stored all the same.
  run cg validate_change environment=production
  echo "$output"
  [ "$status" -eq 1 ]
  [ "$(stored_files store_test_results changegate-reports/validate-auto-default/junit)" = validate.xml ]
  [ "$(junit_counts changegate-reports/validate-auto-default/junit/validate.xml)" = "6 1 0" ]

  # The plan gate: a case per change judged, a failure per risky one; the
  # markdown and HTML reports as artifacts.
  base64 <"$REPO/examples/plan.json" >plan.tfplan
  mkdir .terraform
  run cg plan_gate plan_file=plan.tfplan hold_job=hold_plan_review stack=network
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$(junit_counts changegate-reports/plan-network/junit/plan-check.xml)" = "7 4 0" ]
  [ "$(stored_files store_artifacts changegate-reports/plan-network | tr '\n' ' ')" = "junit/plan-check.xml plan.html plan.md " ]
  grep -q '"destination": "changegate/plan-network"' "$ORB_TEST_STORED"
  grep -q 'aws_iam_role.deploy' changegate-reports/plan-network/plan.html
  ! grep -Eq '<script|<link|src=|url\(|@import' changegate-reports/plan-network/plan.html

  # No reports directory: nothing written, nothing stored.
  rm -rf "$ORB_TEST_STORED" changegate-reports
  run cg validate_change environment=production reports_dir=
  [ "$status" -eq 1 ]
  [ ! -e "$ORB_TEST_STORED" ]
  [ ! -e changegate-reports ]
}

@test "the monthly inspection posts on its period's ticket and stores its reports" {
  GITHUB_API_URL=$(sed -n 's/^GITHUB_API_URL=//p' "$BATS_FILE_TMPDIR/stand-ins.env")
  export GITHUB_API_URL GITHUB_TOKEN=$(sed -n 's/.*GITHUB_TOKEN=\([^;]*\)$/\1/p' "$BATS_FILE_TMPDIR/stand-ins.env")
  export ORB_TEST_STORED=$BATS_TEST_TMPDIR/stored.jsonl
  run cg audit sample=2 seed=7 period=2026-11
  echo "$output"
  # Exit 1 on findings, 0 without: the test results say which, either way.
  [ "$status" -le 1 ]
  read -r tests failures errors <<<"$(junit_counts changegate-reports/audit/junit/audit.xml)"
  [ "$tests" -ge 1 ]
  [ "$errors" -eq 0 ]
  if [ "$status" -eq 1 ]; then [ "$failures" -ge 1 ]; else [ "$failures" -eq 0 ]; fi
  [ "$(stored_files store_artifacts changegate-reports/audit | tr '\n' ' ')" = "audit.json audit.md junit/audit.xml " ]
  key=$(python3 -c 'import json; print(json.load(open("changegate-reports/audit/audit.json"))["recorded_on"])')
  jira_as alice@acme.test alice-token GET "/issue/$key?fields=labels,summary" | grep -q changegate-audit-2026-11
  grep -q "Posted on $key." changegate-reports/audit/audit.md
  [[ "$output" != *"$JIRA_SECRET"* ]]

  # Run again (a retried job): the same ticket, nothing posted twice.
  comments=$(jira_as alice@acme.test alice-token GET "/issue/$key/comment" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
  run cg audit sample=2 seed=7 period=2026-11
  [ "$status" -le 1 ]
  [ "$(python3 -c 'import json; print(json.load(open("changegate-reports/audit/audit.json"))["recorded_on"])')" = "$key" ]
  [ "$(jira_as alice@acme.test alice-token GET "/issue/$key/comment" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')" = "$comments" ]
}
