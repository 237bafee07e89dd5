#!/usr/bin/env bash
# Post-deploy checks for NewsTalk. One line per check: PASS, FAIL or SKIP with the reason; exits 1
# when any check FAILs.
#
#   scripts/production-checklist.sh [--namespace NS] [--url URL] [--quick]
#                                   [--cdn-url URL] [--audio-id ID] [--max-queue-lag N]
#
# --namespace NS  also run the cluster checks with kubectl (pods ready, Redis from a pod, ingress)
# --url URL       the API's base URL (default http://127.0.0.1:8000); without --namespace only the
#                 checks that need no cluster run, e.g. against a local `newstalk up` (CI does that)
# --quick         pods, /health, /ready and TLS only
# --audio-id ID   an audio id whose MP3 redirect to the CDN is checked for its cache headers
# Optional environment: REDIS_URL (Redis check without a cluster), PROMETHEUS_URL (target scraped),
# ALERTMANAGER_URL (the always-firing NewsTalkWatchdog alert arrives).
set -uo pipefail

namespace=""
url=http://127.0.0.1:8000
quick=false
cdn_url=""
audio_id=""
max_lag=500
while [ $# -gt 0 ]; do
  case $1 in
    --namespace) namespace=${2:-}; shift 2 ;;
    --url) url=${2%/}; shift 2 ;;
    --cdn-url) cdn_url=${2%/}; shift 2 ;;
    --audio-id) audio_id=${2:-}; shift 2 ;;
    --max-queue-lag) max_lag=${2:-}; shift 2 ;;
    --quick) quick=true; shift ;;
    -h|--help) sed -n '5,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "checklist: unknown argument $1" >&2; exit 2 ;;
  esac
done

passed=0 failed=0 skipped=0
pass() { printf 'PASS %-22s %s\n' "$1" "$2"; passed=$((passed + 1)); }
fail() { printf 'FAIL %-22s %s\n' "$1" "$2"; failed=$((failed + 1)); }
skip() { printf 'SKIP %-22s %s\n' "$1" "$2"; skipped=$((skipped + 1)); }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# get PATH [curl options...]: body to $work/body, prints the HTTP status (000 when unreachable)
get() {
  local path=$1; shift
  curl -sS -o "$work/body" -w '%{http_code}' --max-time 10 "$@" "$url$path" 2>"$work/curl.err" || true
}
kc() { kubectl -n "$namespace" "$@"; }

# pods
if [ -z "$namespace" ]; then
  skip pods-ready "no --namespace: no cluster to ask"
elif ! command -v kubectl >/dev/null 2>&1; then
  fail pods-ready "kubectl not found"
else
  not_ready=$(kc get deployments -l app.kubernetes.io/name=newstalk \
    -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.status.readyReplicas}{"/"}{.spec.replicas}{"\n"}{end}' 2>&1 \
    | awk '{split($2, r, "/"); if (r[1] == "" || r[1] + 0 < r[2] + 0) print $1 " " $2}')
  if [ -n "$not_ready" ]; then fail pods-ready "not ready: $(echo "$not_ready" | tr '\n' ',')"
  else pass pods-ready "every newstalk Deployment in $namespace has its replicas ready"; fi
fi

# API liveness, readiness (database reachable, schema at the code's migration head)
code=$(get /health)
if [ "$code" = 200 ]; then pass api-health "$url/health answered 200"
else fail api-health "$url/health answered $code $(head -c 200 "$work/curl.err")"; fi
code=$(get /ready)
revision=$(jq -r '.revision // empty' "$work/body" 2>/dev/null)
if [ "$code" = 200 ] && [ -n "$revision" ]; then
  pass database-migrated "/ready: database answers, schema at migration head $revision"
else
  fail database-migrated "/ready answered $code: $(jq -r '.detail // empty' "$work/body" 2>/dev/null)"
fi

# TLS certificate
host=$(printf '%s' "$url" | sed -E 's#^[a-z]+://([^/:]+).*#\1#')
if [[ $url != https://* ]]; then
  skip tls-certificate "$url is not HTTPS"
else
  end=$(echo | openssl s_client -servername "$host" -connect "$host:443" 2>/dev/null | openssl x509 -noout -enddate 2>/dev/null | cut -d= -f2)
  if [ -z "$end" ]; then fail tls-certificate "no certificate from $host:443"
  else
    days=$(( ($(date -d "$end" +%s) - $(date +%s)) / 86400 ))
    if [ "$days" -ge 14 ]; then pass tls-certificate "$host valid $days more days"
    else fail tls-certificate "$host expires in $days days (< 14)"; fi
  fi
fi

if $quick; then
  for c in api-endpoints redis kafka queue-lag metrics metrics-scraped alert-test load-balancer cdn-audio; do
    skip "$c" "--quick"
  done
else
  # API endpoints a listener uses
  bad=""
  for path in "/api/v1/news?limit=1" /api/v1/stories /openapi.json; do
    code=$(get "$path")
    if [ "$code" != 200 ] || ! jq -e . "$work/body" >/dev/null 2>&1; then bad="$bad $path=$code"; fi
  done
  if [ -z "$bad" ]; then pass api-endpoints "news, stories and openapi.json answer 200 with JSON"
  else fail api-endpoints "failed:$bad"; fi

  # Redis
  if [ -n "$namespace" ] && command -v kubectl >/dev/null 2>&1; then
    if out=$(kc exec deploy/newstalk-api -- python -c 'import redis; print(redis.Redis.from_url(open("/var/run/secrets/newstalk/redis-url").read().strip()).ping())' 2>&1) \
      && [ "$out" = True ]; then pass redis "PING from an API pod answered"
    else fail redis "PING from an API pod failed: ${out:0:200}"; fi
  elif [ -n "${REDIS_URL:-}" ]; then
    if [ "$(redis-cli -u "$REDIS_URL" ping 2>&1)" = PONG ]; then pass redis "PING answered PONG"
    else fail redis "PING to REDIS_URL failed"; fi
  else
    skip redis "no --namespace and no REDIS_URL"
  fi

  # Kafka: NewsTalk's pipeline runs on its database queue (src/newstalk/kit/bus/dbqueue.py)
  skip kafka "the pipeline uses the database queue; no Kafka transport to check yet (MSK is provisioned)"

  # Metrics and queue lag (jobs ready and waiting per stage)
  code=$(get /metrics)
  if [ "$code" = 200 ] && grep -q '^newstalk_http_requests_total' "$work/body"; then
    pass metrics "/metrics exposes newstalk_* series"
    lag=$(awk '/^newstalk_queue_depth\{.*status="ready"/ {if ($2 + 0 > max) max = $2 + 0} END {print max + 0}' "$work/body")
    if [ "$lag" -le "$max_lag" ]; then pass queue-lag "largest ready backlog $lag jobs (limit $max_lag)"
    else fail queue-lag "a stage has $lag jobs waiting (limit $max_lag)"; fi
  else
    fail metrics "/metrics answered $code without newstalk_http_requests_total"
    skip queue-lag "no metrics"
  fi
  if [ -n "${PROMETHEUS_URL:-}" ]; then
    n=$(curl -sS --max-time 10 "$PROMETHEUS_URL/api/v1/query" --data-urlencode 'query=count(up{job=~".*newstalk.*"} == 1)' 2>/dev/null \
      | jq -r '.data.result[0].value[1] // 0' 2>/dev/null)
    if [ "${n:-0}" -gt 0 ] 2>/dev/null; then pass metrics-scraped "Prometheus has $n NewsTalk targets up"
    else fail metrics-scraped "Prometheus at $PROMETHEUS_URL has no NewsTalk target up"; fi
  else
    skip metrics-scraped "PROMETHEUS_URL not set"
  fi
  if [ -n "${ALERTMANAGER_URL:-}" ]; then
    n=$(curl -sS --max-time 10 "$ALERTMANAGER_URL/api/v2/alerts?filter=alertname%3D%22NewsTalkWatchdog%22" 2>/dev/null | jq 'length' 2>/dev/null)
    if [ "${n:-0}" -gt 0 ] 2>/dev/null; then pass alert-test "NewsTalkWatchdog reached Alertmanager"
    else fail alert-test "NewsTalkWatchdog is not in Alertmanager at $ALERTMANAGER_URL"; fi
  else
    skip alert-test "ALERTMANAGER_URL not set"
  fi

  # Load balancer: the Ingress has an address and the API answers through it over HTTPS
  if [ -z "$namespace" ]; then
    skip load-balancer "no --namespace: no Ingress to ask"
  else
    lb=$(kc get ingress newstalk-api -o jsonpath='{.status.loadBalancer.ingress[0].hostname}' 2>/dev/null)
    if [ -n "$lb" ] && [[ $url == https://* ]] && [ "$(get /ready)" = 200 ]; then pass load-balancer "$lb serves $url/ready"
    else fail load-balancer "ingress address '${lb}' or $url/ready not answering over HTTPS"; fi
  fi

  # CDN: the API redirects audio to the CDN, which serves it with a 30-day cache
  if [ -z "$audio_id" ]; then
    skip cdn-audio "no --audio-id"
  else
    code=$(get "/api/v1/audio/$audio_id.mp3" -D "$work/headers")
    location=$(awk 'tolower($1) == "location:" {print $2}' "$work/headers" | tr -d '\r')
    if [ "$code" != 302 ] || [ -z "$location" ]; then
      fail cdn-audio "/api/v1/audio/$audio_id.mp3 answered $code, not a redirect to the CDN"
    elif [ -n "$cdn_url" ] && [[ $location != "$cdn_url"* ]]; then
      fail cdn-audio "redirect to $location, not under $cdn_url"
    else
      cache=$(curl -sS -I --max-time 10 "$location" 2>/dev/null | awk -F': ' 'tolower($1) == "cache-control" {print $2}' | tr -d '\r')
      if [[ $cache == *max-age=2592000* ]]; then pass cdn-audio "$location: Cache-Control $cache"
      else fail cdn-audio "$location: Cache-Control '${cache}', want max-age=2592000"; fi
    fi
  fi
fi

printf 'checklist: PASS %d, FAIL %d, SKIP %d\n' "$passed" "$failed" "$skipped"
[ "$failed" -eq 0 ]
