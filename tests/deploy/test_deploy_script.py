"""scripts/deploy-production.sh with stub terraform, kubectl, aws, docker and eas on PATH that record
their calls; `kubectl kustomize` runs the real kubectl, so the manifests applied are the real ones."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.deploy.test_k8s import render

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "deploy-production.sh"
REAL_KUBECTL = shutil.which("kubectl")
ACCOUNT = "123456789012"
ECR = f"{ACCOUNT}.dkr.ecr.ap-northeast-2.amazonaws.com/newstalk-staging/newstalk"
DIGEST = "sha256:" + "ab" * 32
SECRETS = {
    "DB_PASSWORD": "db-Secret-value-0123456789",
    "REDIS_AUTH_TOKEN": "redis-Secret-value-0123456789",
    "JWT_SECRET_KEY": "jwt-Secret-value-0123456789-0123456789-abcdef",
    "GRAFANA_ADMIN_PASSWORD": "grafana-Secret-value-0123",
}
EXPO = {"EAS_PROJECT_ID": "3f2b8c1e-4d5a-4b6c-9e7f-0a1b2c3d4e5f", "EXPO_TOKEN": "expo-Token-value-0123456789"}
CERT = "arn:aws:acm:ap-northeast-2:123456789012:certificate/0f0f0f0f-1111-2222-3333-444444444444"
WAF = "arn:aws:wafv2:ap-northeast-2:123456789012:regional/webacl/newstalk-staging-api/5e5e5e5e"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(REAL_KUBECTL is None, reason="kubectl (for kustomize) is not installed"),
]

STUB = r"""#!/usr/bin/env bash
# Records "name args" and answers what the deploy script reads.
name=$(basename "$0")
printf '%s %s\n' "$name" "$*" >> "$STUB_DIR/calls.log"
if [ -n "${STUB_FAIL:-}" ] && [[ "$name $*" == $STUB_FAIL ]]; then echo "stub: failing $name $*" >&2; exit 1; fi
case "$name $1" in
  "kubectl kustomize") exec "$REAL_KUBECTL" "$@" ;;
esac
case "$name $*" in
  "terraform "*"output -raw ecr_repository_url") echo "$STUB_ECR" ;;
  "terraform "*"output -raw cluster_name") echo newstalk-staging ;;
  "terraform "*"output -raw api_waf_arn") echo "$STUB_WAF" ;;
  "aws sts get-caller-identity"*) echo "$STUB_ACCOUNT" ;;
  "aws ecr get-login-password"*) echo not-a-real-token ;;
  "docker login"*) cat > /dev/null ;;
  "docker inspect"*) echo "$STUB_ECR@$STUB_DIGEST" ;;
  "kubectl -n "*" get deployments"*) printf 'deployment.apps/newstalk-api\ndeployment.apps/newstalk-worker-speech\n' ;;
  "kubectl apply -f "*)
    n=$(ls "$STUB_DIR"/applied-*.yaml 2>/dev/null | wc -l)
    cp "$3" "$STUB_DIR/applied-$n.yaml" ;;
esac
exit 0
"""


@pytest.fixture
def stubs(tmp_path: Path) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("terraform", "kubectl", "aws", "docker", "eas", "recorder"):
        path = bin_dir / name
        path.write_text(STUB)
        path.chmod(0o755)
    mobile = tmp_path / "mobile"
    mobile.mkdir()
    (mobile / "package.json").write_text('{"name": "newstalk-mobile"}')
    recorder = str(bin_dir / "recorder")
    return {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "STUB_DIR": str(tmp_path),
        "REAL_KUBECTL": str(REAL_KUBECTL),
        "STUB_ECR": ECR,
        "STUB_ACCOUNT": ACCOUNT,
        "STUB_DIGEST": DIGEST,
        "STUB_WAF": WAF,
        "API_CERTIFICATE_ARN": CERT,
        "MOBILE_DIR": str(mobile),
        "NEWSTALK_DEPLOY_CHECK_CMD": f"{recorder} check-deploy",
        "NEWSTALK_DEPLOY_TEST_CMD": f"{recorder} scripts/test",
        "NEWSTALK_DEPLOY_SCAN_CMD": f"{recorder} scan-vulnerabilities",
        "NEWSTALK_DEPLOY_CHECKLIST_CMD": f"{recorder} production-checklist",
        **EXPO,
    }


def deploy(
    env: dict[str, str | None], *args: str, secrets: bool = True
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    full = dict(env, **(SECRETS if secrets else {}))
    full = {name: value for name, value in full.items() if value is not None}
    result = subprocess.run(
        ["bash", str(SCRIPT), *args], cwd=ROOT, env=full, capture_output=True, text=True, timeout=120
    )
    log = Path(env["STUB_DIR"]) / "calls.log"
    calls = log.read_text().splitlines() if log.exists() else []
    for value in [*SECRETS.values(), EXPO["EXPO_TOKEN"]]:
        assert value not in result.stdout + result.stderr, "a secret was printed"
        assert all(value not in call for call in calls), "a secret was passed as an argument"
    return result, calls


def index(calls: list[str], prefix: str) -> int:
    return next(i for i, call in enumerate(calls) if call.startswith(prefix))


def test_dry_run_prints_every_step_runs_the_offline_checks_and_changes_nothing(stubs: dict[str, str]) -> None:
    result, calls = deploy(stubs, "--dry-run", "--environment", "staging", "--submit-to-stores")
    assert result.returncode == 0, result.stderr
    for n in range(1, 10):
        assert f"== {n}/9 " in result.stderr
    for planned in (
        "would run: terraform -chdir=deploy/terraform/envs/staging apply -input=false tfplan",
        "would run: docker push",
        "would run: kubectl apply -f",
        "would run: kubectl -n newstalk-ai-staging wait --for=condition=complete job/newstalk-migrate",
        "would run: env -C",
        "eas build --platform ios --profile production-ios",
        "eas submit --platform android --profile production-android",
    ):
        assert planned in result.stderr
    # Only the offline work ran: the checks and the real kustomize render.
    assert [c.split()[0] + " " + c.split()[1] for c in calls] == [
        "recorder check-deploy",
        "kubectl kustomize",
    ]
    assert f"rendered {len(render('staging'))} resources" in result.stderr


def test_a_release_runs_in_order_with_the_image_by_digest(stubs: dict[str, str]) -> None:
    result, calls = deploy(stubs, "--environment", "staging", "--skip-infrastructure", "--submit-to-stores")
    assert result.returncode == 0, result.stderr
    order = [
        "recorder check-deploy",
        "recorder scripts/test",
        "recorder scan-vulnerabilities",
        "terraform -chdir=deploy/terraform/envs/staging init",
        "terraform -chdir=deploy/terraform/envs/staging output -raw ecr_repository_url",
        "docker build",
        "docker push",
        "aws eks update-kubeconfig",
        "kubectl -n newstalk-ai-staging wait --for=condition=Ready externalsecret/newstalk-secrets",
        "kubectl -n newstalk-ai-staging delete job newstalk-migrate",
        "kubectl -n newstalk-ai-staging wait --for=condition=complete job/newstalk-migrate",
        "kubectl -n newstalk-ai-staging rollout status deployment.apps/newstalk-api",
        "recorder production-checklist --namespace newstalk-ai-staging",
        "eas build --platform ios --profile production-ios",
        "eas submit --platform ios --profile production-ios",
        "eas build --platform android --profile production-android",
        "eas submit --platform android --profile production-android",
    ]
    positions = [index(calls, prefix) for prefix in order]
    assert positions == sorted(positions)
    assert not any(" plan " in c or " apply -input" in c for c in calls if c.startswith("terraform"))
    assert not any("rollout undo" in c for c in calls)

    rollout = Path(stubs["STUB_DIR"]) / "applied-2.yaml"
    applies = [c.split(" -l ")[1] for c in calls if c.startswith("kubectl apply -f")]
    assert applies == [
        "!app.kubernetes.io/component",
        "app.kubernetes.io/component=migrate",
        "app.kubernetes.io/component,app.kubernetes.io/component!=migrate",
    ]
    # Each selector picks what its step means from the real render.
    docs = list(yaml.safe_load_all(rollout.read_text()))
    unlabelled = {
        d["kind"] for d in docs if "app.kubernetes.io/component" not in d["metadata"].get("labels", {})
    }
    assert {"Namespace", "ConfigMap", "ExternalSecret", "ServiceAccount", "NetworkPolicy"} <= unlabelled
    assert "Deployment" not in unlabelled
    assert "Job" not in unlabelled
    applied = list(yaml.safe_load_all(rollout.read_text()))
    images = {
        c["image"]
        for d in applied
        if d["kind"] == "Deployment"
        for c in d["spec"]["template"]["spec"]["containers"]
    }
    assert images == {f"{ECR}@{DIGEST}"}
    assert "000000000000" not in rollout.read_text()
    (ingress,) = (d for d in applied if d["kind"] == "Ingress")
    annotations = ingress["metadata"]["annotations"]
    assert annotations["alb.ingress.kubernetes.io/certificate-arn"] == CERT
    assert annotations["alb.ingress.kubernetes.io/wafv2-acl-arn"] == WAF
    assert f"arn:aws:iam::{ACCOUNT}:role/newstalk-staging-external-secrets" in rollout.read_text()


def test_terraform_plans_and_applies_unless_skipped(stubs: dict[str, str]) -> None:
    result, calls = deploy(stubs, "--environment", "staging")
    assert result.returncode == 0, result.stderr
    plan = index(calls, "terraform -chdir=deploy/terraform/envs/staging plan -input=false -out=tfplan")
    apply = index(calls, "terraform -chdir=deploy/terraform/envs/staging apply -input=false tfplan")
    assert plan < apply < index(calls, "docker build")
    assert not any(c.startswith("eas ") for c in calls)


def test_a_failed_checklist_rolls_the_deployments_back(stubs: dict[str, str]) -> None:
    env = dict(stubs, STUB_FAIL="recorder production-checklist*")
    result, calls = deploy(env, "--environment", "staging", "--skip-infrastructure")
    assert result.returncode != 0
    undo = [c for c in calls if "rollout undo" in c]
    assert undo == [
        "kubectl -n newstalk-ai-staging rollout undo deployment.apps/newstalk-api",
        "kubectl -n newstalk-ai-staging rollout undo deployment.apps/newstalk-worker-speech",
    ]
    assert "rolling the Deployments back" in result.stderr


def test_a_failed_migration_stops_before_the_rollout_without_rollback(stubs: dict[str, str]) -> None:
    env = dict(stubs, STUB_FAIL="kubectl -n newstalk-ai-staging wait --for=condition=complete*")
    result, calls = deploy(env, "--environment", "staging", "--skip-infrastructure")
    assert result.returncode != 0
    assert not any("component!=migrate" in c or "rollout" in c for c in calls)
    assert sum(c.startswith("kubectl apply") for c in calls) == 2


def test_missing_or_weak_secrets_stop_the_release_before_anything_runs(stubs: dict[str, str]) -> None:
    env = dict(stubs, DB_PASSWORD="short", JWT_SECRET_KEY="x" * 40)
    result, calls = deploy(env, "--environment", "production", secrets=False)
    assert result.returncode == 1
    assert "problem: DB_PASSWORD is shorter than 16 characters" in result.stderr
    assert "problem: REDIS_AUTH_TOKEN is not set" in result.stderr
    assert "JWT_SECRET_KEY: set (40 characters)" in result.stderr
    assert "short" not in result.stderr.replace("shorter", "")
    assert calls == []


@pytest.mark.parametrize("args", [["--environment", "qa"], ["--bogus"]])
def test_bad_arguments_exit_2(stubs: dict[str, str], args: list[str]) -> None:
    result, calls = deploy(stubs, *args)
    assert result.returncode == 2
    assert calls == []


def test_production_release_targets_the_production_namespace_and_overlay(stubs: dict[str, str]) -> None:
    result, calls = deploy(stubs, "--environment", "production", "--skip-infrastructure")
    assert result.returncode == 0, result.stderr
    assert any(c.startswith("kubectl kustomize deploy/k8s/overlays/production") for c in calls)
    assert any(c.startswith("kubectl -n newstalk-ai-prod wait") for c in calls)
    applied = (Path(stubs["STUB_DIR"]) / "applied-2.yaml").read_text()
    assert "namespace: newstalk-ai-prod" in applied
    assert os.path.basename(ECR) in applied


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"EAS_PROJECT_ID": None}, "EAS_PROJECT_ID is not set"),
        (
            {"EAS_PROJECT_ID": "00000000-0000-0000-0000-000000000000"},
            "EAS_PROJECT_ID is the all-zero placeholder",
        ),
        ({"EAS_PROJECT_ID": "my-project"}, "EAS_PROJECT_ID is not a UUID"),
        ({"EXPO_TOKEN": None}, "EXPO_TOKEN is not set"),
    ],
)
def test_store_submission_without_an_eas_project_or_token_stops_before_anything_runs(
    stubs: dict[str, str], change: dict[str, str | None], problem: str
) -> None:
    env: dict[str, str | None] = {**stubs, **change}
    result, calls = deploy(env, "--environment", "staging", "--skip-infrastructure", "--submit-to-stores")
    assert result.returncode == 1
    assert f"problem: --submit-to-stores: {problem}" in result.stderr
    assert "fix the environment variables above" in result.stderr
    assert calls == []
    # Without --submit-to-stores the same environment releases the server.
    result, calls = deploy(env, "--environment", "staging", "--skip-infrastructure")
    assert result.returncode == 0, result.stderr
    assert not any(c.startswith("eas ") for c in calls)


def test_the_dry_run_reports_a_missing_eas_project(stubs: dict[str, str]) -> None:
    env: dict[str, str | None] = {**stubs, "EAS_PROJECT_ID": None, "EXPO_TOKEN": None}
    result, calls = deploy(env, "--dry-run", "--environment", "staging", "--submit-to-stores")
    assert result.returncode == 0, result.stderr
    assert "problem: --submit-to-stores: EAS_PROJECT_ID is not set" in result.stderr
    assert "problem: --submit-to-stores: EXPO_TOKEN is not set" in result.stderr
    assert not any(c.startswith("eas ") for c in calls)
