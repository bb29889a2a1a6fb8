"""Offline checks of terraform/: it parses, and its tables and views are the pipeline's own
(schemas, partitioning, clustering, retention and view SQL read from schemas/ with file())."""

from __future__ import annotations

import glob
import os

import hcl2
import pytest

from weir import schemas
from weir.pipelines.graph import TABLES

TF_DIR = os.path.join(os.path.dirname(__file__), "..", "terraform")


def unquote(value):
    if isinstance(value, str):
        return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
    if isinstance(value, list):
        return [unquote(v) for v in value]
    if isinstance(value, dict):
        return {unquote(k): unquote(v) for k, v in value.items() if k != "__is_block__"}
    return value


@pytest.fixture(scope="module")
def tf() -> dict:
    merged: dict = {"resource": {}, "variable": {}, "output": {}, "locals": {}}
    for path in sorted(glob.glob(os.path.join(TF_DIR, "*.tf"))):
        with open(path) as fh:
            doc = unquote(hcl2.load(fh))  # raises on a file that does not parse
        for block in doc.get("resource", []):
            for rtype, named in block.items():
                for name, body in named.items():
                    merged["resource"][(rtype, name)] = body
        for kind in ("variable", "output"):
            for block in doc.get(kind, []):
                merged[kind].update(block)
        for block in doc.get("locals", []):
            merged["locals"].update(block)
    return merged


def test_every_variable_and_output_is_typed_and_described(tf):
    assert tf["variable"] and tf["output"]
    for name, body in tf["variable"].items():
        assert body.get("description") and body.get("type"), name
    for name, body in tf["output"].items():
        assert body.get("description"), name


def test_tables_come_from_the_pipelines_schema_files(tf):
    assert "tables.json" in tf["locals"]["catalog"] and "file(" in tf["locals"]["catalog"]
    tables = tf["resource"][("google_bigquery_table", "tables")]
    assert tables["for_each"] == "${local.tables}"
    assert tables["schema"] == '${file("${local.schemas_dir}/${each.value.schema}")}'
    partitioning = tables["time_partitioning"][0]
    assert partitioning["field"] == "${each.value.partition_field}" and partitioning["type"] == "DAY"
    assert "each.value.expiration_days" in partitioning["expiration_ms"]
    assert tables["clustering"] == "${each.value.clustering}"
    # So every table the pipeline writes is in Terraform, with the same schema file:
    assert set(TABLES) <= set(schemas.tables())
    for spec in schemas.tables().values():
        assert os.path.exists(os.path.join(TF_DIR, "..", "schemas", "bigquery", f"{spec.name}.json"))


def test_views_are_the_packaged_view_files(tf):
    assert tf["locals"]["views"] == list(schemas.VIEWS)
    views = tf["resource"][("google_bigquery_table", "views")]
    assert "views/${each.key}.sql" in views["view"][0]["query"]


def test_each_role_gets_least_privilege(tf):
    """One service account per role (issue #14); none can delete the archive."""
    members: dict = {}
    for (rtype, _), body in tf["resource"].items():
        if rtype.endswith("_iam_member") and body["member"] != "${local.pubsub_agent}":
            members.setdefault(body["member"], set()).add((rtype, body["role"]))
    assert members == {
        "${local.stream_sa}": {
            ("google_project_iam_member", "roles/dataflow.worker"),
            ("google_pubsub_subscription_iam_member", "roles/pubsub.subscriber"),
            ("google_storage_bucket_iam_member", "roles/storage.objectCreator"),  # the archive: add only
            ("google_storage_bucket_iam_member", "roles/storage.objectViewer"),
            ("google_storage_bucket_iam_member", "roles/storage.objectAdmin"),  # staging (temp files)
            ("google_bigquery_dataset_iam_member", "roles/bigquery.dataEditor"),
        },
        "${local.rebuild_sa}": {
            ("google_project_iam_member", "roles/dataflow.worker"),
            ("google_project_iam_member", "roles/bigquery.jobUser"),
            ("google_storage_bucket_iam_member", "roles/storage.objectViewer"),
            ("google_storage_bucket_iam_member", "roles/storage.objectAdmin"),  # staging
            ("google_bigquery_dataset_iam_member", "roles/bigquery.dataEditor"),
        },
        "${local.collector_sa}": {("google_pubsub_topic_iam_member", "roles/pubsub.publisher")},
        "${local.daily_sa}": {  # launches rebuilds of ended days, records and verifies their closes
            ("google_project_iam_member", "roles/dataflow.developer"),
            ("google_project_iam_member", "roles/bigquery.jobUser"),
            ("google_bigquery_dataset_iam_member", "roles/bigquery.dataEditor"),
            ("google_storage_bucket_iam_member", "roles/storage.objectViewer"),  # the archive's listing
            ("google_storage_bucket_iam_member", "roles/storage.objectAdmin"),  # staging
            ("google_service_account_iam_member", "roles/iam.serviceAccountUser"),  # on the rebuild account only
        },
        "serviceAccount:${google_service_account.scheduler.email}": {
            ("google_cloud_run_v2_job_iam_member", "roles/run.invoker")
        },
        "allUsers": {("google_cloud_run_v2_service_iam_member", "roles/run.invoker")},  # the collector only
    }
    archive_grants = {
        body["role"]
        for (rtype, _), body in tf["resource"].items()
        if rtype == "google_storage_bucket_iam_member" and "archive" in body["bucket"]
    }
    assert archive_grants == {"roles/storage.objectCreator", "roles/storage.objectViewer"}  # no delete anywhere
    job = tf["resource"][("google_dataflow_flex_template_job", "stream")]
    assert job["ip_configuration"] == "WORKER_IP_PRIVATE"
    assert job["service_account_email"] == "${google_service_account.stream.email}"
    # Pub/Sub's own agent: forwards undeliverable messages to the dead-letter topic, nothing else
    agent = {
        (rtype, body["role"])
        for (rtype, _), body in tf["resource"].items()
        if rtype.endswith("_iam_member") and body["member"] == "${local.pubsub_agent}"
    }
    assert agent == {
        ("google_pubsub_topic_iam_member", "roles/pubsub.publisher"),
        ("google_pubsub_subscription_iam_member", "roles/pubsub.subscriber"),
    }


def test_dead_lettered_messages_have_a_subscription_to_land_in(tf):
    sub = tf["resource"][("google_pubsub_subscription", "dead_letter")]
    assert sub["topic"] == "${google_pubsub_topic.dead_letter.id}"


def test_archive_lifecycle_and_replayable_subscription(tf):
    archive = tf["resource"][("google_storage_bucket", "archive")]
    actions = [rule["action"][0]["type"] for rule in archive["lifecycle_rule"]]
    assert actions == ["SetStorageClass", "Delete", "Delete"]
    assert archive["versioning"][0]["enabled"] is True
    assert archive["lifecycle_rule"][2]["condition"][0]["with_state"] == "ARCHIVED"  # only old versions
    assert tf["variable"]["archive_keep_days"]["default"] == 730
    sub = tf["resource"][("google_pubsub_subscription", "events")]
    assert sub["retain_acked_messages"] is True and "dead_letter_policy" in sub


def test_live_tables_are_declared_for_the_streams_cdc_upserts(tf):
    from weir.transforms.bigquery_stream import UPSERT_TABLES

    assert tf["locals"]["upsert_tables"] == list(UPSERT_TABLES)
    tables = tf["resource"][("google_bigquery_table", "tables")]
    constraints = [d["table_constraints"] for d in tables["dynamic"] if "table_constraints" in d][0]
    assert constraints["for_each"] == "${contains(local.upsert_tables, each.key) ? [each.value.key] : []}"
    assert "local.upsert_tables" in tables["max_staleness"]
    for table in UPSERT_TABLES:  # the primary key is the table's key in schemas/tables.json
        assert schemas.table(table).key


def test_days_close_by_themselves_on_a_schedule(tf):
    """terraform apply creates what closes each site's days: Cloud Scheduler runs the daily
    job (weir daily run --once), which launches each ended day's rebuild as the rebuild account."""
    res = tf["resource"]
    scheduler = res[("google_cloud_scheduler_job", "daily")]
    job = res[("google_cloud_run_v2_job", "daily")]
    target = scheduler["http_target"][0] if isinstance(scheduler["http_target"], list) else scheduler["http_target"]
    assert target["uri"].endswith(":run") and "google_cloud_run_v2_job.daily[0].name" in target["uri"]
    assert tf["variable"]["deploy_daily_closes"]["default"] is True
    template = job["template"][0]["template"][0] if isinstance(job["template"], list) else job["template"]["template"]
    container = template["containers"][0] if isinstance(template["containers"], list) else template["containers"]
    args = container["args"]
    assert args[:3] == ["daily", "run", "--once"] and "DataflowRunner" in args
    assert "google_service_account.rebuild.email" in " ".join(args)  # the rebuilds run as the rebuild account
    assert "google_service_account.daily.email" in template["service_account"]
    act_as = res[("google_service_account_iam_member", "daily_runs_rebuilds_as_rebuild")]
    assert act_as["service_account_id"] == "${google_service_account.rebuild.name}"


def test_settings_tables_come_from_the_catalogue(tf):
    settings = tf["resource"][("google_bigquery_table", "settings")]
    assert "local.catalog.settings" in settings["for_each"]
    assert set(schemas.settings_tables()) == {"sites", "day_closes"}


def test_the_collector_is_a_public_cloud_run_service_that_may_only_publish(tf):
    """terraform apply runs `weir collect` on Cloud Run: as the publisher-only account, reading
    the client from Cloud Run's front end only, without a spill file (503 while Pub/Sub is down),
    with the allowed sites and origins and its scaling as variables."""
    res = tf["resource"]
    service = res[("google_cloud_run_v2_service", "collector")]
    template = service["template"][0] if isinstance(service["template"], list) else service["template"]
    assert "google_service_account.collector.email" in template["service_account"]
    assert "var.collector_min_instances" in str(template["scaling"])
    assert "var.collector_max_instances" in str(template["scaling"])
    assert "var.collector_concurrency" in template["max_instance_request_concurrency"]
    container = template["containers"][0] if isinstance(template["containers"], list) else template["containers"]
    assert container["image"] == "${var.collector_image}" and container["args"] == "${local.collector_args}"
    args = str(tf["locals"]["collector_args"])
    for flag in ("--no-spill", "--trusted-proxy", "--site", "--cors-origin", "--project"):
        assert flag in args, flag
    assert tf["variable"]["collector_trusted_proxies"]["default"] == ["cloud-run"]
    public = res[("google_cloud_run_v2_service_iam_member", "collector_public")]
    assert public["role"] == "roles/run.invoker" and public["member"] == "allUsers"
    # The collector's account holds one grant: publishing to the topic.
    grants = [body for (rtype, _), body in res.items() if rtype.endswith("_iam_member")]
    assert [g["role"] for g in grants if "local.collector_sa" in str(g.get("member"))] == ["roles/pubsub.publisher"]
