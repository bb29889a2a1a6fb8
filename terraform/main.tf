# weir on Google Cloud: Pub/Sub, the raw archive, BigQuery tables and views, one service
# account per role (stream, rebuild, collector), and (optionally) the streaming Dataflow job.
#
# Every table's schema, partitioning, clustering and retention, and every view's SQL, come
# from ../schemas with file(): the pipeline and the infrastructure read the same bytes.

terraform {
  required_version = ">= 1.5"
  required_providers {
    google      = { source = "hashicorp/google", version = ">= 5.0, < 7.0" }
    google-beta = { source = "hashicorp/google-beta", version = ">= 5.0, < 7.0" }
  }
}

provider "google" {
  project = var.project
  region  = var.region
}

provider "google-beta" {
  project = var.project
  region  = var.region
}

locals {
  schemas_dir    = "${path.module}/../schemas"
  catalog        = jsondecode(file("${local.schemas_dir}/tables.json"))
  tables         = local.catalog.tables
  # Every metric column, as weir.schemas.view_sql fills {metric_columns} in: the 5-minute
  # table's columns after its key.
  metric_columns = join(", ", [
    for f in jsondecode(file("${local.schemas_dir}/bigquery/url_metrics_5m.json")) : f.name
    if !contains(["site", "url", "bucket_start"], f.name)
  ])
  views          = ["url_timeseries", "url_benchmarks", "top_urls_today", "referrers_today", "content"]
  # Tables the streaming job upserts by key (transforms/bigquery_stream.py UPSERT_TABLES).
  upsert_tables = ["url_metrics_5m", "breakdown_metrics_5m"]
  names = {
    topic        = "events"
    dead_letter  = "events-dead-letter"
    subscription = "events-sub"
    archive      = "${var.project}-${var.name_prefix}-archive"
    staging      = "${var.project}-${var.name_prefix}-staging"
    stream       = "${var.name_prefix}-stream"
    rebuild      = "${var.name_prefix}-rebuild"
    collector    = "${var.name_prefix}-collector"
    daily        = "${var.name_prefix}-daily"
    scheduler    = "${var.name_prefix}-scheduler"
  }
}

# --- Pub/Sub -----------------------------------------------------------------------------

resource "google_pubsub_topic" "events" {
  # checkov:skip=CKV_GCP_83:Google-managed encryption; customer-managed keys are an organisation's policy and key-ring lifecycle, outside this stack
  name                       = local.names.topic
  message_retention_duration = var.events_retention
}

resource "google_pubsub_topic" "dead_letter" {
  # checkov:skip=CKV_GCP_83:Google-managed encryption; customer-managed keys are an organisation's policy and key-ring lifecycle, outside this stack
  name                       = local.names.dead_letter
  message_retention_duration = var.events_retention
}

resource "google_pubsub_subscription" "events" {
  name                       = local.names.subscription
  topic                      = google_pubsub_topic.events.id
  ack_deadline_seconds       = 60
  message_retention_duration = var.events_retention
  retain_acked_messages      = true # a day can be replayed with seek
  expiration_policy {
    ttl = "" # never expires
  }
  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = var.max_delivery_attempts
  }
}

# Messages Pub/Sub gives up delivering (max_delivery_attempts) are forwarded to the
# dead-letter topic; a topic without a subscription would drop them, so it has one, and
# Pub/Sub's own service agent may publish there and acknowledge on the main subscription.
resource "google_pubsub_subscription" "dead_letter" {
  name                       = "${local.names.dead_letter}-sub"
  topic                      = google_pubsub_topic.dead_letter.id
  message_retention_duration = var.events_retention
  expiration_policy {
    ttl = ""
  }
}

data "google_project" "this" {
  project_id = var.project
}

locals {
  pubsub_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_pubsub_topic_iam_member" "agent_dead_letter_publisher" {
  topic  = google_pubsub_topic.dead_letter.name
  role   = "roles/pubsub.publisher"
  member = local.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "agent_events_subscriber" {
  subscription = google_pubsub_subscription.events.name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}

# --- Storage -----------------------------------------------------------------------------

resource "google_storage_bucket" "archive" {
  # checkov:skip=CKV_GCP_62:access is audited by Cloud Audit Logs (Data Access), the successor of bucket usage logs; a project-level setting
  name                        = local.names.archive
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  lifecycle_rule {
    condition { age = var.archive_cold_after_days }
    action {
      type          = "SetStorageClass"
      storage_class = "COLDLINE"
    }
  }
  lifecycle_rule {
    condition { age = var.archive_keep_days }
    action { type = "Delete" }
  }
  versioning {
    enabled = true # the archive is the only copy of the raw data: an overwrite or delete is recoverable
  }
  lifecycle_rule { # replaced or deleted versions go after a week
    condition {
      days_since_noncurrent_time = 7
      with_state                 = "ARCHIVED"
    }
    action { type = "Delete" }
  }
}

resource "google_storage_bucket" "staging" {
  # checkov:skip=CKV_GCP_62:access is audited by Cloud Audit Logs (Data Access), the successor of bucket usage logs; a project-level setting
  # checkov:skip=CKV_GCP_78:scratch files (rebuild staging, Dataflow temp) deleted within a week; versions would keep every run
  name                        = local.names.staging
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  lifecycle_rule {
    condition { age = 7 } # rebuild staging files and Dataflow temp files are short-lived
    action { type = "Delete" }
  }
}

# --- BigQuery ----------------------------------------------------------------------------

resource "google_bigquery_dataset" "weir" {
  # checkov:skip=CKV_GCP_81:Google-managed encryption; customer-managed keys are an organisation's policy and key-ring lifecycle, outside this stack
  dataset_id = var.dataset
  location   = var.region
}

resource "google_bigquery_table" "tables" {
  # checkov:skip=CKV_GCP_80:Google-managed encryption; customer-managed keys are an organisation's policy and key-ring lifecycle, outside this stack
  for_each            = local.tables
  dataset_id          = google_bigquery_dataset.weir.dataset_id
  table_id            = each.key
  description         = each.value.description
  schema              = file("${local.schemas_dir}/${each.value.schema}")
  clustering          = each.value.clustering
  deletion_protection = var.deletion_protection
  time_partitioning {
    type          = "DAY"
    field         = each.value.partition_field
    expiration_ms = each.value.expiration_days * 86400000
  }
  # The live 5-minute tables take the stream's CDC upserts (transforms/bigquery_stream.py):
  # BigQuery keeps one row per primary key, the latest pane's.
  dynamic "table_constraints" {
    for_each = contains(local.upsert_tables, each.key) ? [each.value.key] : []
    content {
      primary_key {
        columns = table_constraints.value
      }
    }
  }
  max_staleness = contains(local.upsert_tables, each.key) ? var.cdc_max_staleness : null
}

# Tables weir's commands write (the sites' settings, the log of day closes): small, not partitioned.
resource "google_bigquery_table" "settings" {
  # checkov:skip=CKV_GCP_80:Google-managed encryption; customer-managed keys are an organisation's policy and key-ring lifecycle, outside this stack
  for_each            = local.catalog.settings
  dataset_id          = google_bigquery_dataset.weir.dataset_id
  table_id            = each.key
  description         = each.value.description
  schema              = file("${local.schemas_dir}/${each.value.schema}")
  deletion_protection = var.deletion_protection
}

resource "google_bigquery_table" "views" {
  # checkov:skip=CKV_GCP_80:views store no data to encrypt
  for_each            = toset(local.views)
  dataset_id          = google_bigquery_dataset.weir.dataset_id
  table_id            = each.key
  deletion_protection = var.deletion_protection # a changed query updates the view in place
  view {
    query          = replace(replace(file("${local.schemas_dir}/views/${each.key}.sql"), "{dataset}", "${var.project}.${var.dataset}"), "{metric_columns}", local.metric_columns)
    use_legacy_sql = false
  }
  depends_on = [google_bigquery_table.tables, google_bigquery_table.settings]
}

# --- Identities: one service account per role, each with only what that role does --------
#
# stream   : the streaming Dataflow job: reads its subscription, appends to the archive (it
#            can create and read objects, never delete or overwrite them), writes the dataset.
# rebuild  : batch Dataflow jobs (weir rebuild --runner DataflowRunner
#            --service_account_email=<rebuild_service_account>): reads the archive, loads
#            the dataset.
# collector: `weir collect` (the Cloud Run service below, or GKE, a VM): publishes to the topic.
# No worker can delete the raw data: the archive is the only copy (and versioned, below).

resource "google_service_account" "stream" {
  account_id   = local.names.stream
  display_name = "weir streaming Dataflow job"
}

resource "google_service_account" "rebuild" {
  account_id   = local.names.rebuild
  display_name = "weir rebuild (batch Dataflow) jobs"
}

resource "google_service_account" "daily" {
  account_id   = local.names.daily
  display_name = "weir daily closes (launches rebuilds of ended days)"
}

resource "google_service_account" "collector" {
  account_id   = local.names.collector
  display_name = "weir collector (publisher only)"
}

locals {
  stream_sa    = "serviceAccount:${google_service_account.stream.email}"
  rebuild_sa   = "serviceAccount:${google_service_account.rebuild.email}"
  collector_sa = "serviceAccount:${google_service_account.collector.email}"
  daily_sa     = "serviceAccount:${google_service_account.daily.email}"
}

resource "google_project_iam_member" "stream_dataflow" {
  project = var.project
  role    = "roles/dataflow.worker"
  member  = local.stream_sa
}

resource "google_project_iam_member" "rebuild_dataflow" {
  project = var.project
  role    = "roles/dataflow.worker"
  member  = local.rebuild_sa
}

resource "google_project_iam_member" "rebuild_bigquery_jobs" {
  project = var.project
  role    = "roles/bigquery.jobUser" # load jobs of rebuilds; not data access
  member  = local.rebuild_sa
}

resource "google_pubsub_subscription_iam_member" "stream_subscriber" {
  subscription = google_pubsub_subscription.events.name
  role         = "roles/pubsub.subscriber"
  member       = local.stream_sa
}

resource "google_pubsub_topic_iam_member" "collector_publisher" {
  topic  = google_pubsub_topic.events.name
  role   = "roles/pubsub.publisher"
  member = local.collector_sa
}

resource "google_storage_bucket_iam_member" "stream_archive_create" {
  bucket = google_storage_bucket.archive.name
  role   = "roles/storage.objectCreator" # new objects only: no delete, no overwrite
  member = local.stream_sa
}

resource "google_storage_bucket_iam_member" "stream_archive_read" {
  bucket = google_storage_bucket.archive.name
  role   = "roles/storage.objectViewer"
  member = local.stream_sa
}

resource "google_storage_bucket_iam_member" "rebuild_archive_read" {
  bucket = google_storage_bucket.archive.name
  role   = "roles/storage.objectViewer"
  member = local.rebuild_sa
}

resource "google_storage_bucket_iam_member" "stream_staging" {
  bucket = google_storage_bucket.staging.name
  role   = "roles/storage.objectAdmin" # Dataflow temp files: scratch, deleted by the job
  member = local.stream_sa
}

resource "google_storage_bucket_iam_member" "rebuild_staging" {
  bucket = google_storage_bucket.staging.name
  role   = "roles/storage.objectAdmin" # rebuild staging, removed after each run
  member = local.rebuild_sa
}

resource "google_bigquery_dataset_iam_member" "stream_dataset" {
  dataset_id = google_bigquery_dataset.weir.dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = local.stream_sa
}

resource "google_bigquery_dataset_iam_member" "rebuild_dataset" {
  dataset_id = google_bigquery_dataset.weir.dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = local.rebuild_sa
}

# --- The streaming job (Flex Template from templates/; see issue #6 and #3) ---------------

resource "google_dataflow_flex_template_job" "stream" {
  provider                = google-beta
  count                   = var.deploy_streaming_job ? 1 : 0
  name                    = "${var.name_prefix}-stream"
  region                  = var.region
  container_spec_gcs_path = var.template_gcs_path
  service_account_email   = google_service_account.stream.email
  temp_location           = "gs://${google_storage_bucket.staging.name}/tmp"
  ip_configuration        = "WORKER_IP_PRIVATE" # no public IPs: the subnetwork needs Private Google Access
  subnetwork              = var.subnetwork == "" ? null : var.subnetwork
  on_delete               = "drain"
  max_workers             = var.max_workers
  machine_type            = var.worker_machine_type
  parameters = {
    mode                = "stream"
    dataset             = var.dataset
    subscription        = google_pubsub_subscription.events.id
    archive             = "${google_storage_bucket.archive.url}/raw"
    sdk_container_image = var.template_image
  }
}

# --- Days that close themselves (weir daily run --once; docs/operations.md) ---------------
#
# daily: Cloud Scheduler runs the job every close_schedule; the job reads the sites' zones and
#        the log of closes from the dataset, and for each day that has ended (plus the
#        stream's lateness) launches its rebuild on Dataflow as the rebuild account, waits,
#        verifies it and records the close. It reads the archive's listing, writes the
#        dataset's day_closes and queries it; it cannot touch the archive's objects.

resource "google_project_iam_member" "daily_dataflow" {
  # checkov:skip=CKV_GCP_49:launching Dataflow jobs is this account's one task; it may act as the rebuild account alone (granted on that account below, not project-wide)
  project = var.project
  role    = "roles/dataflow.developer" # launch and watch the rebuild jobs
  member  = local.daily_sa
}

resource "google_project_iam_member" "daily_bigquery_jobs" {
  project = var.project
  role    = "roles/bigquery.jobUser" # verify's queries and the close's record
  member  = local.daily_sa
}

resource "google_bigquery_dataset_iam_member" "daily_dataset" {
  dataset_id = google_bigquery_dataset.weir.dataset_id
  role       = "roles/bigquery.dataEditor" # day_closes rows; the rebuild job itself commits the day
  member     = local.daily_sa
}

resource "google_storage_bucket_iam_member" "daily_archive_read" {
  bucket = google_storage_bucket.archive.name
  role   = "roles/storage.objectViewer" # which archive hours exist
  member = local.daily_sa
}

resource "google_storage_bucket_iam_member" "daily_staging" {
  bucket = google_storage_bucket.staging.name
  role   = "roles/storage.objectAdmin" # the rebuild's staging and the job's temp files
  member = local.daily_sa
}

resource "google_service_account_iam_member" "daily_runs_rebuilds_as_rebuild" {
  service_account_id = google_service_account.rebuild.name
  role               = "roles/iam.serviceAccountUser" # the rebuild jobs run as the rebuild account
  member             = local.daily_sa
}

resource "google_cloud_run_v2_job" "daily" {
  count    = var.deploy_daily_closes ? 1 : 0
  name     = "${var.name_prefix}-daily"
  location = var.region
  template {
    template {
      service_account = google_service_account.daily.email
      timeout         = "86400s"
      max_retries     = 0 # the next scheduled check retries a failed close (day_closes says failed)
      containers {
        image   = var.template_image
        command = ["weir"]
        args = [
          "daily", "run", "--once",
          "--project", var.project, "--dataset", var.dataset,
          "--archive", "${google_storage_bucket.archive.url}/raw",
          "--runner", "DataflowRunner", "--region", var.region,
          "--temp_location", "gs://${google_storage_bucket.staging.name}/tmp",
          "--staging", "gs://${google_storage_bucket.staging.name}/rebuild",
          "--service_account_email", google_service_account.rebuild.email,
          "--sdk_container_image", var.template_image,
        ]
      }
    }
  }
}

resource "google_service_account" "scheduler" {
  account_id   = local.names.scheduler
  display_name = "weir Cloud Scheduler (starts the daily closes job)"
}

resource "google_cloud_run_v2_job_iam_member" "scheduler_runs_daily" {
  count    = var.deploy_daily_closes ? 1 : 0
  name     = google_cloud_run_v2_job.daily[0].name
  location = var.region
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.scheduler.email}"
}

resource "google_cloud_scheduler_job" "daily" {
  count    = var.deploy_daily_closes ? 1 : 0
  name     = "${var.name_prefix}-daily"
  region   = var.region
  schedule = var.close_schedule
  http_target {
    http_method = "POST"
    uri         = "https://run.googleapis.com/v2/projects/${var.project}/locations/${var.region}/jobs/${google_cloud_run_v2_job.daily[0].name}:run"
    oauth_token {
      service_account_email = google_service_account.scheduler.email
    }
  }
}

# --- The collector: `weir collect` as a public Cloud Run service ------------------------------
# Publisher-only identity; the client address from Cloud Run's front end only (cloud-run
# preset); no spill file (Cloud Run's disk is memory and goes with the instance), so while
# Pub/Sub takes nothing it answers 503 and the trackers' queues send again
# (docs/operations.md). Readers' browsers call it, so anyone may invoke it.

locals {
  collector_args = concat(
    ["collect", "--project", var.project, "--host", "0.0.0.0", "--port", "8080", "--no-spill"],
    flatten([for proxy in var.collector_trusted_proxies : ["--trusted-proxy", proxy]]),
    flatten([for site in var.collector_sites : ["--site", site]]),
    flatten([for origin in var.collector_cors_origins : ["--cors-origin", origin]]),
  )
}

resource "google_cloud_run_v2_service" "collector" {
  count    = var.deploy_collector ? 1 : 0
  name     = local.names.collector
  location = var.region
  ingress  = "INGRESS_TRAFFIC_ALL" # tracker hits come from readers' browsers anywhere
  template {
    service_account                  = google_service_account.collector.email
    max_instance_request_concurrency = var.collector_concurrency
    timeout                          = "30s"
    scaling {
      min_instance_count = var.collector_min_instances # at least one warm: no cold start for a reader
      max_instance_count = var.collector_max_instances
    }
    containers {
      image = var.collector_image
      args  = local.collector_args
      ports {
        container_port = 8080
      }
      resources {
        limits = {
          cpu    = "1"
          memory = "512Mi"
        }
        cpu_idle = false # the relay publishes in a background thread, between requests too
      }
      startup_probe {
        http_get {
          path = "/healthz"
        }
      }
    }
  }
}

resource "google_cloud_run_v2_service_iam_member" "collector_public" {
  count    = var.deploy_collector ? 1 : 0
  name     = google_cloud_run_v2_service.collector[0].name
  location = var.region
  role     = "roles/run.invoker"
  member   = "allUsers" # the pixel and /events are public by nature: readers' browsers send them
}
