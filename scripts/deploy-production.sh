#!/usr/bin/env bash
# Release NewsTalk to AWS: checks, tests and scans, Terraform, image to ECR, migration Job, rollout,
# post-deploy checklist, and a rollback of the Deployments when a step after the rollout began fails.
#
#   scripts/deploy-production.sh [--environment staging|production] [--dry-run]
#                                [--skip-infrastructure] [--submit-to-stores]
#
# --dry-run             print every step with its command, run the offline checks, change nothing
# --skip-infrastructure no terraform plan/apply (its outputs are still read)
# --submit-to-stores    also eas build + eas submit the mobile app (production-ios, production-android)
#
# Environment: DB_PASSWORD, REDIS_AUTH_TOKEN, JWT_SECRET_KEY (required); GRAFANA_ADMIN_PASSWORD
# (required when Terraform runs); OPENAI_API_KEY, CLOUDFLARE_API_TOKEN (optional); API_CERTIFICATE_ARN
# (the ACM certificate of api.DOMAIN for the Ingress; required) and NEWSTALK_DOMAIN; with
# --submit-to-stores also EAS_PROJECT_ID (not the all-zero placeholder) and EXPO_TOKEN. Values are never
# printed; Terraform gets them as TF_VAR_* variables. AWS credentials come from the usual AWS
# environment or profile. NEWSTALK_DEPLOY_TEST_CMD, _SCAN_CMD, _CHECK_CMD and _CHECKLIST_CMD replace
# the test suite, the vulnerability scans, the offline checks and the checklist (default
# scripts/test, scripts/scan-vulnerabilities, scripts/check-deploy, scripts/production-checklist.sh;
# the script's own tests use them). docs/deploy.md has the rest.
set -euo pipefail
cd "$(dirname "$0")/.."

environment=production
dry_run=false
skip_infra=false
submit=false
usage() { sed -n '4,11p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case $1 in
    --environment) environment=${2:-}; shift 2 ;;
    --environment=*) environment=${1#*=}; shift ;;
    --dry-run) dry_run=true; shift ;;
    --skip-infrastructure) skip_infra=true; shift ;;
    --submit-to-stores) submit=true; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "deploy: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done
case $environment in
  production) namespace=newstalk-ai-prod; domain=newstalk.example.com ;;
  staging) namespace=newstalk-ai-staging; domain=staging.newstalk.example.com ;;
  *) echo "deploy: --environment must be staging or production, not '$environment'" >&2; exit 2 ;;
esac
domain=${NEWSTALK_DOMAIN:-$domain}
region=${AWS_REGION:-ap-northeast-2}
tf_dir=deploy/terraform/envs/$environment
overlay=deploy/k8s/overlays/$environment
mobile_dir=${MOBILE_DIR:-apps/mobile}
test_cmd=${NEWSTALK_DEPLOY_TEST_CMD:-scripts/test}
check_cmd=${NEWSTALK_DEPLOY_CHECK_CMD:-scripts/check-deploy}
checklist_cmd=${NEWSTALK_DEPLOY_CHECKLIST_CMD:-scripts/production-checklist.sh}
scan_cmd=${NEWSTALK_DEPLOY_SCAN_CMD:-scripts/scan-vulnerabilities}
work=$(mktemp -d)
rollout_started=false

log() { printf 'deploy: %s\n' "$*" >&2; }
die() { printf 'deploy: ERROR: %s\n' "$*" >&2; exit 1; }
step() { printf '\n== %s\n' "$*" >&2; }
# run CMD...: execute, or only print it under --dry-run. Arguments are never secrets.
run() {
  if $dry_run; then
    printf 'deploy: would run: %s\n' "$*" >&2
  else
    printf 'deploy: + %s\n' "$*" >&2
    "$@"
  fi
}

rollback() {
  local code=$?
  rm -rf "$work"
  if [ "$code" -ne 0 ] && $rollout_started && ! $dry_run; then
    log "a step failed after the rollout began: rolling the Deployments back to their previous revision"
    local deployments
    deployments=$(kubectl -n "$namespace" get deployments -l app.kubernetes.io/name=newstalk -o name || true)
    for d in $deployments; do
      kubectl -n "$namespace" rollout undo "$d" || log "rollback of $d failed"
    done
    for d in $deployments; do
      kubectl -n "$namespace" rollout status "$d" --timeout=600s || log "$d did not settle after rollback"
    done
    log "rolled back; the database stays migrated (docs/deploy.md, rollbacks)"
  fi
  exit "$code"
}
trap rollback EXIT

step "1/9 prerequisites ($environment, namespace $namespace$($dry_run && echo ', dry run'))"
missing=()
tools=(aws terraform kubectl docker)
$submit && tools+=(eas)
for tool in "${tools[@]}"; do
  if command -v "$tool" >/dev/null 2>&1; then log "found $tool"; else missing+=("$tool"); fi
done
if [ ${#missing[@]} -gt 0 ]; then
  if $dry_run; then log "WARNING: missing ${missing[*]} (a real run stops here)"; else die "missing ${missing[*]}"; fi
fi

step "2/9 environment variables (values are not shown)"
problems=()
check_secret() { # name min_length required
  local name=$1 min=$2 required=$3 value=${!1:-}
  if [ -z "$value" ]; then
    if [ "$required" = yes ]; then problems+=("$name is not set"); else log "$name: not set (optional)"; fi
  elif [ ${#value} -lt "$min" ]; then
    problems+=("$name is shorter than $min characters")
  else
    log "$name: set (${#value} characters)"
  fi
}
check_secret DB_PASSWORD 16 yes
check_secret REDIS_AUTH_TOKEN 16 yes
check_secret JWT_SECRET_KEY 32 yes
if $skip_infra; then check_secret GRAFANA_ADMIN_PASSWORD 12 no; else check_secret GRAFANA_ADMIN_PASSWORD 12 yes; fi
check_secret OPENAI_API_KEY 1 no
check_secret CLOUDFLARE_API_TOKEN 1 no
if [ -n "${DB_PASSWORD:-}" ] && [[ $DB_PASSWORD == *[/@\"\ ]* ]]; then
  problems+=("DB_PASSWORD contains a character RDS refuses (/ @ \" or space)")
fi
if [ -n "${REDIS_AUTH_TOKEN:-}" ] && { [ ${#REDIS_AUTH_TOKEN} -gt 128 ] || [[ $REDIS_AUTH_TOKEN == *[@\"/\ ]* ]]; }; then
  problems+=("REDIS_AUTH_TOKEN must be 16-128 printable characters without @ \" / or space (ElastiCache)")
fi
if [ -z "${API_CERTIFICATE_ARN:-}" ]; then problems+=("API_CERTIFICATE_ARN is not set"); fi
if $submit; then
  # The store builds carry EAS_PROJECT_ID in updates.url (apps/mobile/app.config.ts): the
  # all-zero placeholder would ship an app whose over-the-air updates go nowhere.
  uuid_re='^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
  if [ -z "${EAS_PROJECT_ID:-}" ]; then
    problems+=("--submit-to-stores: EAS_PROJECT_ID is not set (the project id 'eas init' prints; docs/mobile.md)")
  elif [[ ! $EAS_PROJECT_ID =~ $uuid_re ]]; then
    problems+=("--submit-to-stores: EAS_PROJECT_ID is not a UUID (the project id 'eas init' prints)")
  elif [[ $EAS_PROJECT_ID =~ ^[0-]+$ ]]; then
    problems+=("--submit-to-stores: EAS_PROJECT_ID is the all-zero placeholder; set the project id 'eas init' prints")
  else
    log "EAS_PROJECT_ID: set"
  fi
  if [ -z "${EXPO_TOKEN:-}" ]; then
    problems+=("--submit-to-stores: EXPO_TOKEN is not set (an expo.dev access token for eas build and eas submit)")
  else
    log "EXPO_TOKEN: set (${#EXPO_TOKEN} characters)"
  fi
fi
if [ ${#problems[@]} -gt 0 ]; then
  for p in "${problems[@]}"; do log "problem: $p"; done
  $dry_run || die "fix the environment variables above"
fi
export TF_VAR_db_password=${DB_PASSWORD:-} TF_VAR_redis_auth_token=${REDIS_AUTH_TOKEN:-}
export TF_VAR_jwt_secret=${JWT_SECRET_KEY:-} TF_VAR_grafana_admin_password=${GRAFANA_ADMIN_PASSWORD:-}

step "3/9 offline checks, tests and vulnerability scans"
# The offline checks change nothing, so they run under --dry-run too.
printf 'deploy: + %s\n' "$check_cmd" >&2
$check_cmd
run $test_cmd
run $scan_cmd

step "4/9 infrastructure (terraform in $tf_dir)"
run terraform -chdir="$tf_dir" init -input=false
if $skip_infra; then
  log "--skip-infrastructure: no plan or apply"
else
  run terraform -chdir="$tf_dir" plan -input=false -out=tfplan
  run terraform -chdir="$tf_dir" apply -input=false tfplan
fi
if $dry_run; then
  ecr=ACCOUNT.dkr.ecr.$region.amazonaws.com/newstalk-$environment/newstalk
  cluster=newstalk-$environment
  account=ACCOUNT
  waf=WAF_ARN
else
  ecr=$(terraform -chdir="$tf_dir" output -raw ecr_repository_url)
  cluster=$(terraform -chdir="$tf_dir" output -raw cluster_name)
  waf=$(terraform -chdir="$tf_dir" output -raw api_waf_arn)
  account=$(aws sts get-caller-identity --query Account --output text)
fi
log "registry $ecr, cluster $cluster"

step "5/9 image"
revision=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
tag=$ecr:$revision
run docker build --pull --build-arg "REVISION=$revision" --label "org.opencontainers.image.revision=$revision" -t "$tag" .
if $dry_run; then
  log "would run: aws ecr get-login-password --region $region | docker login --username AWS --password-stdin ${ecr%%/*}"
else
  aws ecr get-login-password --region "$region" | docker login --username AWS --password-stdin "${ecr%%/*}"
fi
run docker push "$tag"
if $dry_run; then
  image=$ecr@sha256:DIGEST
else
  image=$(docker inspect --format '{{index .RepoDigests 0}}' "$tag")
fi
log "image $image"

step "6/9 manifests ($overlay)"
run aws eks update-kubeconfig --region "$region" --name "$cluster"
kubectl kustomize "$overlay" | sed -e "s#newstalk:release#$image#g" -e "s#000000000000#$account#g" \
  -e "s#\(alb.ingress.kubernetes.io/wafv2-acl-arn: \).*#\1$waf#" \
  -e "s#\(alb.ingress.kubernetes.io/certificate-arn: \).*#\1${API_CERTIFICATE_ARN:-CERTIFICATE_ARN}#" \
  > "$work/manifests.yaml"
log "rendered $(grep -c '^kind:' "$work/manifests.yaml") resources with image $image"

step "7/9 migration (Job newstalk-migrate)"
# Unlabelled objects first (namespace, settings, secrets, accounts, policies): the Job needs them.
run kubectl apply -f "$work/manifests.yaml" -l '!app.kubernetes.io/component'
run kubectl -n "$namespace" wait --for=condition=Ready externalsecret/newstalk-secrets --timeout=300s
run kubectl -n "$namespace" delete job newstalk-migrate --ignore-not-found
run kubectl apply -f "$work/manifests.yaml" -l app.kubernetes.io/component=migrate
run kubectl -n "$namespace" wait --for=condition=complete job/newstalk-migrate --timeout=900s

step "8/9 rollout"
$dry_run || rollout_started=true
run kubectl apply -f "$work/manifests.yaml" -l 'app.kubernetes.io/component,app.kubernetes.io/component!=migrate'
if $dry_run; then
  log "would run: kubectl -n $namespace rollout status deployment/<each> --timeout=600s"
else
  for d in $(kubectl -n "$namespace" get deployments -l app.kubernetes.io/name=newstalk -o name); do
    run kubectl -n "$namespace" rollout status "$d" --timeout=600s
  done
fi

step "9/9 post-deploy checklist"
run $checklist_cmd --namespace "$namespace" --url "https://api.$domain" \
  --cdn-url "https://cdn.$domain"
rollout_started=false

if $submit; then
  step "mobile app: eas build and submit (production profiles) in $mobile_dir"
  if ! $dry_run && [ ! -f "$mobile_dir/package.json" ]; then die "no Expo app at $mobile_dir (set MOBILE_DIR)"; fi
  # One profile per store (apps/mobile/eas.json); each build is submitted as soon as it exists.
  for platform in ios android; do
    run env -C "$mobile_dir" eas build --platform "$platform" --profile "production-$platform" --non-interactive --wait
    run env -C "$mobile_dir" eas submit --platform "$platform" --profile "production-$platform" --non-interactive --latest
  done
fi
log "done: $environment at $image$($dry_run && echo ' (dry run: nothing changed)')"
