"""The promises of deploy/k8s, read from what `kubectl kustomize` renders for each overlay."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
MON = K8S.parent / "monitoring"
# deploy/monitoring/kube-prometheus-stack-values.yaml installs the chart under this release name;
# its Prometheus selects PrometheusRules and PodMonitors by it.
CHART_RELEASE = "kube-prometheus-stack"
KUBECTL = shutil.which("kubectl")
AI = ("newstalk-worker-factcheck", "newstalk-worker-speech")

pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl (for kustomize) is not installed")


@cache
def render(overlay: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        [str(KUBECTL), "kustomize", str(K8S / "overlays" / overlay)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def chart_values() -> dict[str, Any]:
    return yaml.safe_load((MON / "kube-prometheus-stack-values.yaml").read_text())  # type: ignore[no-any-return]


def of(overlay: str, kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in render(overlay) if d["kind"] == kind}


def pods(overlay: str) -> dict[str, dict[str, Any]]:
    """Pod specs of the Deployments and the migration Job."""
    specs = {n: d["spec"]["template"]["spec"] for n, d in of(overlay, "Deployment").items()}
    specs.update({n: d["spec"]["template"]["spec"] for n, d in of(overlay, "Job").items()})
    return specs


@pytest.mark.parametrize(
    ("overlay", "namespace"), [("production", "newstalk-ai-prod"), ("staging", "newstalk-ai-staging")]
)
def test_each_environment_lives_in_its_namespace_under_the_restricted_pod_security_standard(
    overlay: str, namespace: str
) -> None:
    (ns,) = of(overlay, "Namespace").values()
    assert ns["metadata"]["name"] == namespace
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert {d["metadata"].get("namespace") for d in render(overlay) if d["kind"] != "Namespace"} == {
        namespace
    }


def test_monitoring_namespace_and_alerts() -> None:
    (ns,) = of("monitoring", "Namespace").values()
    assert ns["metadata"]["name"] == "newstalk-ai-monitoring"
    # The Prometheus Operator loads PrometheusRule objects, never a ConfigMap of rule files.
    (rule,) = of("monitoring", "PrometheusRule").values()
    assert rule["metadata"]["labels"]["release"] == CHART_RELEASE
    alerts = {r["alert"] for g in rule["spec"]["groups"] for r in g["rules"] if "alert" in r}
    assert {
        "NewsTalkWatchdog",
        "NewsTalkQueueLagHigh",
        "NewsTalkProcessingDelayHigh",
        "NewsTalkApiDown",
        "NewsTalkEndToEndDelayHigh",
    } <= alerts
    configmaps = {n.rsplit("-", 1)[0]: d for n, d in of("monitoring", "ConfigMap").items()}
    assert not [n for n in configmaps if "alert" in n], "rules and Alertmanager config are not ConfigMaps"
    dashboards = configmaps["newstalk-grafana-dashboards"]
    assert len(dashboards["data"]) == 5
    assert dashboards["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert dashboards["metadata"]["annotations"]["grafana_folder"] == "NewsTalk"
    assert set(configmaps["newstalk-grafana-provisioning"]["data"]) == {"grafana-dashboards.yaml"}
    assert "providers" in configmaps["newstalk-grafana-provisioning"]["data"]["grafana-dashboards.yaml"]
    values = chart_values()["grafana"]["sidecar"]["dashboards"]
    assert (values["label"], values["labelValue"], values["folderAnnotation"]) == (
        "grafana_dashboard",
        "1",
        "grafana_folder",
    )


def test_podmonitors_scrape_every_newstalk_process_under_the_rules_job_names() -> None:
    monitors = of("monitoring", "PodMonitor")
    assert set(monitors) == {"newstalk-api", "newstalk-worker", "newstalk-scheduler"}
    deployments = of("production", "Deployment")
    covered: set[str] = set()
    for name, monitor in monitors.items():
        spec = monitor["spec"]
        assert monitor["metadata"]["labels"]["release"] == CHART_RELEASE
        assert spec["namespaceSelector"] == {"matchNames": ["newstalk-ai-prod", "newstalk-ai-staging"]}
        (endpoint,) = spec["podMetricsEndpoints"]
        assert endpoint["path"] == "/metrics"
        assert endpoint["relabelings"] == [{"action": "replace", "targetLabel": "job", "replacement": name}]
        selector = spec["selector"]
        for deployment, d in deployments.items():
            labels = d["spec"]["template"]["metadata"]["labels"]
            if not all(labels.get(k) == v for k, v in selector["matchLabels"].items()):
                continue
            if not all(labels.get(e["key"]) in e["values"] for e in selector.get("matchExpressions", [])):
                continue
            covered.add(deployment)
            (container,) = d["spec"]["template"]["spec"]["containers"]
            ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
            annotations = d["spec"]["template"]["metadata"]["annotations"]
            # The named port is the one the process serves /metrics on.
            assert ports[endpoint["port"]] == int(annotations["prometheus.io/port"]), deployment
    assert covered == set(deployments), "every Deployment is scraped"


def test_alertmanager_config_and_receivers_come_as_the_chart_consumes_them() -> None:
    values = chart_values()["alertmanager"]["alertmanagerSpec"]
    secrets = of("monitoring", "Secret")
    config_secret = secrets[values["configSecret"]]
    assert values["useExistingSecret"] is True
    config_text = base64.b64decode(config_secret["data"]["alertmanager.yaml"]).decode()
    assert config_text == (MON / "alertmanager.yml").read_text()
    # Credentials: an ExternalSecret (no value in the repository), mounted by the chart at
    # /etc/alertmanager/secrets/<name>/, where every *_file setting of the config points.
    external = of("monitoring", "ExternalSecret")
    (receivers,) = values["secrets"]
    keys = {d["secretKey"] for d in external[receivers]["spec"]["data"]}
    assert external[receivers]["spec"]["target"]["name"] == receivers
    assert {d["remoteRef"]["key"] for d in external[receivers]["spec"]["data"]} == {
        "newstalk/production/alertmanager"
    }
    files = re.findall(r"_file: (\S+)", config_text)
    assert len(files) == 3
    assert {f"/etc/alertmanager/secrets/{receivers}/{key}" for key in keys} == set(files)
    for name, es in external.items():
        assert es["spec"]["secretStoreRef"] == {"kind": "SecretStore", "name": "aws-secrets-manager"}, name
    (store,) = of("monitoring", "SecretStore").values()
    account = of("monitoring", "ServiceAccount")[
        store["spec"]["provider"]["aws"]["auth"]["jwt"]["serviceAccountRef"]["name"]
    ]
    role = account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert role.endswith(":role/newstalk-production-monitoring-external-secrets")
    # Grafana's admin login too.
    admin = chart_values()["grafana"]["admin"]
    template = external[admin["existingSecret"]]["spec"]["target"]["template"]["data"]
    assert {admin["userKey"], admin["passwordKey"]} == set(template)


def test_grafana_gets_one_default_data_source_the_dashboards_uid() -> None:
    sidecar = chart_values()["grafana"]["sidecar"]["datasources"]
    assert sidecar["defaultDatasourceEnabled"] is False, (
        "the chart's own Prometheus would be a second default"
    )
    provisioned = [
        ds
        for d in of("monitoring", "ConfigMap").values()
        if d["metadata"].get("labels", {}).get(sidecar["label"]) == sidecar["labelValue"]
        for text in d["data"].values()
        for ds in yaml.safe_load(text)["datasources"]
    ]
    defaults = [ds for ds in provisioned if ds.get("isDefault")]
    assert [(d["uid"], d["type"]) for d in defaults] == [("prometheus", "prometheus")]
    assert len({ds["uid"] for ds in provisioned}) == len(provisioned)
    panels = (MON / "dashboards" / "newstalk-system.json").read_text()
    assert '"uid": "prometheus"' in panels


def test_production_replicas_and_roles() -> None:
    deployments = of("production", "Deployment")
    stages = (
        "collect",
        "extract",
        "websub",
        "embed",
        "stories",
        "search",
        "factcheck",
        "briefings",
        "speech",
        "live",
        "webhooks",
    )
    assert set(deployments) == {"newstalk-api", "newstalk-scheduler"} | {
        f"newstalk-worker-{s}" for s in stages
    }
    replicas = {n: d["spec"]["replicas"] for n, d in deployments.items()}
    assert replicas["newstalk-api"] == 3
    assert replicas["newstalk-worker-factcheck"] == replicas["newstalk-worker-speech"] == 2
    # Stories: a writer and a hot standby; the database lease lets one write at a time, so a
    # rollout may overlap them (docs/pipeline.md, "Embeddings and the stories writer").
    assert replicas["newstalk-worker-stories"] == replicas["newstalk-worker-embed"] == 2
    # Each embed replica requests one core and runs e5 on one thread (not one per node core).
    (embed,) = deployments["newstalk-worker-embed"]["spec"]["template"]["spec"]["containers"]
    assert {e["name"]: e.get("value") for e in embed["env"]}["NEWSTALK_EMBED_THREADS"] == "1"
    assert embed["resources"]["requests"]["cpu"] == "1"
    # One scheduler and one live worker, never two at once during a rollout.
    for name in ("newstalk-scheduler", "newstalk-worker-live"):
        assert replicas[name] == 1
        assert deployments[name]["spec"]["strategy"] == {"type": "Recreate"}
    for name, d in deployments.items():
        (container,) = d["spec"]["template"]["spec"]["containers"]
        assert container["image"] == "newstalk:release"
        role = name.removeprefix("newstalk-").removeprefix("worker-")
        expected = (
            ["api", "--host", "0.0.0.0", "--port", "8000"]
            if role == "api"
            else (["scheduler"] if role == "scheduler" else ["worker", role])
        )
        assert container["args"] == expected


def test_fact_checking_and_speech_run_on_the_ai_node_group_only() -> None:
    for name, spec in pods("production").items():
        terms = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
            "nodeSelectorTerms"
        ]
        (expr,) = terms[0]["matchExpressions"]
        tolerated = {t["value"] for t in spec.get("tolerations", [])}
        if name in AI:
            assert expr["values"] == ["ai"]
            assert tolerated == {"ai"}
        else:
            assert expr["values"] != ["ai"]
            assert "ai" not in tolerated


def test_every_pod_is_locked_down_with_requests_limits_and_secrets_as_files() -> None:
    for name, spec in pods("production").items():
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert spec["automountServiceAccountToken"] is False
        (c,) = spec["containers"]
        sc = c["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False, name
        assert sc["readOnlyRootFilesystem"] is True, name
        assert sc["capabilities"] == {"drop": ["ALL"]}, name
        assert set(c["resources"]) == {"requests", "limits"}, name
        env = {e["name"]: e["value"] for e in c["env"]}
        assert env["NEWSTALK_DATABASE_URL_FILE"] == "/var/run/secrets/newstalk/database-url"
        assert {m["mountPath"] for m in c["volumeMounts"]} == {
            "/tmp",
            "/var/lib/newstalk",
            "/var/run/secrets/newstalk",
        }


def test_api_probes_spread_ingress_tls_and_autoscaling() -> None:
    api = of("production", "Deployment")["newstalk-api"]["spec"]["template"]["spec"]
    (c,) = api["containers"]
    assert c["livenessProbe"]["httpGet"]["path"] == "/health"
    assert c["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert {t["topologyKey"] for t in api["topologySpreadConstraints"]} == {
        "topology.kubernetes.io/zone",
        "kubernetes.io/hostname",
    }
    (ingress,) = of("production", "Ingress").values()
    assert ingress["spec"]["tls"][0]["hosts"] == [ingress["spec"]["rules"][0]["host"]]
    assert json.loads(ingress["metadata"]["annotations"]["alb.ingress.kubernetes.io/listen-ports"]) == [
        {"HTTPS": 443}
    ]
    hpas = of("production", "HorizontalPodAutoscaler")
    assert hpas["newstalk-api"]["spec"]["minReplicas"] == 3
    for name in AI:
        kinds = {m["type"] for m in hpas[name]["spec"]["metrics"]}
        assert kinds == {"Resource", "External"}
        external = next(m for m in hpas[name]["spec"]["metrics"] if m["type"] == "External")
        assert external["external"]["metric"]["name"] == "newstalk_queue_lag"
    pdbs = of("production", "PodDisruptionBudget")
    assert pdbs["newstalk-api"]["spec"]["minAvailable"] == 2
    assert {"newstalk-worker-factcheck", "newstalk-worker-speech"} <= set(pdbs)


def test_migration_job_runs_db_upgrade() -> None:
    (job,) = of("production", "Job").values()
    assert job["metadata"]["labels"]["app.kubernetes.io/component"] == "migrate"
    (c,) = job["spec"]["template"]["spec"]["containers"]
    assert c["args"] == ["db", "upgrade"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_network_policies_deny_by_default_and_open_only_the_needed_flows() -> None:
    policies = of("production", "NetworkPolicy")
    deny = policies["default-deny"]["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    api_in = policies["api-ingress"]["spec"]["ingress"]
    assert all(p == {"port": 8000, "protocol": "TCP"} for rule in api_in for p in rule["ports"])
    stores = {p["port"] for rule in policies["data-stores-egress"]["spec"]["egress"] for p in rule["ports"]}
    assert stores == {5432, 6379, 9098}
    for policy in policies.values():
        for rule in policy["spec"].get("ingress", []):
            for peer in rule.get("from", []):
                assert peer.get("ipBlock", {}).get("cidr") != "0.0.0.0/0"


def test_every_process_is_scraped_from_the_monitoring_namespace_only() -> None:
    # The API serves /metrics on 8000; workers and the scheduler on NEWSTALK_METRICS_PORT.
    (config,) = [c for name, c in of("production", "ConfigMap").items() if name.startswith("newstalk-config")]
    assert (config["data"]["NEWSTALK_METRICS_PORT"], config["data"]["NEWSTALK_METRICS_HOST"]) == (
        "9100",
        "0.0.0.0",
    )
    for name, deployment in of("production", "Deployment").items():
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true", name
        assert annotations["prometheus.io/port"] == ("8000" if name.endswith("-api") else "9100"), name
    metrics_in = of("production", "NetworkPolicy")["metrics-ingress"]["spec"]["ingress"]
    assert metrics_in == [
        {
            "from": [
                {
                    "namespaceSelector": {
                        "matchLabels": {"kubernetes.io/metadata.name": "newstalk-ai-monitoring"}
                    }
                }
            ],
            "ports": [{"port": 9100, "protocol": "TCP"}],
        }
    ]
    # ...and the monitoring namespace's own egress policy lets Prometheus out to both ports.
    out = of("monitoring", "NetworkPolicy")["monitoring-flows"]["spec"]["egress"]
    to_newstalk = [
        rule
        for rule in out
        for peer in rule.get("to", [])
        if "newstalk-ai-prod" in str(peer.get("namespaceSelector", {}))
    ]
    assert {p["port"] for rule in to_newstalk for p in rule["ports"]} == {8000, 9100}


def test_processes_get_no_kubernetes_api_rights_and_the_deployer_cannot_rewire_the_network() -> None:
    accounts = of("production", "ServiceAccount")
    assert all(sa["automountServiceAccountToken"] is False for sa in accounts.values())
    bindings = of("production", "RoleBinding")
    assert {s["name"] for b in bindings.values() for s in b["subjects"]} == {"newstalk-deployer"}
    (role,) = of("production", "Role").values()
    writes = {
        (group, resource)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        if set(rule["verbs"]) & {"create", "update", "patch", "delete"}
    }
    assert writes == {("apps", "deployments"), ("batch", "jobs")}


def test_secrets_come_from_aws_secrets_manager_per_environment() -> None:
    for overlay, env in (("production", "production"), ("staging", "staging")):
        (external,) = of(overlay, "ExternalSecret").values()
        assert external["spec"]["dataFrom"] == [{"extract": {"key": f"newstalk/{env}/app"}}]
        assert external["spec"]["target"]["name"] == "newstalk-secrets"
        (store,) = of(overlay, "SecretStore").values()
        assert store["spec"]["provider"]["aws"]["service"] == "SecretsManager"
    config = of("production", "ConfigMap")["newstalk-config"]["data"]
    assert config["NEWSTALK_ENVIRONMENT"] == "production"
    assert not any("SECRET" in k or "PASSWORD" in k for k in config)


def test_logs_are_read_only_from_every_newstalk_node_and_shipped_to_loki() -> None:
    (ns,) = of("logging", "Namespace").values()
    assert ns["metadata"]["name"] == "newstalk-ai-logging"
    (daemonset,) = of("logging", "DaemonSet").values()
    spec = daemonset["spec"]["template"]["spec"]
    assert spec["automountServiceAccountToken"] is False
    assert not of("logging", "Role")
    assert not of("logging", "ClusterRole")
    # Every node group NewsTalk pods are placed on (all labelled newstalk.io/node-group), tainted
    # ones (ai, memory) included.
    (term,) = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ]
    assert term["matchExpressions"] == [{"key": "newstalk.io/node-group", "operator": "Exists"}]
    tainted = {t["key"] for pod in pods("production").values() for t in pod.get("tolerations", [])}
    assert tainted == {"newstalk.io/node-group"}
    assert spec["tolerations"] == [
        {"key": "newstalk.io/node-group", "operator": "Exists", "effect": "NoSchedule"}
    ]
    (c,) = spec["containers"]
    sc = c["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["privileged"] is False
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert set(c["resources"]) == {"requests", "limits"}
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    assert mounts["pod-logs"] == {"name": "pod-logs", "mountPath": "/var/log/pods", "readOnly": True}
    hostpaths = {v["name"]: v["hostPath"]["path"] for v in spec["volumes"] if "hostPath" in v}
    assert hostpaths == {"pod-logs": "/var/log/pods", "checkpoints": "/var/lib/otelcol/newstalk-logs"}
    (config,) = of("logging", "ConfigMap").values()
    collector = yaml.safe_load(config["data"]["log-collector-config.yaml"])
    assert collector["receivers"]["filelog/newstalk"]["include"] == [
        "/var/log/pods/newstalk-ai-prod_*/*/*.log",
        "/var/log/pods/newstalk-ai-staging_*/*/*.log",
    ]
    assert collector["extensions"]["file_storage/checkpoints"]["directory"] == hostpaths["checkpoints"]
    endpoint = collector["exporters"]["otlphttp/loki"]["endpoint"]
    (loki,) = of("monitoring", "Service")["loki"]["spec"]["ports"]
    assert endpoint == f"http://loki.newstalk-ai-monitoring.svc:{loki['port']}/otlp"
    (provisioned,) = [
        d for n, d in of("monitoring", "ConfigMap").items() if n.startswith("newstalk-grafana-datasources")
    ]
    assert provisioned["metadata"]["labels"]["grafana_datasource"] == "1"
    datasources = yaml.safe_load(provisioned["data"]["grafana-datasources-logs.yaml"])["datasources"]
    by_uid = {d["uid"]: d for d in datasources}
    assert by_uid["loki"]["url"] == f"http://loki.newstalk-ai-monitoring.svc:{loki['port']}"
    assert by_uid["loki"]["jsonData"]["derivedFields"][0]["datasourceUid"] == "jaeger"
    assert by_uid["jaeger"]["jsonData"]["tracesToLogsV2"]["datasourceUid"] == "loki"


def test_only_the_log_collector_reaches_loki_and_it_reaches_nothing_else() -> None:
    policies = of("logging", "NetworkPolicy")
    assert policies["default-deny"]["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    egress = policies["log-collector-egress"]["spec"]["egress"]
    assert {p["port"] for rule in egress for p in rule["ports"]} == {3100, 53}
    (to_loki,) = [rule for rule in egress if rule["ports"] == [{"port": 3100, "protocol": "TCP"}]]
    assert to_loki["to"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "newstalk-ai-monitoring"}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "loki"}},
        }
    ]
    (loki_in,) = of("monitoring", "NetworkPolicy")["loki-ingress"]["spec"]["ingress"]
    assert loki_in["from"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "newstalk-ai-logging"}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "log-collector"}},
        }
    ]
    # Prometheus, and only Prometheus's namespace, reads the collector's metrics (the log alerts).
    (metrics_in,) = policies["log-collector-metrics-ingress"]["spec"]["ingress"]
    assert metrics_in == {
        "from": [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "newstalk-ai-monitoring"}}}
        ],
        "ports": [{"port": 8888, "protocol": "TCP"}],
    }
    (daemonset,) = of("logging", "DaemonSet").values()
    annotations = daemonset["spec"]["template"]["metadata"]["annotations"]
    assert (annotations["prometheus.io/scrape"], annotations["prometheus.io/port"]) == ("true", "8888")
    out = of("monitoring", "NetworkPolicy")["monitoring-flows"]["spec"]["egress"]
    assert {
        "to": [
            {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "newstalk-ai-logging"}},
                "podSelector": {"matchLabels": {"app.kubernetes.io/name": "log-collector"}},
            }
        ],
        "ports": [{"port": 8888, "protocol": "TCP"}],
    } in out
    (loki,) = of("monitoring", "StatefulSet").values()
    spec = loki["spec"]["template"]["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["automountServiceAccountToken"] is False
    retention = yaml.safe_load(
        next(d for n, d in of("monitoring", "ConfigMap").items() if n.startswith("loki-config"))["data"][
            "loki-config.yaml"
        ]
    )
    assert retention["limits_config"]["retention_period"] == "336h"
    assert retention["compactor"]["retention_enabled"] is True
